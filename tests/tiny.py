"""The tiny workflow the end-to-end tests run: six frames of the real clip, a 4x2 grid, a few steps per
method, the codec at two rate points; and helpers to run Snakemake on it and see what changed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = {
    "scales": [4],
    "grids": {"x4": [4, 2]},
    "general": {"steps": 10, "batch_size": 4, "crop": 16},
    "train": {"batch_size": 4, "crop": 16},
    "threads": {"ingest": 1, "encode": 1, "general": 1, "label": 1, "train": 1, "evaluate": 1},
    "codec": {"encoder": "libx264", "preset": "ultrafast", "crf": [30, 40], "hr_crf": [30, 45]},
    "select": False,  # the tables of most tests count every trained model; select has its own test
    "methods": {"m0": {"split": "none", "k": 1, "arch": "espcn", "steps": 8},
                "stdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8},
                "cafm": {"split": "temporal", "k": 2, "arch": "espcn", "steps": 8, "mode": "cafm"},
                "jstdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8, "mode": "jstdo", "keep": [1.0, 0.0]}},
}
RATES = ["lossless", "crf30", "crf40"]


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
