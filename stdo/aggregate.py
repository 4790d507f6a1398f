"""Stage 7: one tidy table of every (video, scale, method, rate point), the papers' comparison table
(lossless LR, their setting), the rate-distortion table and BD-rates against the codec alone, the clips
pooled per category, and plots of quality against what the client downloads."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import rd  # noqa: E402
from .io import atomic_path, load_json, save_png  # noqa: E402

COLUMNS = ["video", "category", "scale", "method", "rate", "train_rate", "split", "mode", "k", "models", "fallbacks",
           "deltas", "arch", "init", "budget", "steps", "params_per_model", "total_params", "map_bits", "map_bytes",
           "model_bytes", "models_and_map_bytes", "stream_bytes", "package_bytes", "base", "base_bytes",
           "package_bytes_with_base", "kbps_package", "kbps_package_with_base", "psnr_stdo_patch",
           "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim", "psnr_patch_mean", "rd_psnr_rgb", "rd_psnr_y",
           "rd_ssim", "vmaf", "vmaf_model", "pad", "train_seconds", "frames", "eval_frames", "patches", "sr_sha256"]
SHOWN = ["video", "scale", "method", "rate", "k", "total_params", "models_and_map_bytes", "kbps_package", "steps",
         "psnr_stdo_patch", "psnr_frame_y", "ssim", "rd_psnr_y", "vmaf", "train_seconds"]
LEGEND = """\
PSNR conventions (dB, 8-bit RGB output; every SR frame as the client plays the package: its stored weights \
(fp16 unless package.weights says int8), patches of the grid):
- psnr_stdo_patch: RGB, per patch with scale+4 px shaved from each patch border, -10 log10(mean of chunk MSE), all \
frames (STDO).
- psnr_frame_rgb / psnr_frame_y: whole frames, eval frames (every eval_every-th), shave = scale, PSNR of the mean \
MSE; Y = BT.601 studio range.
- ssim: Y channel, shave = scale, Gaussian window (sigma 1.5), mean over eval frames.
- rd_psnr_rgb / rd_psnr_y / rd_ssim / vmaf: every frame, whole frame, nothing shaved (the rate-distortion legend in \
comparison.md).
- models_and_map_bytes: the package's model files (ONNX; fp16 weights unless package.weights/ship say int8 or \
deltas) and chunk map, measured on the files; package_bytes adds the LR bitstream and the manifest.
- steps: the method's optimizer-step budget (budget 'total': shared among its chunk models by chunk size; \
'per_chunk': each chunk model gets all of it).
- fallbacks: chunks whose trained model lost to the general model or bicubic on the chunk's patches and that ship \
that instead (config select; empty where select is off or for the reference rows)."""
# Said, with the columns, only where some package assumes a resident base (package.base: resident).
RESIDENT_SHOWN = ["base", "kbps_package_with_base"]
RESIDENT_LEGEND = """\
- base: the model the package assumes installed with the player once (package.base: resident), or none; its bytes \
are in no per-video count (models_and_map_bytes, package_bytes, kbps_package): package_bytes_with_base and \
kbps_package_with_base add them, as for a client without it. deltas: models sent as their difference to the base."""


# Pooled per category: the mean over clips of each per-clip measure (and the clips' frames summed).
POOLED = ["psnr_stdo_patch", "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim", "rd_psnr_rgb", "rd_psnr_y",
          "rd_ssim", "vmaf", "kbps_package", "models_and_map_bytes", "package_bytes", "kbps_package_with_base",
          "package_bytes_with_base", "train_seconds"]
CATEGORY_KEYS = ["category", "scale", "method", "rate"]
CATEGORY_COLUMNS = [*CATEGORY_KEYS, "clips", "frames", *POOLED, "videos"]
CATEGORY_SHOWN = [*CATEGORY_KEYS, "clips", "frames", "psnr_stdo_patch", "psnr_frame_y", "ssim", "rd_psnr_y", "vmaf",
                  "kbps_package", "models_and_map_bytes"]
