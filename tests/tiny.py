"""The tiny workflow the end-to-end tests run (`.test/config/config.yaml`): six frames of the real clip, a 4x2
grid, a few steps per method, the codec at two rate points; and helpers to run Snakemake on it and see what changed."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
# the catalog's test configuration, less its video (each test gives its own cut of the clip)
TINY = {k: v for k, v in yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text()).items()
        if k != "videos"}
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
