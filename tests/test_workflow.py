"""End to end through the Snakemake CLI on a few frames of the real bundled clip."""
from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from tiny import RATES, TINY, edit, planned, snakemake, stamps, workdir

# What every config change rebuilds: the tables and figures over all methods.
SUMMARY = {f"results/{name}" for name in (
    "summary.csv", "summary.md", "comparison.md", "psnr_vs_size.png", "rd.csv", "rd_curves.png", "categories.csv",
    "categories.md", "curves.csv", "curves.png", "hull.csv", "hull.md", "hull.png",
    "report/comparison.html", "report/benchmarks.html",
    "report/benchmarks.csv", "report/tiny_x4/psnr_per_frame.png",
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
    # the per-title ladders (stdo.hull): HR alone, with bicubic rungs, with SR rungs
    hull = pd.read_csv(root / "results" / "hull.csv")
    assert set(hull.hull) == {"hr", "bicubic", "sr"} and "lossless" not in set(hull.rate)
    assert "Per-title ladders" in (root / "results" / "hull.md").read_text()
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
    # the methods' training batch is not the general model's: training re-runs, the labels and chunks do not
    batch = planned(root, lambda c: c["train"].update(batch_size=3))
    assert "results/tiny/x4/m0/lossless/chunk0.pt" in batch
    assert not {p for p in batch if "general" in p or p.endswith(("patches.parquet", "chunks.parquet"))}


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
