"""What recording the learning curve costs a training job, and that it changes no weight.

Trains m0's model of the bundled clip (1280x720, x4, every patch, the default recipe: ESPCN, batch 32 of
32x32 LR crops, from scratch) the same number of steps with `curve_points` 0 (off, the baseline) and with
the default 20, interleaved, best of --repeats, and prints the training seconds of each, their ratio, the
seconds the probing itself took (the curve's `curve_seconds`, not counted in the training seconds) and
whether the two checkpoints are equal bit for bit. The first line names the CPU and the precision.

    python benchmarks/curves.py [--steps 400] [--points 20] [--repeats 2] [--threads 1] [--frames 132]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from clips import write_hd_arrays

from stdo import models
from stdo.fitting import CropSampler, Recipe, fit_job
from stdo.infer import choose_precision, machine_line
from stdo.io import load_frames
from stdo.patches import Grid, patch_table

SCALE, GRID = 4, (10, 5)


def train(folder: Path, steps: int, points: int, precision: str) -> tuple[dict, dict, float]:
    """(the result of `stdo.fitting.fit_job`, the state dict, wall seconds of the whole call)."""
    lr, hr = load_frames(folder / f"lr_x{SCALE}.npy"), load_frames(folder / "hr.npy")
    grid = Grid.fit(lr.shape[1], lr.shape[2], cols=GRID[0], rows=GRID[1], scale=SCALE)
    table = patch_table(len(lr), grid, eval_every=10)
    sampler = CropSampler.of_patches(lr, hr, table, table["patch_id"], SCALE, 32, "cpu")
    torch.manual_seed(0)
    model = models.build("espcn", SCALE)
    start = time.perf_counter()
    recipe = Recipe(scale=SCALE, arch="espcn", batch_size=32, crop=32, lr=1e-3, curve_points=points)
    result = fit_job(model, sampler, steps, recipe, precision)
    return result, model.state_dict(), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=132)
    args = ap.parse_args()
    print(machine_line("auto"))
    torch.set_num_threads(args.threads)
    precision = choose_precision("auto", torch.device("cpu"))
    best = {}
    with tempfile.TemporaryDirectory(prefix="stdo_curves_") as tmp:
        write_hd_arrays(tmp, args.frames, scales=(SCALE,), size=(1280, 720))
        for _ in range(args.repeats):
            for points in (0, args.points):
                result, state, wall = train(Path(tmp), args.steps, points, precision)
                if points not in best or wall < best[points][2]:
                    best[points] = (result, state, wall)
    (_, off_state, off_wall), (on, on_state, _) = best[0], best[args.points]
    same = all(torch.equal(off_state[k], on_state[k]) for k in off_state)
    print(f"espcn x{SCALE}, {args.steps} steps of batch 32, {args.threads} thread(s), {precision}, best of "
          f"{args.repeats}")
    print("| curve points | wall s (whole call) | training s (probing left out) | probing s | wall / off |")
    print("|---:|---:|---:|---:|---:|")
    for points, (result, _, wall) in ((0, best[0]), (args.points, best[args.points])):
        print(f"| {points} | {wall:.1f} | {result['train_seconds']:.1f} | {result.get('curve_seconds', 0.0):.2f} | "
              f"{wall / off_wall:.3f} |")
    print(f"checkpoints equal bit for bit: {same}; PSNR on its own patches at the last point: "
          f"{on['curve']['psnr'][-1]:.2f} dB")


if __name__ == "__main__":
    main()