CATEGORY_LEGEND = """\
Clips pooled per category (a category is the clip's folder under videos_from.folder, or the category its config entry
gives): one row per category, scale, method and rate point; clips = how many clips it pools, frames = their frames.
Every measure is the unweighted mean over the clips of the per-clip value in summary.csv, each clip counting once
whatever its length (clip-weighted, not frame-weighted): a pooled PSNR is the mean of the clips' PSNRs, each in its own
convention (summary.md's legend: e.g. psnr_stdo_patch = the clip's PSNR of the mean chunk MSE, rd_psnr_y = PSNR of
the mean MSE over the clip's frames), not the PSNR of MSE pooled over clips. This is how video SR benchmarks average
a dataset (Vid4, REDS4: the mean over clips of each clip's PSNR); the VSD4K papers (STDO, CaFM) table each clip on its
own (summary.csv). kbps_package and models_and_map_bytes are means over the clips too. '-': not measured for some clip
of the category (e.g. the papers' patch PSNR off the training rate point)."""


def summarize(metric_paths, categories=None) -> pd.DataFrame:
    """Every metrics file a row; `category` from `categories` (video -> category, the workflow's config), else
    the file's own, else the video's name."""
    rows = rd.fill_base(pd.DataFrame([load_json(p) for p in metric_paths]).reindex(columns=COLUMNS))
    categories = categories or {}
    rows["category"] = [categories.get(video, video if pd.isna(own) else own)
                        for video, own in zip(rows["video"], rows["category"])]
    return rows


def _clip_mean(values: pd.Series) -> float:
    """The mean over clips, or NaN when any clip has no value (never a mean over a silent subset)."""
    return float(values.mean()) if values.notna().all() else float("nan")


def pool_categories(table: pd.DataFrame) -> pd.DataFrame:
    """The clips of each (category, scale, method, rate) pooled: clip-weighted means (CATEGORY_LEGEND)."""
    if table.empty:
        return pd.DataFrame(columns=CATEGORY_COLUMNS)
    records = []
    for key, rows in table.groupby(CATEGORY_KEYS, sort=False):
        record = dict(zip(CATEGORY_KEYS, key))
        record.update(clips=rows["video"].nunique(), frames=rows["frames"].sum(min_count=len(rows)),
                      videos=" ".join(dict.fromkeys(rows["video"])))
        record.update({column: _clip_mean(rows[column]) for column in POOLED})
        records.append(record)
    return pd.DataFrame(records, columns=CATEGORY_COLUMNS)


def cell(column: str, value) -> str:
    if pd.isna(value):
        return "-"
    if column in ("ssim", "rd_ssim"):
        return f"{value:.4f}"
    if column.startswith(("psnr", "rd_psnr", "kbps")) or column == "vmaf":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


