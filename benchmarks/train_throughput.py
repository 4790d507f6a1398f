"""Training-loop throughput against the model alone, on real patches of the bundled clip.

Prints samples/second of (a) the model's forward + backward + Adam step on one pre-built batch
(the ceiling) and (b) the real loop `stdo.train.fit` drawing random flipped crops from the
preloaded patch tensors, and their ratio. Both are measured in the same run, same threads.

    python benchmarks/train_throughput.py [--steps 60] [--threads 1] [--batch 32] [--crop 32] [--precision bf16]
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from stdo import models
from stdo.infer import autocast
from stdo.ingest import bundled_clip, downscale
from stdo.patches import Grid, cut
from stdo.train import CropSampler, fit


def bunny_patches(frames: int, scale: int = 4, grid=(10, 5)):
    cap = cv2.VideoCapture(str(bundled_clip()))
    hr = np.stack([cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(frames)])
    cap.release()
    lr = downscale(hr, scale)
    g = Grid.fit(lr.shape[1], lr.shape[2], cols=grid[0], rows=grid[1], scale=scale)
    return cut(lr, g), cut(hr, g, scale)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="autocast of the training loop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lr, hr = bunny_patches(args.frames)
    sampler = CropSampler(lr, hr, 4, args.crop, "cpu")
    x, y, _ = sampler.sample(args.batch)
    torch.manual_seed(0)
    model = models.build("espcn", 4)
    fit(model, sampler, 5, args.batch, 1e-3)  # warm-up (and leaves the zero-init tail)
    p = args.precision
    rates = {"model only fp32": [], f"model only {p}": [], f"training loop {p}": []}
    for _ in range(args.repeats):  # interleaved, best of N: robust to a busy machine
        for precision in dict.fromkeys(["fp32", p]):
            seconds = model_only(model, x, y, args.steps, precision)
            rates[f"model only {precision}"].append(args.batch * args.steps / seconds)
        result = fit(model, sampler, args.steps, args.batch, 1e-3, precision=p, log_every=args.steps)
        rates[f"training loop {p}"].append(args.batch * args.steps / result["train_seconds"])
    best = {k: max(v) for k, v in rates.items()}
    print(f"espcn x4, batch {args.batch} of {args.crop}x{args.crop} LR crops, {args.threads} thread(s), "
          f"{len(lr)} real patches, best of {args.repeats} x {args.steps} steps")
    for name, rate in best.items():
        print(f"  {name:20s} {rate:8.1f} samples/s")
    print(f"  loop / model ({p})   {best[f'training loop {p}'] / best[f'model only {p}']:8.1%}")
    if p != "fp32":
        print(f"  {p} loop / fp32 model {best[f'training loop {p}'] / best['model only fp32']:8.1%}")


if __name__ == "__main__":
    main()
