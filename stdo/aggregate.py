"""Stage 7: one tidy table of every (video, scale, method), the papers' comparison table and a
plot of quality against what the client has to download."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path, load_json, save_png  # noqa: E402

COLUMNS = ["video", "scale", "method", "split", "mode", "k", "models", "arch", "init", "budget", "steps",
           "params_per_model", "total_params", "model_bytes_fp16", "map_bits", "map_bytes_zlib",
           "delivered_bytes", "psnr_stdo_patch", "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim",
           "psnr_patch_mean", "train_seconds", "frames", "eval_frames", "patches"]
SHOWN = ["video", "scale", "method", "k", "arch", "total_params", "delivered_bytes", "steps", "psnr_stdo_patch",
         "psnr_frame_rgb", "psnr_frame_y", "ssim", "train_seconds"]
LEGEND = """\
PSNR conventions (dB, 8-bit RGB output):
- psnr_stdo_patch: RGB, per patch with scale+4 px shaved from each patch border, -10 log10(mean of chunk MSE), all frames (STDO).
- psnr_frame_rgb / psnr_frame_y: whole frames stitched from patches, eval frames (every eval_every-th), shave = scale, PSNR of the mean MSE; Y = BT.601 studio range.
- ssim: Y channel, shave = scale, Gaussian window (sigma 1.5), mean over eval frames.
- delivered_bytes: every distinct model in fp16 plus, for content-routed splits, the zlib-compressed patch->chunk map.
- steps: the method's optimizer-step budget (budget 'total': shared among its chunk models by chunk size; 'per_chunk': each chunk model gets all of it)."""


def summarize(metric_paths) -> pd.DataFrame:
    rows = pd.DataFrame([load_json(p) for p in metric_paths])
    return rows.reindex(columns=COLUMNS)


def cell(column: str, value) -> str:
    if pd.isna(value):
        return "-"
    if column == "ssim":
        return f"{value:.4f}"
    if column.startswith("psnr"):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


def markdown_table(table: pd.DataFrame, columns) -> str:
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(str(c), row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def comparison(table: pd.DataFrame) -> str:
    """The STDO README's layout: rows = methods, columns = scale per video, one table per measure."""
    order = list(dict.fromkeys(table["method"]))
    parts = []
    for value, title in (("psnr_stdo_patch", "PSNR dB, STDO convention (RGB, per patch, scale+4 shave, PSNR of mean chunk MSE)"),
                         ("psnr_frame_y", "PSNR dB, whole stitched frames, Y channel, shave = scale"),
                         ("delivered_bytes", "Delivered size, KB (fp16 models + compressed chunk map)")):
        wide = table.pivot_table(index="method", columns=["video", "scale"], values=value, aggfunc="first")
        wide = wide.reindex(order)
        if value == "delivered_bytes":
            wide = wide / 1000
        wide.columns = [f"{video} x{scale}" for video, scale in wide.columns]
        shown = wide.reset_index()
        for column in wide.columns:
            shown[column] = [("-" if pd.isna(v) else f"{v:.2f}" if value.startswith("psnr") else f"{v:.1f}")
                             for v in wide[column]]
        parts.append(f"**{title}**\n\n" + markdown_table(shown, ["method", *wide.columns]))
    budget = table.dropna(subset=["steps"]).drop_duplicates("method")
    budgets = ", ".join(f"{r.method} {r.steps:.0f}" for r in budget.itertuples())
    rule = "shared among a method's chunk models by chunk size" if set(budget["budget"].dropna()) <= {"total"} \
        else "each chunk model gets the full budget (budget: per_chunk)"
    parts.append(f"Training budget (optimizer steps): {budgets}; {rule}.")
    return "\n\n".join(parts) + "\n"


def plot(table: pd.DataFrame, path) -> None:
    """PSNR (STDO convention) against delivered bytes, one panel per (video, scale), one marker
    per method; parameter-free references (bicubic) are dashed lines."""
    panels = list(table.groupby(["video", "scale"], sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    markers = "osD^vP*Xh<>"
    for ax, ((video, scale), rows) in zip(axes[0], panels):
        for i, r in enumerate(rows.itertuples()):
            if r.delivered_bytes > 0:
                ax.scatter(r.delivered_bytes / 1000, r.psnr_stdo_patch, marker=markers[i % len(markers)],
                           s=60, label=f"{r.method} ({r.delivered_bytes / 1000:.0f} KB)")
            else:
                ax.axhline(r.psnr_stdo_patch, linestyle="--", linewidth=0.9, color="grey", label=f"{r.method} (0 KB)")
        ax.set_xscale("log")
        ax.set(title=f"{video} x{scale}", xlabel="delivered KB (fp16 models + compressed chunk map)",
               ylabel="PSNR dB (STDO convention)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def aggregate(metric_paths, out_csv, out_md, out_comparison, out_plot) -> pd.DataFrame:
    table = summarize(metric_paths)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown_table(table, SHOWN) + "\n\n" + LEGEND + "\n")
    with atomic_path(out_comparison) as tmp:
        tmp.write_text(comparison(table))
    plot(table, out_plot)
    return table
