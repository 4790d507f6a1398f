"""A whole dataset folder in one run: `videos_from` expands to one video per clip, with its category, and the
aggregate pools the clips of each category."""
from __future__ import annotations

import copy
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import make_vsd4k
from test_config import load
from tiny import edit, snakemake, stamps, workdir

from stdo import config as stdo_config
from stdo.errors import InputError
from stdo.report.summary import CATEGORY_COLUMNS, pool_categories, summarize

METHODS = {"m0": {"split": "none", "k": 1, "arch": "espcn", "steps": 8}}


def touch(path, data=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def vsd4k_stub(clip):
    """What config expansion looks at (no pixels): a VSD4K clip folder."""
    touch(clip / "DIV2K_train_HR" / "00001.png")
    touch(clip / "DIV2K_train_LR_bicubic" / "X4" / "00001x4.png")


def dataset(root):
    """VSD4K-style: clips in category subfolders, as VSD4K clip folders, a frames folder and video files,
    plus what a real folder also holds (notes, hidden files, an empty folder)."""
    vsd4k_stub(root / "game" / "game_15s_10")
    vsd4k_stub(root / "game" / "game_15s_2")
    touch(root / "vlog" / "vlog 15s (1).mp4")
    touch(root / "vlog" / "frames_a" / "0001.jpg")
    touch(root / "vlog" / "notes.txt")
    touch(root / "loose.avi")
    touch(root / "README.md")
    touch(root / ".DS_Store")
    touch(root / ".hidden" / "x.mp4")
    (root / "empty").mkdir()
    return root


def config(folder, videos=None, **spec):
    return {"videos": videos or {}, "videos_from": {"folder": str(folder), **spec},
            "methods": copy.deepcopy(METHODS), "train": {"curve_points": 2}}


def test_every_clip_becomes_a_video_named_by_its_path_with_its_category(tmp_path):
    root = dataset(tmp_path / "VSD4K")
    cfg = load({**config(root, max_frames=450, fps=30), "videos": None})
    assert list(cfg["videos"]) == ["game-game_15s_2", "game-game_15s_10", "loose", "vlog-frames_a",
                                   "vlog-vlog_15s_1"]  # natural order of the paths: 2 before 10
    assert {n: v["category"] for n, v in cfg["videos"].items()} == {
        "game-game_15s_2": "game", "game-game_15s_10": "game", "loose": "VSD4K", "vlog-frames_a": "vlog",
        "vlog-vlog_15s_1": "vlog"}
    assert cfg["videos"]["vlog-vlog_15s_1"] == {"path": str(root / "vlog" / "vlog 15s (1).mp4"), "max_frames": 450,
                                                "allow_truncated": False, "fps": 30, "category": "vlog",
                                                "found_in": str(root)}
    assert all(stdo_config.NAME_PATTERN.match(name) for name in cfg["videos"])
    assert load(cfg) == cfg  # loading a loaded config finds the same clips, no clash with itself


def test_explicit_videos_come_first_and_get_their_own_name_as_category(tmp_path, frames_dir):
    root = dataset(tmp_path / "d")
    videos = {"mine": {"path": str(frames_dir)}, "theirs": {"path": str(frames_dir), "category": "game"}}
    cfg = load(config(root, videos=videos, pattern="game/*", category="misc"))
    assert list(cfg["videos"]) == ["mine", "theirs", "game-game_15s_2", "game-game_15s_10"]
    assert [v["category"] for v in cfg["videos"].values()] == ["mine", "game", "game", "game"]


def test_category_from_the_name_prefix_or_a_fixed_one(tmp_path):
    root = tmp_path / "flat"  # STDO's own layout: vlog_15/, game_45/ side by side
    for clip in ("vlog_15", "game_45", "game_15", "intro"):
        vsd4k_stub(root / clip)
    by_prefix = load(config(root, category_from="prefix", category="other"))["videos"]
    assert {n: v["category"] for n, v in by_prefix.items()} == {"game_15": "game", "game_45": "game",
                                                                "intro": "other", "vlog_15": "vlog"}
    assert {v["category"] for v in load(config(root))["videos"].values()} == {"flat"}  # the folder's name
    assert {v["category"] for v in load(config(root, category="vsd"))["videos"].values()} == {"vsd"}


def test_a_pattern_that_also_matches_inside_clips_finds_each_clip_once(tmp_path):
    root = dataset(tmp_path / "d")
    everything = load(config(root, pattern="**/*"))["videos"]
    assert list(everything) == list(load(config(root))["videos"])


@pytest.mark.parametrize("make,spec,message", [
    (lambda r: None, {}, "config: videos_from: folder {root}: no such folder"),
    (lambda r: touch(r), {}, "config: videos_from: folder {root}: not a folder"),
    (dataset, {"pattern": "sports*"}, "pattern 'sports*': no clip (nothing matched; expected a video file"),
    (dataset, {"pattern": "*.md"}, "pattern '*.md': no clip (1 entries matched, none is or holds a video file"),
    (vsd4k_stub, {}, "the folder itself is one clip: give it under videos:"),
    (dataset, {"pattern": "../*"}, "config: videos_from.pattern: '../*' must be a glob relative to the folder"),
])
def test_bad_dataset_input_is_one_error_naming_it(tmp_path, make, spec, message):
    root = tmp_path / "d"
    make(root)
    with pytest.raises(InputError) as err:
        load(config(root, **spec))
    assert message.format(root=root) in str(err.value) and "\n" not in str(err.value)


def test_name_clashes_name_both(tmp_path):
    root = tmp_path / "d"
    touch(root / "a b.mp4")
    touch(root / "a_b.mp4")
    with pytest.raises(InputError, match=r"clip 'a_b.mp4' and clip 'a b.mp4' both get the video name 'a_b'"):
        load(config(root))
    (root / "a b.mp4").unlink()
    with pytest.raises(InputError, match=r"clip 'a_b.mp4' and videos.a_b both get the video name 'a_b'"):
        load(config(root, videos={"a_b": {"path": "elsewhere.mp4"}}))
    touch(root / "日本.mp4")
    with pytest.raises(InputError, match="no video name can be made of its path"):
        load(config(root))


def test_no_video_at_all_and_a_videos_from_without_folder_are_named():
    with pytest.raises(InputError, match="config: no video: give videos .* or videos_from"):
        load({"methods": copy.deepcopy(METHODS)})
    with pytest.raises(InputError, match="config: no video: give videos .* or videos_from"):
        load({"videos": None, "methods": copy.deepcopy(METHODS)})  # null: what a --configfile drops them with
    with pytest.raises(InputError, match="config: videos_from: 'folder' is a required property"):
        load({"videos_from": {"pattern": "*"}, "methods": copy.deepcopy(METHODS)})


def test_the_clips_jobs_do_not_wait_on_each_other(tmp_path):
    """In the plan, no job of one clip reads a file of another (only the tables read them all; the general
    model is shared): on Slurm every clip's jobs are submitted side by side."""
    data = tmp_path / "d"
    vsd4k_stub(data / "game" / "a")
    vsd4k_stub(data / "vlog" / "b")
    root = workdir(tmp_path / "run", None, videos={}, videos_from={"folder": str(data)}, codec="none",
                   methods={**METHODS, "stdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8}})
    run = snakemake(root, "-n")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = re.findall(r"^rule (\w+):\n((?:    .*\n)+)", run.stdout, re.M)
    clip_jobs = {"game-a": 0, "vlog-b": 0}
    for rule, body in jobs:
        video = re.search(r"^    wildcards: .*\bvideo=([^,\s]+)", body, re.M)
        inputs = re.search(r"^    input: (.*)$", body, re.M)
        if video is None:
            assert rule in ("general", "aggregate", "curves", "report_tables", "all"), rule
            continue
        clip_jobs[video[1]] += 1
        other = "vlog-b" if video[1] == "game-a" else "game-a"
        assert inputs is None or f"/{other}/" not in "/" + inputs[1].replace(", ", " /"), (rule, body)
    assert clip_jobs["game-a"] == clip_jobs["vlog-b"] > 10, clip_jobs


def test_categories_pool_clips_each_counting_once(tmp_path):
    rows = [{"video": v, "scale": 4, "method": "m0", "rate": "lossless", "frames": f, "psnr_frame_y": p,
             "psnr_stdo_patch": s, "kbps_package": k}
            for v, f, p, s, k in (("a", 10, 30.0, 31.0, 100.0), ("b", 30, 40.0, None, 300.0),
                                  ("c", 5, 20.0, 21.0, 50.0))]
    paths = [tmp_path / f"{i}.json" for i in range(len(rows))]
    for path, row in zip(paths, rows):
        path.write_text(json.dumps(row))
    table = summarize(paths, {"a": "game", "b": "game"})  # c: no category given -> its own name
    assert table.category.tolist() == ["game", "game", "c"]
    pooled = pool_categories(table).set_index("category")
    assert list(pooled.reset_index().columns) == CATEGORY_COLUMNS
    assert pooled.loc["game", "psnr_frame_y"] == 35.0  # clip-weighted: not (10 * 30 + 30 * 40) / 40 = 37.5
    assert pooled.loc["game", ["clips", "frames", "kbps_package"]].tolist() == [2, 40, 200.0]
    assert np.isnan(pooled.loc["game", "psnr_stdo_patch"])  # never the mean of a silent subset
    assert pooled.loc["c", "psnr_stdo_patch"] == 21.0 and pooled.loc["game", "videos"] == "a b"


def test_a_dataset_folder_runs_end_to_end_and_its_categories_are_pooled(bunny, video_file, tmp_path):
    """Two real clips in two category subfolders (a VSD4K clip folder, a video file): every clip its own jobs
    and rows; then categories by name prefix put both in one category, which re-runs the aggregate only."""
    data = tmp_path / "VSD4K"
    make_vsd4k(data / "game" / "clip_a", bunny)
    shutil.copy(video_file, touch(data / "vlog" / "clip_b.avi"))
    root = workdir(tmp_path / "run", None, videos={}, videos_from={"folder": str(data)}, codec="none",
                   methods=METHODS, keep_frames=False)
    target = ["results/summary.csv", "results/categories.csv"]  # the tables, not the report's figures
    run = snakemake(root, *target)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # keep_frames: false: the frame arrays are gone once read, the rest stays
    assert not list(root.glob("results/*/frames/*.npy")) and len(list(root.glob("results/*/frames/meta.json"))) == 2

    summary = pd.read_csv(root / "results" / "summary.csv")
    assert summary.groupby("video", sort=False).category.first().to_dict() == {"game-clip_a": "game",
                                                                              "vlog-clip_b": "vlog"}
    assert summary.groupby("video").method.apply(list).to_dict() == {v: ["bicubic", "general", "m0"]
                                                                   for v in ("game-clip_a", "vlog-clip_b")}
    assert summary.psnr_frame_y.between(15, 60).all() and (summary.frames == 6).all()
    pooled = pd.read_csv(root / "results" / "categories.csv")
    assert pooled.category.tolist() == ["game"] * 3 + ["vlog"] * 3 and (pooled.clips == 1).all()
    alone = pooled.merge(summary, on=["category", "scale", "method", "rate"], suffixes=("", "_clip"))
    assert len(alone) == 6 and np.allclose(alone.psnr_frame_y, alone.psnr_frame_y_clip, atol=1e-4)
    assert "clip-weighted" in (root / "results" / "categories.md").read_text()

    before = stamps(root)
    edit(root, lambda c: c["videos_from"].update(category_from="prefix"))  # clip_a, clip_b -> category "clip"
    run = snakemake(root, *target)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    after = stamps(root)
    assert {p for p in before if before[p] != after.get(p)} <= {f"results/{name}" for name in (
        "summary.csv", "summary.md", "comparison.md", "psnr_vs_size.png", "rd.csv", "rd_curves.png",
        "categories.csv", "categories.md")}  # no clip's job re-ran
    pooled = pd.read_csv(root / "results" / "categories.csv").set_index("method")
    assert (pooled.category == "clip").all() and (pooled.clips == 2).all() and (pooled.frames == 12).all()
    means = summary.groupby("method").psnr_frame_y.mean()
    assert np.allclose(pooled.psnr_frame_y, means[pooled.index], atol=1e-3)
    assert not np.allclose(*summary.groupby("video").psnr_frame_y.apply(list))  # two clips, two results

    # a frame overwritten inside a clip's folder (the folder's mtime does not change) re-runs that clip only
    hr_frame = data / "game" / "clip_a" / "DIV2K_train_HR" / "00002.png"
    shutil.copy(data / "game" / "clip_a" / "DIV2K_train_HR" / "00003.png", hr_frame)
    plan = snakemake(root, "-n", *target)
    assert "video=game-clip_a" in plan.stdout and "video=vlog-clip_b" not in plan.stdout, plan.stdout
    assert dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, re.M))["ingest"] == "1"

    # the trade-off of keep_frames: false (README): a change that needs the frames again rebuilds them, and
    # with them every job downstream, here the existing m0 as well as the new method
    edit(root, lambda c: c["methods"].update(m1={**c["methods"]["m0"], "steps": 3}))
    plan = snakemake(root, "-n", *target)
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, re.M))
    assert jobs["ingest"] == "2" and jobs["train"] == "4", plan.stdout
