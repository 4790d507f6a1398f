"""The label stage against the model alone, on the same 1080p patches at x4, fp32 and bf16.

Model alone: the general model's forward passes over every LR patch of the frames, the patches
already in memory as one float tensor in the layout the model runs in. Label: `stdo.label.label`
on the memory-mapped frames, everything included (cutting patches, the general model and bicubic,
the per-patch MSE, the two content features, the parquet). Both in the same run, same threads.
Also printed: what bf16 changes in the labels (patch PSNR, chunks of the STDO split), and the cheaper
labellers (`label_by` bicubic and features: no general model) timed the same way, with the share of
patches they put in another chunk of the STDO split (k = 4) than the general model's fp32 labels.

    python benchmarks/label_speed.py [--frames 48] [--threads 2] [--batch 64] [--general resources/general/x4-<hash>.pt]

Without --general, a general model is trained for 100 steps first (enough for timing; the bf16
differences of the labels are smaller with the pipeline's 600-step model).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from clips import write_hd_arrays

from stdo import models
from stdo.cluster import assign
from stdo.general import make_general
from stdo.infer import autocast, for_inference, machine_line, setup
from stdo.io import load_frames
from stdo.label import label
from stdo.patches import Grid, cut

SCALE, GRID = 4, (10, 5)


@torch.inference_mode()
def model_only(model, lr: np.ndarray, batch: int, precision: str) -> float:
    """Seconds for the model's forward passes over (N, h, w, 3) uint8 patches, already a tensor."""
    x = torch.from_numpy(lr).permute(0, 3, 1, 2).float().div(255.0)
    model = for_inference(model, torch.device("cpu"))
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        with autocast(torch.device("cpu"), precision):
            model(x[i:i + batch])
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--general", type=Path,
                   help="an x4 general model (the pipeline's: resources/general/x4-<recipe hash>.pt)")
    args = p.parse_args()
    print(machine_line("auto"))
    setup("cpu", args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_hd_arrays(tmp, args.frames, scales=(SCALE,))
        general_path = args.general or tmp / "general.pt"
        if not args.general:
            make_general(general_path, scale=SCALE, spec={"arch": "espcn", "steps": 100}, device="cpu",
                         threads=args.threads)
        general, _ = models.load_checkpoint(general_path)
        lr = load_frames(paths[f"lr_x{SCALE}"])
        g = Grid.fit(lr.shape[1], lr.shape[2], cols=GRID[0], rows=GRID[1], scale=SCALE)
        patches = cut(np.asarray(lr), g)
        print(f"{args.frames} frames of 1920x1080 at x{SCALE}, grid {GRID[0]}x{GRID[1]} ({len(patches)} LR patches "
              f"of {g.patch_w}x{g.patch_h} px), espcn, {args.threads} threads, batch {args.batch}")
        print("| precision | model alone (frames/s) | label stage (frames/s) | label / model |")
        print("|---|---|---|---|")
        tables = {}
        for precision in ("fp32", "bf16"):
            model_only(general, patches[: args.batch], args.batch, precision)  # warm-up
            alone = args.frames / model_only(general, patches, args.batch, precision)
            start = time.perf_counter()
            tables[precision] = label(paths[f"lr_x{SCALE}"], paths["hr"], general_path, tmp / f"{precision}.parquet",
                                      scale=SCALE, grid=list(GRID), threads=args.threads, batch_size=args.batch,
                                      precision=precision)
            staged = args.frames / (time.perf_counter() - start)
            print(f"| {precision} | {alone:.2f} | {staged:.2f} | {staged / alone:.2f} |")
        for by in ("bicubic", "features"):
            start = time.perf_counter()
            tables[by] = label(paths[f"lr_x{SCALE}"], paths["hr"], general_path, tmp / f"{by}.parquet", scale=SCALE,
                               grid=list(GRID), threads=args.threads, batch_size=args.batch, by=by)
            staged = args.frames / (time.perf_counter() - start)
            moved = (assign(tables["fp32"], "stdo", 4) != assign(tables[by], "stdo", 4)).mean()
            print(f"| label_by {by} | | {staged:.2f} | | {100 * moved:.1f} % of the patches in another chunk (k = 4)")
        fp32, bf16 = tables["fp32"], tables["bf16"]
        moved = (assign(fp32, "stdo", 4) != assign(bf16, "stdo", 4)).mean()
        print(f"bf16 against fp32: patch PSNR mean difference {(bf16.psnr - fp32.psnr).mean():+.4f} dB, "
              f"largest {np.abs(bf16.psnr - fp32.psnr).max():.4f} dB; {100 * moved:.2f} % of the patches in "
              f"another chunk of the STDO split (k = 4)")


if __name__ == "__main__":
    main()
