"""Time and memory against clip length: 15-, 30- and 45-second 1080p clips at x4, stage by stage.

Each clip is made from the bundled clip (upscaled to 1920x1080, looped: `clips.py`) and encoded
with libx264 (crf 18, veryfast) like a source video. Then the stages run as the workflow runs them,
each its own process (`python -m stdo <stage>`): ingest, the lossless LR stream, label, the m0
split, one training job (m0, `--steps`), its package, and evaluate (the package played by the
client's code, every frame scored: PSNR, SSIM, VMAF and the papers' per-patch scores). Printed per
stage and clip: wall seconds, frames per second and peak anonymous memory (RssAnon of the process
and its children: heap and tensors, not the page cache of memory-mapped frames), so that linear
time and flat memory can be read off one table. One clip's files at a time are kept on disk.

    python benchmarks/scale.py [--seconds 15 30 45] [--steps 300] [--threads 2] [--label-precision fp32]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from clips import FPS, encode_hd_clip, pipeline_general
from memory import run_measured

from stdo.infer import machine_line

SCALE, GRID = 4, [10, 5]


def stage(name: str, *args, params: dict | None = None, threads: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "stdo", name, *map(str, args)]
    if params is not None:
        cmd += ["--params", json.dumps(params)]
    return cmd + (["--threads", str(threads)] if threads else [])


def commands(clip: Path, d: Path, general: Path, args) -> dict[str, list[str]]:
    f, m0 = d / "frames", d / "m0"
    lr, hr, patches = f / f"lr_x{SCALE}.npy", f / "hr.npy", d / "patches.parquet"
    train = {"arch": "espcn", "batch_size": 32, "crop": 32, "lr": 0.001, "init": "general", "steps": args.steps,
             "scale": SCALE, "precision": "auto", "device": "cpu", "seed": 0}
    info = {"video": clip.stem, "method": "m0", "rate": "lossless", "split": "none", "mode": "per_chunk",
            "steps": args.steps, "init": "general", "budget": "total", "train_rate": "lossless"}
    return {
        "ingest": stage("ingest", "--source", clip, "--out-dir", f,
                        params={"scales": [SCALE], "grids": {str(SCALE): GRID}}, threads=args.threads),
        "encode LR (lossless)": stage("encode-lr", "--lr-path", lr, "--meta-path", f / "meta.json", "--out-stream",
                                      d / "lr.mkv", "--out-json", d / "codec.json",
                                      params={"encoder": None, "preset": None, "rate": "lossless", "fps": FPS},
                                      threads=args.threads),
        "label": stage("label", "--lr-path", lr, "--hr-path", hr, "--general-path", general, "--out", patches,
                       params={"scale": SCALE, "grid": GRID, "eval_every": 10, "device": "cpu", "batch_size": 64,
                               "precision": args.label_precision}, threads=args.threads),
        "cluster": stage("cluster", "--patches-path", patches, "--out-parquet", m0 / "chunks.parquet",
                         "--out-json", m0 / "chunks.json", params={"split": "none", "k": 1}),
        f"train m0 ({args.steps} steps)": stage(
            "train", "--lr-path", lr, "--hr-path", hr, "--patches-path", patches, "--chunks-path",
            m0 / "chunks.parquet", "--chunk", 0, "--init-path", general, "--out", m0 / "chunk0.pt",
            params=train, threads=args.threads),
        "package": stage("package", "--stream-path", d / "lr.mkv", "--codec-path", d / "codec.json",
                         "--meta-path", f / "meta.json", "--patches-path", patches, "--out-dir", m0 / "package",
                         "--model-paths", m0 / "chunk0.pt", "--chunks-path", m0 / "chunks.parquet",
                         params={"scale": SCALE, "info": info}),
        "evaluate": stage("evaluate", "--package-path", m0 / "package", "--hr-path", hr, "--patches-path", patches,
                          "--chunks-path", m0 / "chunks.parquet", "--model-meta-paths", m0 / "chunk0.json",
                          "--out", m0 / "metrics.json", params={"device": "cpu", "info": info},
                          threads=args.threads),
    }


def general_model(folder: Path, threads: int) -> Path:
    """The pipeline's x4 general model if it is there, else one trained as the default config does."""
    built = pipeline_general(SCALE)
    if built:
        return built
    out = folder / "general.pt"
    run_measured(stage("general", "--out", out, threads=threads,
                       params={"scale": SCALE, "spec": {"arch": "espcn", "steps": 600, "batch_size": 32, "crop": 32,
                                                        "lr": 0.001}, "precision": "auto", "device": "cpu"}))
    return out


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
        general = general_model(tmp, args.threads)
        for seconds in args.seconds:
            d = tmp / f"{seconds}s"
            d.mkdir()
            frames = seconds * FPS
            clip = encode_hd_clip(d / f"hd{seconds}s.mp4", seconds, args.threads, preset="veryfast")
            for name, cmd in commands(clip, d, general, args).items():
                code, wall, peak = run_measured(cmd, stdout=sys.stderr)
                if code:
                    sys.exit(f"{name} on the {seconds} s clip failed (exit {code}): {' '.join(cmd)}")
                rows.append((name, seconds, wall, frames / wall, peak))
                print(f"{seconds} s, {name}: {wall:.1f} s, {peak:.0f} MB", file=sys.stderr)
            disks[seconds] = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            shutil.rmtree(d)
    print(f"\n1920x1080 at x{SCALE}, grid {GRID[0]}x{GRID[1]}, {args.threads} threads, label {args.label_precision}")
    print("| stage | clip (s) | frames | seconds | frames/s | peak anonymous memory (MB) |")
    print("|---|---|---|---|---|---|")
    order = list(dict.fromkeys(r[0] for r in rows))
    for name, seconds, wall, fps, peak in sorted(rows, key=lambda r: (order.index(r[0]), r[1])):
        print(f"| {name} | {seconds} | {seconds * FPS} | {wall:.1f} | {fps:.2f} | {peak:.0f} |")
    print("disk, every file of a clip (source, frame arrays, streams, tables, models, package): "
          + ", ".join(f"{s} s: {b / 1e9:.2f} GB" for s, b in disks.items()))

if __name__ == "__main__":
    main()
