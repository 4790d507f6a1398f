"""End to end through the Snakemake CLI on runs of their own (the finished tiny run is in test_workflow.py):
start-up checks and dry-run plans, deployment as a module, a sweep, bad sources."""
from __future__ import annotations

import json
import re
import shlex
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO
from tiny import SNAKEMAKE, TINY, edit, planned, snakemake, workdir

from stdo import vocabulary


def test_a_sweep_runs_its_cells_and_finds_the_crossover_and_a_new_rung_runs_only_its_jobs(frames_dir, tmp_path):
    sweep = {"steps": [4, 8], "archs": {"espcn": {"arch": "espcn"}},
             "methods": {"m0": {"split": "none", "k": 1}, "stdo_k2": {"split": "stdo", "k": 2},
                         "ft": {"split": "stdo", "k": 2, "after": "m0"}}}
    root = workdir(tmp_path, frames_dir, methods=None, sweep=sweep, codec="none")
    run = snakemake(root)
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(root / "results" / "crossover.csv")
    assert sorted(table.method) == sorted(["m0-espcn-2", "m0-espcn-4", "m0-espcn-8", "stdo_k2-espcn-4",
                                           "stdo_k2-espcn-8", "ft-espcn-4", "ft-espcn-8"])
    ft = table.set_index("method").loc["ft-espcn-8"]
    assert (ft.total_steps, ft.steps, ft.init) == (8, 4, "m0-espcn-4")
    assert table.psnr_stdo_patch.between(15, 60).all()
    report = (root / "results" / "crossover.md").read_text()
    assert "## Crossover points against m0" in report and "stdo_k2" in report
    rung = planned(root, lambda c: c["sweep"].update(steps=[4, 8, 16]))
    # only the new rung's jobs (ft-espcn-16 starts from m0-espcn-8, which is there) and the tables
    assert not {p for p in rung if "/x4/" in p and "-16/" not in p}
    assert {"results/tiny/x4/stdo_k2-espcn-16/lossless/chunk1.pt", "results/tiny/x4/ft-espcn-16/lossless/chunk0.pt",
            "results/crossover.csv"} <= rung


def test_a_bad_config_value_stops_at_start_up_naming_it(frames_dir, tmp_path):
    root = workdir(tmp_path, frames_dir)
    edit(root, lambda c: c["methods"]["stdo"].update(k=0))
    run = snakemake(root, "-n")
    assert run.returncode != 0 and "config: methods.stdo.k: 0 is less than the minimum of 1" in run.stderr
    assert not (root / "results").exists()


def test_command_line_numbers_and_lists_are_read_as_the_schema_wants(frames_dir, tmp_path):
    root = workdir(tmp_path, frames_dir)
    run = snakemake(root, "-n", "--config", "scales=[2,4]", "grids={x2: [4, 2], x4: [4, 2]}", "eval_every=3",
                    "keep_frames=false")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "lr_x2.npy" in run.stdout and "Would remove temporary output results/tiny/frames/hr.npy" in run.stdout
    run = snakemake(root, "-n", "--config", "eval_every=three")
    assert run.returncode != 0 and "config: eval_every: 'three' is not of type 'integer'" in run.stderr


def test_the_package_jobs_get_the_model_storage_only_where_it_is_not_the_default(frames_dir, tmp_path):
    """At the defaults the package jobs' params hold the playback only, as before package.weights and .compression
    existed, so a finished run rebuilds no package for their sake. (The playback is the new default's, torch: a
    run finished before that default re-evaluates its packages, as an experiment config that pins onnx does not.)"""
    root = workdir(tmp_path, frames_dir)
    default = [line for line in snakemake(root, "-n", "-p").stdout.splitlines() if "stdo package" in line]
    assert default and all('"playback": {"batch": 16, "pad": 0, "precision": "auto", "runtime": "torch"}, "scale": 4}'
                           in line for line in default)
    int8 = snakemake(root, "-n", "-p", "--config", "package={weights: int8, compression: zlib}").stdout
    commands = [line for line in int8.splitlines() if "stdo package" in line]
    assert len(commands) == len(default) and all('"compression": "zlib"' in line and '"weights": "int8"' in line
                                                  for line in commands)


