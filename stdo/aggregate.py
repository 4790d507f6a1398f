"""Stage 7: one tidy table of every (video, scale, method), as CSV and as Markdown."""
from __future__ import annotations

import pandas as pd

from .io import atomic_path, load_json

COLUMNS = ["video", "scale", "method", "split", "k", "arch", "init", "params_per_model", "total_params",
           "steps", "psnr_stdo_patch", "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim",
           "psnr_patch_mean", "train_seconds", "frames", "eval_frames", "patches"]
SHOWN = ["video", "scale", "method", "k", "arch", "total_params", "steps", "psnr_stdo_patch",
         "psnr_frame_rgb", "psnr_frame_y", "ssim", "train_seconds"]
LEGEND = """\
PSNR conventions (dB, 8-bit RGB output):
- psnr_stdo_patch: RGB, per patch with scale+4 px shaved from each patch border, -10 log10(mean of chunk MSE), all frames (STDO).
- psnr_frame_rgb / psnr_frame_y: whole frames stitched from patches, eval frames (every eval_every-th), shave = scale, PSNR of the mean MSE; Y = BT.601 studio range.
- ssim: Y channel, shave = scale, Gaussian window (sigma 1.5), mean over eval frames.
- steps: the method's total optimizer-step budget, shared among its chunk models in proportion to chunk size."""


def summarize(metric_paths) -> pd.DataFrame:
    rows = pd.DataFrame([load_json(p) for p in metric_paths])
    return rows.reindex(columns=COLUMNS)


def markdown(table: pd.DataFrame) -> str:
    def cell(column, value):
        if pd.isna(value):
            return "-"
        if column == "ssim":
            return f"{value:.4f}"
        if column.startswith("psnr"):
            return f"{value:.2f}"
        if column == "train_seconds" or isinstance(value, float):
            return f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(SHOWN) + " |", "|" + "---|" * len(SHOWN)]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in SHOWN) + " |" for _, row in table.iterrows()]
    return "\n".join(lines) + "\n\n" + LEGEND + "\n"


def aggregate(metric_paths, out_csv, out_md) -> pd.DataFrame:
    table = summarize(metric_paths)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown(table))
    return table
