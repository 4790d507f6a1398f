"""Stage: the learning curves of every trained model of a run (`stdo.learning` records them) in one table and
one figure."""
from __future__ import annotations

import pandas as pd

from .io import atomic_path, load_json, save_png

CURVE_COLUMNS = ["video", "scale", "method", "rate", "model", "step", "seconds", "loss", "psnr"]


def curve_rows(sidecar_paths, labels) -> pd.DataFrame:
    """The curves of trained models' sidecars as rows; `labels`: per sidecar, 'video/x<scale>/method/rate'."""
    if len(labels) != len(sidecar_paths):
        raise ValueError(f"{len(sidecar_paths)} sidecars, {len(labels)} labels")
    frames = []
    for path, label in zip(sidecar_paths, labels):
        video, scale, method, rate = label.split("/")
        scale = int(scale.removeprefix("x"))
        meta = load_json(path)
        if meta.get("curve"):
            part = pd.DataFrame(meta["curve"]).assign(video=video, scale=scale, method=method, rate=rate,
                                                      model=meta.get("chunk", "joint"))
            frames.append(part)
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS] if frames else pd.DataFrame(columns=CURVE_COLUMNS)


def plot(rows: pd.DataFrame, out) -> None:
    """PSNR against steps and against training seconds, one line per model, one row of panels per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # only the stage that draws pays for the import
    groups = list(rows.groupby(["video", "scale", "method", "rate"], sort=False)) or [(None, rows)]
    fig, axes = plt.subplots(len(groups), 2, figsize=(10, 2.6 * len(groups)), squeeze=False)
    for ax_row, (key, group) in zip(axes, groups):
        for model, line in group.groupby("model", sort=False):
            for ax, x in zip(ax_row, ("step", "seconds")):
                ax.plot(line[x], line["psnr"], marker=".", label=f"model {model}")
        title = "no curve recorded" if key is None else f"{key[0]} x{key[1]} {key[2]} ({key[3]})"
        for ax, xlabel in zip(ax_row, ("optimizer steps", "training seconds")):
            ax.set(title=title, xlabel=xlabel, ylabel="PSNR dB (STDO conv.)")
            ax.grid(alpha=0.3)
        if key is not None and group["model"].nunique() > 1:
            ax_row[0].legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out)


def curves(sidecar_paths, labels, out_csv, out_plot) -> pd.DataFrame:
    """results/curves.csv and its figure from the sidecars of every trained model of the run."""
    rows = curve_rows(sidecar_paths, labels)
    with atomic_path(out_csv) as tmp:
        rows.to_csv(tmp, index=False, float_format="%.4f")
    plot(rows, out_plot)
    return rows
