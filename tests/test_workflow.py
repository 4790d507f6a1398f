"""End to end through the Snakemake CLI on a few frames of the real bundled clip."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
# What every config change rebuilds: the tables and figures over all methods.
SUMMARY = {f"results/{name}" for name in (
    "summary.csv", "summary.md", "comparison.md", "psnr_vs_size.png", "report/comparison.html",
    "report/benchmarks.html", "report/benchmarks.csv", "report/tiny_x4/psnr_per_frame.png",
    "report/tiny_x4/chunk_map.png", "report/tiny_x4/hardest_patch.png")}
TINY = {
    "scales": [4],
    "grids": {"x4": [4, 2]},
    "general": {"steps": 10, "batch_size": 4, "crop": 16},
    "train": {"batch_size": 4, "crop": 16},
    "threads": {"ingest": 1, "general": 1, "label": 1, "train": 1, "evaluate": 1},
    "methods": {"m0": {"split": "none", "k": 1, "arch": "espcn", "steps": 8},
                "stdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8},
                "cafm": {"split": "temporal", "k": 2, "arch": "espcn", "steps": 8, "mode": "cafm"},
                "jstdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8, "mode": "jstdo", "keep": [1.0, 0.0]}},
}


def workdir(root: Path, source, **changes) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    cfg = {**TINY, "videos": {"tiny": {"path": str(source)}}, **changes}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def snakemake(root: Path, *args):
    return subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "workflow" / "Snakefile"), "-d", str(root),
                           "--cores", "2", *args], capture_output=True, text=True, timeout=900)


def edit(root: Path, change) -> None:
    path = root / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def stamps(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for p in list(root.glob("results/**/*")) + list(root.glob("resources/**/*"))
            if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts}


@pytest.fixture(scope="module")
def done(frames_dir, tmp_path_factory):
    root = workdir(tmp_path_factory.mktemp("run"), frames_dir)
    run = snakemake(root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return root, run


def test_full_run_writes_the_summary_table(done):
    root, run = done
    table = pd.read_csv(root / "results" / "summary.csv")
    assert table.method.tolist() == ["bicubic", "general", "m0", "stdo", "cafm", "jstdo"]
    assert table.psnr_stdo_patch.between(15, 60).all() and table.ssim.between(0, 1).all()
    rows = table.set_index("method")
    assert rows.loc["stdo", "k"] == 2 and rows.loc["stdo", "total_params"] == 2 * 71_056
    assert rows.loc["stdo", "map_bits"] == 48 and rows.loc["stdo", "map_bytes_zlib"] > 0
    assert rows.loc["cafm", "total_params"] == 71_056 + 2 * 323 and rows.loc["cafm", "map_bits"] == 0
    assert rows.loc["jstdo", "total_params"] == 71_056 and rows.loc["jstdo", "models"] == 1
    assert "| method | tiny x4 |" in run.stdout + run.stderr  # the comparison table is printed
    assert (root / "results" / "comparison.md").exists() and (root / "results" / "psnr_vs_size.png").stat().st_size
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
    pd.testing.assert_frame_equal(a, b)


def test_config_changes_rerun_only_what_depends_on_them(done):
    root, _ = done
    before = stamps(root)
    edit(root, lambda c: c["methods"]["stdo"].update(k=3))
    assert snakemake(root).returncode == 0
    after = stamps(root)
    changed = {p for p in before if before[p] != after.get(p)}
    stdo = "results/tiny/x4/stdo"
    assert {f"{stdo}/chunks.parquet", f"{stdo}/chunk0.pt", f"{stdo}/metrics.json"} <= changed
    assert f"{stdo}/chunk2.pt" in after
    assert {p for p in changed if not p.startswith(stdo)} <= SUMMARY  # no ingest, general, label, other method

    before = after
    edit(root, lambda c: c["methods"]["m0"].update(steps=9))
    assert snakemake(root).returncode == 0
    after = stamps(root)
    changed = {p for p in before if before[p] != after[p]}
    assert "results/tiny/x4/m0/chunk0.pt" in changed
    assert {p for p in changed if not p.startswith("results/tiny/x4/m0/")} <= SUMMARY

    before = after
    edit(root, lambda c: c["methods"].update(nas={"split": "temporal", "k": 2, "arch": "espcn", "steps": 8}))
    assert snakemake(root).returncode == 0
    after = stamps(root)
    changed = {p for p in before if before[p] != after[p]}
    assert changed <= SUMMARY  # adding a method runs only that method's jobs
    assert {"results/tiny/x4/nas/chunk0.pt", "results/tiny/x4/nas/chunk1.pt", "results/tiny/x4/nas/metrics.json"} <= set(after)


def test_a_bad_config_value_stops_at_start_up_naming_it(frames_dir, tmp_path):
    root = workdir(tmp_path, frames_dir)
    edit(root, lambda c: c["methods"]["stdo"].update(k=0))
    run = snakemake(root, "-n")
    assert run.returncode != 0 and "config: methods.stdo.k: 0 is less than the minimum of 1" in run.stderr
    assert not (root / "results").exists()


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