def markdown_table(table: pd.DataFrame, columns) -> str:
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(str(c), row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def comparison(table: pd.DataFrame) -> str:
    """The STDO README's layout on lossless LR (the papers' setting): rows = methods, columns = scale
    per video, one table per measure."""
    table = table[table["rate"] == rd.LOSSLESS]
    order = list(dict.fromkeys(table["method"]))
    parts = []
    for value, title in (
            ("psnr_stdo_patch", "PSNR dB, STDO convention (RGB, per patch, scale+4 shave, PSNR of mean chunk MSE)"),
            ("psnr_frame_y", "PSNR dB, whole stitched frames, Y channel, shave = scale"),
            ("models_and_map_bytes", "Models + chunk map, KB (ONNX files as stored; measured on the package)")):
        wide = _wide(table, value, order)
        if value.endswith("bytes"):
            wide = wide / 1000
        shown = wide.reset_index()
        for column in wide.columns:
            shown[column] = [("-" if pd.isna(v) else f"{v:.2f}" if value.startswith("psnr") else f"{v:.1f}")
                             for v in wide[column]]
        parts.append(f"**{title}**\n\n" + markdown_table(shown, ["method", *wide.columns]))
    if rd.resident(table):
        parts.append(_bases(table, order))
    budget = table.dropna(subset=["steps"]).drop_duplicates("method")
    budgets = ", ".join(f"{r.method} {r.steps:.0f}" for r in budget.itertuples())
    rule = "shared among a method's chunk models by chunk size" if set(budget["budget"].dropna()) <= {"total"} \
        else "each chunk model gets the full budget (budget: per_chunk)"
    parts.append(f"Lossless LR (the papers' setting). Training budget (optimizer steps): {budgets}; {rule}.")
    return "\n\n".join(parts) + "\n"


def _wide(table: pd.DataFrame, value: str, order: list) -> pd.DataFrame:
    """One measure with methods as rows and '<video> x<scale>' as columns."""
    wide = table.pivot_table(index="method", columns=["video", "scale"], values=value, aggfunc="first").reindex(order)
    wide.columns = [f"{video} x{scale}" for video, scale in wide.columns]
    return wide


def _bases(table: pd.DataFrame, order: list) -> str:
    """Which base each row's packages assume resident, and its KB, which the models' KB leave out."""
    labels = [base if base == rd.NO_BASE else f"{base}, {n / 1000:.1f} KB"
              for base, n in zip(table["base"], table["base_bytes"])]
    wide = _wide(table.assign(base=labels), "base", order).fillna("-")
    return ("**Resident base: the model each package assumes installed with the player once (package.base); its KB "
            "are not in the models' KB above**\n\n" + markdown_table(wide.reset_index(), ["method", *wide.columns]))


def plot(table: pd.DataFrame, path) -> None:
    """PSNR (STDO convention) against models + chunk map bytes on lossless LR, one panel per (video,
    scale), one marker per method; parameter-free references (bicubic) are dashed lines."""
    table = table[table["rate"] == rd.LOSSLESS]
    panels = list(table.groupby(["video", "scale"], sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    markers = "osD^vP*Xh<>"
    for ax, ((video, scale), rows) in zip(axes[0], panels):
        for i, r in enumerate(rows.itertuples()):
            size = r.models_and_map_bytes / 1000
            if r.models_and_map_bytes > 0:
                ax.scatter(size, r.psnr_stdo_patch, marker=markers[i % len(markers)], s=60,
                           label=f"{r.method} ({size:.0f} KB)")
            else:
                ax.axhline(r.psnr_stdo_patch, linestyle="--", linewidth=0.9, color="grey", label=f"{r.method} (0 KB)")
        ax.set_xscale("log")
        ax.set(title=f"{video} x{scale} (lossless LR)", xlabel="KB of models + chunk map (ONNX files as stored)",
               ylabel="PSNR dB (STDO convention)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def aggregate(metric_paths, hr_metric_paths, out_csv, out_md, out_comparison, out_plot, out_rd_csv,
              out_rd_plot, out_categories_csv=None, out_categories_md=None, categories=None) -> pd.DataFrame:
    table = summarize(metric_paths, categories)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    shown, legend = (SHOWN + RESIDENT_SHOWN, LEGEND + "\n" + RESIDENT_LEGEND) if rd.resident(table) else (SHOWN, LEGEND)
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown_table(table, shown) + "\n\n" + legend + "\n")
    rd_rows = rd.rd_table([load_json(p) for p in [*metric_paths, *hr_metric_paths]])
    with atomic_path(out_rd_csv) as tmp:
        rd_rows.to_csv(tmp, index=False, float_format="%.4f")
    order = list(dict.fromkeys(table["method"]))
    bd = rd.bd_table(rd_rows, order)
    vmaf_model = ", ".join(sorted(set(rd_rows["vmaf_model"].dropna()))) or "-"
    with atomic_path(out_comparison) as tmp:
        tmp.write_text(comparison(table) + ("\n**Rate-distortion: BD-rate against the codec alone**\n\n"
                                            + rd.bd_markdown(bd, vmaf_model) + "\n" + rd.LEGEND + "\n"
                                            if len(bd) else ""))
    if out_categories_csv or out_categories_md:
        pooled = pool_categories(table)
        if out_categories_csv:
            with atomic_path(out_categories_csv) as tmp:
                pooled.to_csv(tmp, index=False, float_format="%.4f")
        if out_categories_md:
            with atomic_path(out_categories_md) as tmp:
                tmp.write_text(markdown_table(pooled, CATEGORY_SHOWN) + "\n\n" + CATEGORY_LEGEND + "\n")
    plot(table, out_plot)
    rd.plot_curves(rd_rows, out_rd_plot, order)
    return table