def test_a_resident_base_is_written_once_per_scale_and_handed_to_the_jobs_that_play_packages(frames_dir, tmp_path):
    root = workdir(tmp_path, frames_dir)
    default = snakemake(root, "-n", "-p").stdout
    assert "stdo base" not in default and '"base_dir"' not in default and '"base_path"' not in default
    plan = snakemake(root, "-n", "-p", "--config", "package={base: resident, ship: delta}").stdout

    def commands(stage):
        return [line for line in plan.splitlines() if f"stdo {stage} " in line]

    assert len(commands("base")) == 1
    assert re.search(r"--out results/bases/x4-[0-9a-f]{10}.json --params '\{\"compression\": \"none\", "
                     r"\"weights\": \"fp16\"\}'", commands("base")[0])
    entry = re.search(r"results/bases/x4-[0-9a-f]{10}.json", commands("base")[0]).group()
    assert len(commands("package")) == len(commands("evaluate")) == 18
    assert all(f'"base_path": "{entry}"' in line and '"ship": "delta"' in line for line in commands("package"))
    assert all('"base_dir": "results/bases"' in line for line in commands("evaluate") + commands("side-by-side"))
    # the models shipped as deltas train from the base as the client decodes it; by default, as before
    trained = commands("train") + commands("train-joint")
    assert len(trained) == 5 and all('"init_weights": "fp16"' in line for line in trained)
    assert "init_weights" not in default


def test_keys_added_later_reach_the_jobs_only_off_their_old_default(frames_dir, tmp_path):
    """label_by and vmaf_subsample at their defaults leave the jobs' params and commands as before they existed
    (finished runs re-run nothing); set otherwise, they reach label, select, encode-hr and evaluate."""
    root = workdir(tmp_path, frames_dir)

    def commands(plan, stage):
        return [line for line in plan.splitlines() if f"stdo {stage} " in line]

    default = snakemake(root, "-n", "-p", "--config", "select=true").stdout
    assert commands(default, "label") and not any('"by"' in line for line in commands(default, "label"))
    assert not any("vmaf_subsample" in line for line in commands(default, "evaluate") + commands(default, "encode-hr"))
    assert commands(default, "select") and not any("general_path" in line for line in commands(default, "select"))
    plan = snakemake(root, "-n", "-p", "--config", "select=true", "label_by=features", "vmaf_subsample=4").stdout
    assert all('"by": "features"' in line for line in commands(plan, "label"))
    assert all('"vmaf_subsample": 4' in line for line in commands(plan, "evaluate") + commands(plan, "encode-hr"))
    assert commands(plan, "select") and all('"general_path": "resources/general/x4-' in line
                                            for line in commands(plan, "select"))


