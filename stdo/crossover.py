"""Stage: when does overfitting by chunks pay off? The sweep's methods (`config: sweep`, one method per
family, capacity and budget) read from the summary table at the lossless rate point, where the papers'
per-patch scores exist: quality against the total optimizer steps and against the measured training
seconds, and the crossover points, the smallest budget at which a family beats the one-model baseline
(the family with split none, m0) of the same capacity."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .errors import InputError  # noqa: E402
from .io import atomic_path, save_png, save_text  # noqa: E402
from .measures import heading, legend  # noqa: E402
from .vocabulary import LOSSLESS  # noqa: E402

SCORES = ["psnr_stdo_patch", "psnr_frame_y"]
KEEP = ["video", "scale", "method", "family", "arch", "total_steps", "k", "steps", "init", "total_params", *SCORES,
        "train_seconds"]


def table(summary: pd.DataFrame, cells: dict) -> pd.DataFrame:
    """One row per (video, scale, sweep method) at the lossless rate point, with its cell."""
    rows = summary[(summary["rate"] == LOSSLESS) & summary["method"].isin(list(cells))].copy()
    missing = set(cells) - set(rows["method"])
    if missing:
        raise InputError(f"summary: no lossless row for the sweep's method(s) {', '.join(sorted(missing))}")
    for key in ("family", "arch", "total_steps"):
        rows[key] = rows["method"].map({name: cell[key] for name, cell in cells.items()})
    rows["steps"] = rows["steps"].astype("Int64")  # a float column of the summary (references have none)
    return rows[KEEP].sort_values(["video", "scale", "arch", "family", "total_steps"], ignore_index=True)


def crossover_points(rows: pd.DataFrame, baseline: str, score: str = "psnr_stdo_patch") -> pd.DataFrame:
    """Per (video, scale, arch, family): the smallest budget at which the family beats the baseline family
    of the same capacity and budget on `score` (None: not reached on the ladder), and the gain there."""
    base = rows[rows["family"] == baseline].set_index(["video", "scale", "arch", "total_steps"])[score]
    out = []
    for (video, scale, arch, family), group in rows[rows["family"] != baseline].groupby(
            ["video", "scale", "arch", "family"], sort=False):
        gains = [(b, s - base.get((video, scale, arch, b), float("nan")))
                 for b, s in zip(group["total_steps"], group[score])]
        won = [(b, g) for b, g in sorted(gains) if g > 0]
        out.append({"video": video, "scale": scale, "arch": arch, "family": family,
                    "budgets": ", ".join(str(b) for b, _ in sorted(gains)),
                    "crossover_budget": won[0][0] if won else None, "gain_db": round(won[0][1], 3) if won else None,
                    "gain_at_largest_db": round(sorted(gains)[-1][1], 3)})
    return pd.DataFrame(out)


def plot(rows: pd.DataFrame, path) -> None:
    groups = list(rows.groupby(["video", "scale"], sort=False))
    fig, axes = plt.subplots(len(groups), 2, figsize=(13, 4.6 * len(groups)), squeeze=False)
    for ax_row, ((video, scale), group) in zip(axes, groups):
        for (family, arch), line in group.groupby(["family", "arch"], sort=False):
            style = {"marker": "o", "label": f"{family} ({arch})", "linestyle": "-" if arch == group["arch"].iloc[0]
                     else "--"}
            ax_row[0].plot(line["total_steps"], line["psnr_stdo_patch"], **style)
            ax_row[1].plot(line["train_seconds"], line["psnr_stdo_patch"], **style)
        for ax, xlabel in zip(ax_row, ("total optimizer steps", "training seconds (measured, all its models)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(heading("psnr_stdo_patch"))
            ax.set_title(f"{video} x{scale}")
            ax.grid(alpha=0.3)
        ax_row[0].legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def crossover(summary_path, out_csv, out_md, out_plot, *, cells: dict, baseline: str | None) -> pd.DataFrame:
    rows = table(pd.read_csv(summary_path), cells)
    with atomic_path(out_csv) as tmp:
        rows.to_csv(tmp, index=False)
    text = ["# Crossover: chunked overfitting against one model at equal total steps", "",
            "Lossless LR (the papers' setting). total_steps: the optimizer steps of the method, shared among its chunk "
            "models, plus, for a two-stage method, those of the model it starts from (init); steps: its own.", "",
            *(f"- {item}" for item in legend(SCORES)), "",
            rows.to_markdown(index=False, floatfmt=".3f"), ""]
    if baseline is not None:
        points = crossover_points(rows, baseline)
        text += [f"## Crossover points against {baseline}", "",
                 "crossover_budget: the smallest budget of the ladder at which the family beats "
                 f"{baseline} of the same capacity and budget (psnr_stdo_patch); empty: not reached.", "",
                 points.to_markdown(index=False) if len(points) else "(no family besides the baseline)", ""]
    save_text("\n".join(text), out_md)
    plot(rows, out_plot)
    return rows
