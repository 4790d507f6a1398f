"""Time and memory against clip length: 15-, 30- and 45-second 1080p clips at x4, stage by stage.

Each clip is made from the bundled clip (upscaled to 1920x1080, looped: `clips.py`) and encoded
with libx264 (crf 18, veryfast) like a source video. Then the workflow itself runs on it, one stage
at a time (`snakemake <a file that stage makes>`; the default config with the clip as its one video,
m0 as its one method at `--steps` steps, no codec but the lossless LR stream): ingest, the LR stream,
label, the m0 split, one training job, its package, and evaluate (the package played by the
client's code, every frame scored: PSNR, SSIM, VMAF and the papers' per-patch scores). Printed per
stage and clip: wall seconds (the rules' own benchmark files), frames per second and peak anonymous
memory (RssAnon of the jobs Snakemake starts, not of Snakemake: heap and tensors, not the page cache
of memory-mapped frames), so that linear time and flat memory can be read off one table. The
general model is the one in `resources/` (trained there first if missing). One clip's files at a
time are kept on disk.

    python benchmarks/scale.py [--seconds 15 30 45] [--steps 300] [--threads 2] [--label-precision fp32]
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from clips import FPS, encode_hd_clip
from memory import run_measured

from stdo.infer import machine_line

SCALE = 4
ROOT = Path(__file__).resolve().parents[1]


def stage_targets(video: str) -> dict[str, str]:
    """Each stage's row: a file of the results folder's layout that its job makes (the folder's README)."""
    lr, m0 = f"{video}/x{SCALE}/lr/lossless", f"{video}/x{SCALE}/m0/lossless"
    return {"ingest": f"{video}/frames/meta.json", "encode LR (lossless)": f"{lr}/stream.mkv",
            "label": f"{lr}/patches.parquet", "cluster": f"{m0}/chunks.parquet", "train m0": f"{m0}/chunk0.pt",
            "package": f"{m0}/package/manifest.json", "evaluate": f"{m0}/metrics.json"}


def clip_config(clip: Path, results: Path, args) -> dict:
    """The default config, narrowed to this clip, m0 and the lossless LR: the workflow builds every stage's
    parameters from it as it does in a real run."""
    threads = {stage: args.threads for stage in ("ingest", "general", "label", "train", "evaluate")}
    return {"results_dir": str(results), "resources_dir": str(ROOT / "resources"), "codec": "none",
            "videos": {clip.stem: {"path": str(clip)}}, "scales": [SCALE], "select": False, "threads": threads,
            "label_precision": args.label_precision, "device": "cpu", "keep_frames": True,
            "methods": {"m0": {"split": "none", "k": 1, "arch": "espcn", "steps": args.steps},
                        "cafm": None, "stdo": None, "jstdo": None}}


def snakemake(workdir: Path, config: Path, target: Path, threads: int) -> list[str]:
    return [sys.executable, "-m", "snakemake", str(target), "-s", str(ROOT / "workflow" / "Snakefile"),
            "--directory", str(workdir), "--configfile", str(ROOT / "config" / "config.yaml"), str(config),
            "--cores", str(threads), "--quiet", "rules"]


def job_seconds(tsvs: set[Path]) -> float:
    """Wall seconds of the jobs whose benchmark files these are (the workflow writes one per job)."""
    return sum(float(row["s"]) for tsv in tsvs for row in csv.DictReader(tsv.open(), delimiter="\t"))


def measure_clip(clip: Path, d: Path, args) -> list[tuple[str, float, float]]:
    """(stage, wall seconds, peak anonymous MB) of each stage on one clip, in the workflow's order. A general
    model missing from resources/ is trained within the label row's run, but not counted in it."""
    results, config = d / "results", d / "config.yaml"
    config.write_text(yaml.safe_dump(clip_config(clip, results, args)))
    rows, seen = [], set()
    for name, target in stage_targets(clip.stem).items():
        cmd = snakemake(d, config, results / target, args.threads)
        code, _, peak = run_measured(cmd, children_only=True, stdout=sys.stderr)
        if code:
            sys.exit(f"{name} on {clip.name} failed (exit {code}); its logs are under {results / 'logs'}")
        tsvs = {t for t in (results / "benchmarks").rglob("*.tsv") if t.parent.name != "general"} - seen
        rows.append((name, job_seconds(tsvs), peak))
        seen |= tsvs
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, nargs="+", default=[15, 30, 45])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--label-precision", choices=["auto", "fp32", "bf16"], default="auto")
    args = p.parse_args()
    print(machine_line("auto"), f"(training; labelling {args.label_precision})")
    rows, disks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for seconds in args.seconds:
            d = tmp / f"{seconds}s"
            d.mkdir()
            frames = seconds * FPS
            clip = encode_hd_clip(d / f"hd{seconds}s.mp4", seconds, args.threads, preset="veryfast")
            for name, wall, peak in measure_clip(clip, d, args):
                rows.append((name, seconds, wall, frames / wall, peak))
                print(f"{seconds} s, {name}: {wall:.1f} s, {peak:.0f} MB", file=sys.stderr)
            disks[seconds] = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            shutil.rmtree(d)
    print(f"\n1920x1080 at x{SCALE}, the default grid, {args.threads} threads, label {args.label_precision}, "
          f"m0 {args.steps} steps")
    print("| stage | clip (s) | frames | seconds | frames/s | peak anonymous memory (MB) |")
    print("|---|---|---|---|---|---|")
    order = list(dict.fromkeys(r[0] for r in rows))
    for name, seconds, wall, fps, peak in sorted(rows, key=lambda r: (order.index(r[0]), r[1])):
        print(f"| {name} | {seconds} | {seconds * FPS} | {wall:.1f} | {fps:.2f} | {peak:.0f} |")
    print("disk, every file of a clip (source, frame arrays, streams, tables, models, package): "
          + ", ".join(f"{s} s: {b / 1e9:.2f} GB" for s, b in disks.items()))

if __name__ == "__main__":
    main()