def test_the_workflow_deploys_as_a_module_with_the_same_plan(frames_dir, tmp_path):
    """A user's own Snakefile that imports ours as a module (as snakedeploy writes it) plans the same jobs."""
    root = workdir(tmp_path, frames_dir)
    (root / "workflow").mkdir()
    (root / "workflow" / "Snakefile").write_text(
        f'configfile: "config/config.yaml"\n\n\nmodule stdo:\n    snakefile:\n'
        f'        "{REPO / "workflow" / "Snakefile"}"\n    config:\n        config\n\n\nuse rule * from stdo\n')

    def plan(*args):
        run = subprocess.run([str(SNAKEMAKE), *args, "-d", str(root), "-n", "--cores", "2"], capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        return re.search(r"Job stats:.*?total +\d+", run.stdout, re.S).group()

    assert plan("-s", str(root / "workflow" / "Snakefile")) == plan("-s", str(REPO / "workflow" / "Snakefile"))


def test_a_missing_video_is_named_before_anything_runs(tmp_path):
    root = workdir(tmp_path, tmp_path / "no_such_video.mp4")
    run = snakemake(root)
    assert run.returncode != 0 and "no_such_video.mp4" in run.stderr
    assert not (root / "results" / "tiny").exists()


def test_a_file_that_is_not_a_video_fails_ingest_and_leaves_nothing(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 4096)
    root = workdir(tmp_path / "w", fake)
    run = snakemake(root)
    assert run.returncode != 0
    assert f"stdo ingest: error: {fake}: not a video OpenCV can decode" in run.stdout + run.stderr
    frames = root / "results" / "tiny" / "frames"
    assert not frames.exists() or not any(frames.iterdir())


def test_the_papers_protocol_runs_end_to_end_with_their_backbones_at_a_tiny_size(frames_dir, tmp_path):
    """config/experiments/paper.yaml (WDSR-A and EDSR-baseline at their papers' sizes, every method of both papers)
    merged over a config as a user would, cut to the tiny clip and a few steps: every method is trained,
    packaged, played and scored, and the client plays a WDSR package to the frames that were scored."""
    root = workdir(tmp_path, frames_dir)
    paper = yaml.safe_load((REPO / "config" / "experiments" / "paper.yaml").read_text())
    cut = {"videos": {"clip": None}, "scales": [4], "grids": {"x4": [4, 2]}, "device": "cpu", "batch_size": 16,
           "threads": dict.fromkeys(paper["threads"], 1), "general": {"steps": 4, "batch_size": 4, "crop": 16},
           "train": {"batch_size": 4, "crop": 16, "curve_points": 2},
           "methods": {name: {"steps": 4} for name in paper["methods"]}}
    (root / "tiny_cut.yaml").write_text(yaml.safe_dump(cut))
    run = snakemake(root, "--configfile", str(REPO / "config" / "experiments" / "paper.yaml"),
                    str(root / "tiny_cut.yaml"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(root / "results" / "summary.csv").set_index("method")
    assert set(paper["methods"]) | {"bicubic", "general"} <= set(table.index)
    assert table.loc["stdo", "arch"] == "wdsr" and table.loc["stdo_edsr", "arch"] == "edsr"
    assert table["psnr_stdo_patch"].between(5, 60).all() and table["rd_psnr_y"].between(5, 60).all()
    package = root / "results" / "tiny" / "x4" / "stdo" / "lossless" / "package"
    played = subprocess.run([str(SNAKEMAKE.with_name("stdo")), "play", str(package), "-o", str(tmp_path / "sr.mkv"),
                             "--lossless", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert played.returncode == 0, played.stderr
    assert f"frames sha256 {table.loc['stdo', 'sr_sha256']}" in played.stdout


def test_every_command_the_workflow_plans_parses_with_its_stage_s_own_parser(frames_dir, tmp_path):
    """The rules spell their `stdo <stage>` lines; each stage's parser is read off its function's signature
    (stdo.cli), so a rule that passes an argument the function does not take, or leaves out one it needs,
    fails here rather than in the job. (The shell lines are checked, not generated: a generated line would
    change every rule's code, and Snakemake's code trigger would re-run every finished results folder.)"""
    from stdo.cli import parser

    root = workdir(tmp_path, frames_dir)
    edit(root, lambda c: c["methods"].update(nas={"split": "temporal", "k": 2, "arch": "espcn", "steps": 8}))
    plan = snakemake(root, "-n", "-p", "--config", "select=true", "package={base: resident, ship: delta}",
                     "codec={encoder: libx264, preset: ultrafast, crf: [30, 40], hr_crf: [30, 45], segment_seconds: 2}")
    assert plan.returncode == 0, plan.stderr[-2000:]
    lines = [line.removeprefix("Shell command: ").strip() for line in plan.stdout.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("stdo ")]
    for argv in commands:
        parser(argv[1]).parse_args(argv[1:])  # argparse exits naming the argument it does not know or misses
    assert {argv[1] for argv in commands} >= {"ingest", "encode-lr", "encode-hr", "general", "label", "cluster",
                                               "train", "train-joint", "select", "base", "package", "evaluate",
                                               "report", "side-by-side", "hull", "segment"}


@pytest.mark.parametrize("encoder", sorted(vocabulary.ENCODERS))
def test_switching_the_encoder_alone_runs_the_codec_stages(encoder, frames_dir, tmp_path):
    """`codec: {encoder: X}` and nothing else: X's own preset and ladders, through encode, train, package and
    evaluate at its first LR rate point and the HR baseline at its first, on the tiny clip."""
    own = vocabulary.ENCODERS[encoder]
    lr, hr = (vocabulary.rate_name(crf=ladder["crf" if "crf" in ladder else "hr_crf"][0])
              for ladder in (own.lr_ladder, own.hr_ladder))
    root = workdir(tmp_path, frames_dir, codec={"encoder": encoder}, methods={"m0": TINY["methods"]["m0"]})
    targets = [f"results/tiny/x4/m0/{lr}/metrics.json", f"results/tiny/hr/{hr}/metrics.json"]
    run = snakemake(root, *targets)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    package = json.loads((root / f"results/tiny/x4/m0/{lr}/package/manifest.json").read_text())
    anchor = json.loads((root / targets[1]).read_text())
    assert package["stream"]["encoder"] == anchor["encoder"] == encoder
    assert package["stream"]["preset"] == anchor["codec"]["preset"] == own.preset(None)
