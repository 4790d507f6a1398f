"""Stage 3: score every LR patch by how hard it is to super-resolve.

Writes patches.parquet: one row per (frame, row, col) with the LR/HR boxes, bicubic's MSE and PSNR
(STDO convention: RGB, 8-bit output, `scale + 4` px shaved from each patch border), two cheap
content features (LR luma gradient energy and mean absolute difference to the same patch in the
previous frame), the `is_eval` flag, and `score`, what the stdo split ranks patches by (lower =
harder), from one of three labellers:
- general: the general model's PSNR (STDO's labelling; the table then also holds its `mse`, `psnr`);
- bicubic: bicubic's PSNR, no SR model run;
- features: minus the LR gradient energy, no inference at all (the content-feature ranking of
  EPS, arXiv 2411.16312, with the simplest feature)."""
from __future__ import annotations

import logging

import numpy as np

from . import metrics, models
from .errors import InputError
from .infer import choose_precision, setup, sr_mse
from .io import load_frames, save_parquet
from .patches import Grid, cut, patch_table

log = logging.getLogger(__name__)
LABELLERS = ("general", "bicubic", "features")


def gradient_energy(lr_patches: np.ndarray) -> np.ndarray:
    """Mean squared finite-difference gradient of each patch's luma."""
    y = metrics.rgb_to_y(lr_patches)
    dy, dx = np.diff(y, axis=1), np.diff(y, axis=2)
    return (dy**2).mean(axis=(1, 2)) + (dx**2).mean(axis=(1, 2))


def score(columns: dict, by: str) -> np.ndarray:
    """What the stdo split ranks patches by, lower = harder."""
    if by == "general":
        return metrics.psnr(columns["mse"])
    return metrics.psnr(columns["bicubic_mse"]) if by == "bicubic" else -columns["grad_energy"]


def label(lr_path, hr_path, general_path, out, *, scale: int, grid: list[int], eval_every: int = 10,
          device: str = "auto", threads: int = 1, batch_size: int = 64, block: int = 16, precision: str = "auto",
          by: str = "general"):
    """`precision` bf16 runs the general model under bf16 autocast (bicubic stays fp32; auto: bf16 where
    the device has native bf16, `stdo.infer.choose_precision`); what ran is in the table's attrs
    (`general_precision`, kept in the parquet file). `by`: the labeller (module docstring); only `general`
    loads and runs the general model."""
    if by not in LABELLERS:
        raise InputError(f"labeller '{by}': choose one of {', '.join(LABELLERS)}")
    dev = setup(device, threads)
    precision = choose_precision(precision, dev)
    lr, hr = load_frames(lr_path), load_frames(hr_path)
    g = Grid.fit(lr.shape[1], lr.shape[2], cols=grid[0], rows=grid[1], scale=scale)
    shave = metrics.stdo_shave(scale)
    if min(g.patch_size(scale)) <= 2 * shave:
        raise InputError(f"grid {grid[0]}x{grid[1]} at x{scale}: HR patches of {g.patch_w * scale}x"
                         f"{g.patch_h * scale} px leave nothing after the {shave} px STDO shave; use fewer cells")
    general = models.load_checkpoint(general_path, dev)[0] if by == "general" else None
    bicubic = models.build("bicubic", scale)
    table = patch_table(len(lr), g, eval_every)
    names = ("bicubic_mse", "grad_energy", "temporal_diff") + (("mse",) if general else ())
    columns = {k: np.empty(len(table)) for k in names}
    for f0 in range(0, len(lr), block):
        frames = np.arange(f0, min(f0 + block, len(lr)))
        lr_p, hr_p = cut(lr[frames], g), cut(hr[frames], g, scale)
        prev = cut(lr[np.maximum(frames - 1, 0)], g)  # frame 0 is its own predecessor
        rows = slice(f0 * g.per_frame, f0 * g.per_frame + len(lr_p))
        if general:
            columns["mse"][rows] = sr_mse(general, lr_p, hr_p, dev, batch_size, shave, precision)
        columns["bicubic_mse"][rows] = sr_mse(bicubic, lr_p, hr_p, dev, batch_size, shave)
        columns["grad_energy"][rows] = gradient_energy(lr_p)
        columns["temporal_diff"][rows] = np.abs(lr_p.astype(np.int16) - prev).mean(axis=(1, 2, 3))
        log.info("labelled frames %d-%d of %d", frames[0], frames[-1], len(lr))
    if general:
        columns["psnr"] = metrics.psnr(columns["mse"])
    table = table.assign(**columns, bicubic_psnr=metrics.psnr(columns["bicubic_mse"]), score=score(columns, by))
    if general:
        table.attrs["general_precision"] = precision
    save_parquet(table, out)
    general_psnr = f"{table['psnr'].mean():.2f} dB ({precision})" if general else "not measured"
    log.info("labelled by %s: mean patch PSNR %s, bicubic %.2f dB", by, general_psnr, table["bicubic_psnr"].mean())
    return table
