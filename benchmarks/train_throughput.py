"""Training-loop throughput against the model alone, and its peak anonymous memory, on real frames.

Two clips: the bundled one (1280x720) and the same frames upscaled to 1920x1080 (bicubic), each
written as hr.npy / lr_x4.npy in a temporary folder and memory-mapped, as the pipeline reads them.
For each, prints samples/second of (a) the model's forward + backward + Adam step on one pre-built
batch (the ceiling) and (b) the real loop `stdo.fitting.fit` drawing random flipped crops from the
memory-mapped frames over all the clip's patches (m0), their ratio (same run, same threads,
interleaved), the peak RssAnon of this process during the loop, and what the former sampler held
in memory on top (all the patches, preloaded). The model alone runs in fp32 and in bf16 autocast,
and their ratio says whether bf16 pays on this CPU (what `precision: auto` decides without measuring);
the loop runs in `--precision` (auto: as the pipeline's jobs would here). The first line names the CPU.

    python benchmarks/train_throughput.py [--steps 60] [--threads 1] [--batch 32] [--crop 32] [--precision auto]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from clips import write_hd_arrays
from memory import PeakAnonMemory

from stdo import models
from stdo.fitting import CropSampler, fit
from stdo.infer import autocast, choose_precision, machine_line
from stdo.io import load_frames
from stdo.patches import Grid, patch_table

SCALE, GRID = 4, (10, 5)  # the default config's x4 grid
CLIPS = {"720p": (1280, 720), "1080p": (1920, 1080)}


def model_only(model, x, y, steps: int, precision: str) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(torch.device("cpu"), precision):
            out = model(x)
        loss = F.l1_loss(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def measure(folder: Path, args) -> dict:
    """Best samples/s of the model alone and of the loop, peak RssAnon (MB), patches and their bytes."""
    lr, hr = load_frames(folder / f"lr_x{SCALE}.npy"), load_frames(folder / "hr.npy")
    grid = Grid.fit(lr.shape[1], lr.shape[2], cols=GRID[0], rows=GRID[1], scale=SCALE)
    table = patch_table(len(lr), grid, eval_every=10)
    p, rates = choose_precision(args.precision, torch.device("cpu")), {}
    with PeakAnonMemory() as mem:
        sampler = CropSampler.of_patches(lr, hr, table, table["patch_id"], SCALE, args.crop, "cpu")
        x, y, _ = sampler.sample(args.batch)
        torch.manual_seed(0)
        model = models.build("espcn", SCALE)
        fit(model, sampler, 5, args.batch, 1e-3)  # warm-up (and leaves the zero-init tail)
        for _ in range(args.repeats):  # interleaved, best of N: robust to a busy machine
            for precision in ("fp32", "bf16"):
                seconds = model_only(model, x, y, args.steps, precision)
                rates.setdefault(f"model {precision}", []).append(args.batch * args.steps / seconds)
            result = fit(model, sampler, args.steps, args.batch, 1e-3, precision=p, log_every=args.steps)
            rates.setdefault(f"loop {p}", []).append(args.batch * args.steps / result["train_seconds"])
    preloaded = len(table) * np.prod(grid.patch_size()) * 3 * (1 + SCALE ** 2)
    return {**{k: max(v) for k, v in rates.items()}, "peak_mb": mem.peak_mb, "patches": len(table),
            "preloaded_mb": preloaded / 2 ** 20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--frames", type=int, default=132, help="frames of the clip (all 132 by default)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clips", nargs="+", choices=list(CLIPS), default=list(CLIPS))
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="autocast of the training loop (auto: as the pipeline's jobs decide on this CPU)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    p = choose_precision(args.precision, torch.device("cpu"))
    print(machine_line(args.precision))
    print(f"espcn x{SCALE}, batch {args.batch} of {args.crop}x{args.crop} LR crops, {args.threads} thread(s), "
          f"{args.frames} frames, all patches (grid {GRID[0]}x{GRID[1]}), best of {args.repeats} x {args.steps} steps")
    print(f"  clip   patches  model fp32  model bf16  bf16/fp32  loop {p:4s}  loop/model {p}"
          "  peak RssAnon  preloaded patches (former sampler)")
    for name in args.clips:
        with tempfile.TemporaryDirectory(prefix=f"stdo_{name}_") as tmp:
            write_hd_arrays(tmp, args.frames, scales=(SCALE,), size=CLIPS[name])
            r = measure(Path(tmp), args)
        print(f"  {name:5s}  {r['patches']:7d}  {r['model fp32']:8.1f}/s  {r['model bf16']:8.1f}/s  "
              f"{r['model bf16'] / r['model fp32']:8.2f}x  {r[f'loop {p}']:7.1f}/s  "
              f"{r[f'loop {p}'] / r[f'model {p}']:15.1%}  {r['peak_mb']:9.0f} MB  "
              f"{r['preloaded_mb']:14.0f} MB", flush=True)


if __name__ == "__main__":
    main()
