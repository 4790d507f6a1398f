"""Stage 7: the tables of `stdo.report.summary` written out (one tidy table of every (video, scale, method, rate
point), the papers' comparison table, the rate-distortion table and BD-rates against the codec alone, the clips
pooled per category), and plots of quality against what the client downloads.

It imports from stdo/report/ although it is no part of the report: `stdo.report.summary` and `.document` are
library modules, not stages (docs/layers.md, rule 5), so that the tables this stage writes and those the HTML
report (stage `report.tables`) renders are made by the same code."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import rd  # noqa: E402
from .io import atomic_path, load_json, save_png, save_text  # noqa: E402
from .measures import heading  # noqa: E402
from .report.document import Table, markdown  # noqa: E402
from .report.summary import (  # noqa: E402
    CATEGORY_LEGEND,
    CATEGORY_SHOWN,
    comparison,
    measured,
    method_order,
    pool_categories,
    shown,
    summary,
)


def with_viewer_wait(rd_rows: pd.DataFrame, viewer_paths) -> pd.DataFrame:
    """The rate-distortion rows with what a viewer waits where the package was also segmented (viewer.json of
    `stdo.delivery.segments`): bytes before the first frame and to seek to the middle, the startup delay at each
    link rate, the whole package's download time at 3 Mbit/s."""
    if not viewer_paths:
        return rd_rows
    rows = []
    for wait in map(load_json, viewer_paths):
        rows.append({"video": wait["video"], "scale": wait["scale"], "method": wait["method"], "rate": wait["rate"],
                     "startup_bytes": wait["startup_bytes"], "seek_middle_bytes": wait["seek_middle_bytes"],
                     **{f"startup_s_{int(k) // 1000}mbps": v for k, v in wait["startup_seconds"].items()},
                     "whole_package_s_3mbps": wait["whole_package_seconds"]["3000"]})
    return rd_rows.merge(pd.DataFrame(rows), on=["video", "scale", "method", "rate"], how="left")


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
        ax.set(title=f"{video} x{scale} (lossless LR)", xlabel=heading("models_and_map_bytes", "KB"),
               ylabel=heading("psnr_stdo_patch"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def aggregate(metric_paths, out_csv, out_md, out_comparison, out_plot, out_rd_csv, out_rd_plot,
              out_categories_csv=None, out_categories_md=None, *, hr_metric_paths=(), viewer_paths=(),
              categories=None) -> pd.DataFrame:
    table, rd_rows = measured(metric_paths, hr_metric_paths, categories)
    rd_rows = with_viewer_wait(rd_rows, viewer_paths)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    save_text(markdown(summary(table)), out_md)
    with atomic_path(out_rd_csv) as tmp:
        rd_rows.to_csv(tmp, index=False, float_format="%.4f")
    save_text(markdown(comparison(table, rd_rows)), out_comparison)
    if out_categories_csv or out_categories_md:
        pooled = pool_categories(table)
        if out_categories_csv:
            with atomic_path(out_categories_csv) as tmp:
                pooled.to_csv(tmp, index=False, float_format="%.4f")
        if out_categories_md:
            save_text(markdown([Table(shown(pooled, CATEGORY_SHOWN)), CATEGORY_LEGEND]), out_categories_md)
    plot(table, out_plot)
    rd.plot_curves(rd_rows, out_rd_plot, method_order(table))
    return table
