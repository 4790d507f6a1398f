"""End to end through the Snakemake CLI on a few frames of the real bundled clip."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import REPO
from tiny import RATES, SNAKEMAKE, TINY, edit, snakemake, stamps, workdir

# What every config change rebuilds: the tables and figures over all methods.
SUMMARY = {f"results/{name}" for name in (
    "summary.csv", "summary.md", "comparison.md", "psnr_vs_size.png", "rd.csv", "rd_curves.png", "categories.csv",
    "categories.md", "report/comparison.html", "report/benchmarks.html", "report/benchmarks.csv",
    "report/tiny_x4/psnr_per_frame.png",
    "report/tiny_x4/chunk_map.png", "report/tiny_x4/hardest_patch.png", "report/tiny_x4/side_by_side.mp4",
    "report/tiny_x4/side_by_side.html")}


@pytest.fixture(scope="module")
def done(tiny_run):
    return tiny_run


def test_full_run_writes_the_summary_table(done):
    root, run = done
    table = pd.read_csv(root / "results" / "summary.csv")
    methods = ["bicubic", "general", "m0", "stdo", "cafm", "jstdo"]
    assert table.method.tolist() == [m for m in methods for _ in RATES] and table.rate.tolist() == RATES * 6
    assert table.vmaf.between(0, 100).all() and (table.vmaf_model == "vmaf_v0.6.1").all()
    assert table.rd_psnr_y.between(15, 60).all() and table.rd_ssim.between(0, 1).all()
    rows = table[table.rate == "lossless"].set_index("method")
    # the papers' conventions where the package carries the frames the models were trained on
    assert rows.psnr_stdo_patch.between(15, 60).all() and rows.ssim.between(0, 1).all()
    assert table[table.rate != "lossless"].psnr_stdo_patch.isna().all()
    assert rows.loc["stdo", "k"] == 2 and rows.loc["stdo", "total_params"] == 2 * 71_056
    assert rows.loc["stdo", "map_bits"] == 48 and rows.loc["stdo", "map_bytes"] > 0
    assert rows.loc["cafm", "total_params"] == 71_056 + 2 * 323 and rows.loc["cafm", "map_bits"] == 0
    assert rows.loc["jstdo", "total_params"] == 71_056 and rows.loc["jstdo", "models"] == 1
    assert rows.loc["bicubic", "models_and_map_bytes"] == 0
    # what the tables count is what the package folders hold
    package = root / "results" / "tiny" / "x4" / "stdo" / "crf30" / "package"
    stdo = table[(table.method == "stdo") & (table.rate == "crf30")].iloc[0]
    assert stdo.package_bytes == sum(p.stat().st_size for p in package.iterdir())
    assert re.search(r"\| method +\| +tiny x4 \|", run.stdout + run.stderr)  # the comparison table is printed
    assert "BD-rate against the codec alone" in run.stdout + run.stderr
    rd = pd.read_csv(root / "results" / "rd.csv")
    assert len(rd) == 6 * 3 + 2 and set(rd[rd.method == "hr_codec"].rate) == {"crf30", "crf45"}
    assert all((root / "results" / name).stat().st_size for name in ("rd_curves.png", "psnr_vs_size.png"))
    assert len(list((root / "results" / "logs").rglob("*.log"))) >= 9


def test_dry_run_after_a_full_run_has_nothing_to_do(done):
    root, _ = done
    run = snakemake(root, "-n")
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr


def test_a_rerun_from_scratch_gives_the_same_numbers(done, frames_dir, tmp_path):
    root, _ = done
    again = workdir(tmp_path, frames_dir)
    assert snakemake(again).returncode == 0
    a, b = (pd.read_csv(r / "results" / "summary.csv").drop(columns="train_seconds") for r in (root, again))
    pd.testing.assert_frame_equal(a, b)  # the SR frames too: sr_sha256 is a column


def test_config_changes_rerun_only_what_depends_on_them(done, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(done[0], root, symlinks=True)  # keeps the times and Snakemake's records
    assert "Nothing to be done" in snakemake(root, "-n").stdout
    edit(root, lambda c: c.update(batch_size=7))  # an execution setting: no result changes, nothing re-runs
    assert "Nothing to be done" in snakemake(root, "-n").stdout
    before = stamps(root)
    edit(root, lambda c: c["methods"]["stdo"].update(k=3))
    assert snakemake(root).returncode == 0
    after = stamps(root)
    changed = {p for p in before if before[p] != after.get(p)}
    stdo = "results/tiny/x4/stdo/"
    assert {f"{stdo}lossless/chunks.parquet", f"{stdo}lossless/chunk0.pt", f"{stdo}crf30/metrics.json",
            f"{stdo}crf40/package/manifest.json"} <= changed
    assert f"{stdo}lossless/chunk2.pt" in after
    assert {p for p in changed if not p.startswith(stdo)} <= SUMMARY  # no ingest, codec, label, other method

    # three more changes, each alone on the finished run: what its plan would write
    steps = planned(root, lambda c: c["methods"]["m0"].update(steps=9))
    assert "results/tiny/x4/m0/lossless/chunk0.pt" in steps
    assert {p for p in steps if not p.startswith("results/tiny/x4/m0/")} <= SUMMARY
    nas = planned(root, lambda c: c["methods"].update(nas={"split": "temporal", "k": 2, "arch": "espcn", "steps": 8}))
    assert {p for p in nas if not p.startswith("results/tiny/x4/nas/")} <= SUMMARY  # only that method's jobs
    assert {"results/tiny/x4/nas/lossless/chunk1.pt", "results/tiny/x4/nas/crf40/metrics.json"} <= nas
    rate = planned(root, lambda c: c["codec"].update(crf=[30, 40, 50]))
    assert {p for p in rate if "/crf50/" not in p} <= SUMMARY  # no training, no other rate
    assert {"results/tiny/x4/lr/crf50/stream.mp4", "results/tiny/x4/stdo/crf50/metrics.json"} <= rate


def planned(root, change) -> set[str]:
    """The files a run would write after `change` to the config (the config is put back)."""
    path = root / "config" / "config.yaml"
    original = path.read_text()
    edit(root, change)
    try:
        plan = snakemake(root, "-n")
    finally:
        path.write_text(original)
    assert plan.returncode == 0, plan.stderr[-2000:]
    return {name for line in re.findall(r"^\s+output: (.*)$", plan.stdout, re.M) for name in line.split(", ")}


def test_select_runs_only_its_jobs_and_the_packages_and_says_what_each_chunk_ships(done, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(done[0], root, symlinks=True)
    before = stamps(root)
    edit(root, lambda c: c.update(select=True))
    assert snakemake(root).returncode == 0
    after = stamps(root)
    changed = {p for p in before if before[p] != after.get(p)}  # a package may drop a model that lost
    trained = ("m0", "stdo", "cafm", "jstdo")
    assert {p for p in changed if not p.startswith(tuple(f"results/tiny/x4/{m}/" for m in trained))} <= SUMMARY
    assert not {p for p in changed if p.endswith((".pt", "chunks.parquet"))}  # no training, no clustering
    table = pd.read_csv(root / "results" / "summary.csv").set_index(["method", "rate"])
    for method in trained:
        selection = json.loads((root / f"results/tiny/x4/{method}/lossless/selection.json").read_text())
        assert table.loc[(method, "crf30"), "fallbacks"] == selection["fallbacks"]
        manifest = json.loads((root / f"results/tiny/x4/{method}/crf30/package/manifest.json").read_text())
        assert manifest["routing"]["ships"] == [c["ships"] for c in selection["chunks"]]
    assert table.loc[("bicubic", "crf30"), "fallbacks"] != table.loc[("bicubic", "crf30"), "fallbacks"]  # NaN


def test_the_general_model_is_shared_by_results_folders_and_never_rewritten(done, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(done[0], root, symlinks=True)
    [model] = (root / "resources" / "general").glob("x4-*.pt")
    made = model.stat().st_mtime_ns
    edit(root, lambda c: c.update(results_dir="results_b"))
    plan = snakemake(root, "-n")
    assert plan.returncode == 0 and "rule ingest" in plan.stdout and "rule general" not in plan.stdout
    edit(root, lambda c: c.update(general={**c["general"], "steps": 11}))  # another recipe: another file
    assert snakemake(root, "--until", "general").returncode == 0
    assert len(list(model.parent.glob("x4-*.pt"))) == 2 and model.stat().st_mtime_ns == made
    edit(root, lambda c: c.update(general=TINY["general"], results_dir="results"))
    assert "Nothing to be done" in snakemake(root, "-n").stdout  # the first folder is still up to date


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
    """At the defaults the package jobs' params are as before package.weights and .compression existed,
    so a finished run rebuilds no package."""
    root = workdir(tmp_path, frames_dir)
    default = [line for line in snakemake(root, "-n", "-p").stdout.splitlines() if "stdo package" in line]
    assert default and all('"playback": {"batch": 16, "pad": 0, "precision": "fp32", "runtime": "onnx"}, "scale": 4}'
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
