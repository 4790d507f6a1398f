"""The figures of one (video, scale) for Snakemake's HTML report: PSNR of every evaluation frame per
method, the patch -> chunk map of each chunked method drawn over a frame, and the hardest patch as
bicubic, the general model and every method super-resolve it (`stdo.report.hardest`), next to the HR
patch. Every PNG appears under its final name only once complete (`stdo.io.save_png`)."""
from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..infer import setup  # noqa: E402
from ..io import load_chunks, load_frames, load_json, save_png  # noqa: E402
from ..vocabulary import REFERENCE_METHODS  # noqa: E402
from .hardest import hardest_patch  # noqa: E402

log = logging.getLogger(__name__)

SPLIT_NOTE = {
    "stdo": "chunks by general-model PSNR, 0 = hardest",
    "kmeans": "k-means on patch features, 0 = hardest",
    "temporal": "chunks are frame ranges: a frame is one colour",
    "none": "one chunk",
}


def chunk_colours(k: int) -> list:
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [cmap(c % cmap.N) for c in range(k)]


# ---------------------------------------------------------------- per-frame PSNR


def plot_psnr_per_frame(runs: list[dict], path, *, video: str, scale: int) -> None:
    """One line per method (references dashed): PSNR of each evaluation frame, from metrics.json."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        reference = run["method"] in REFERENCE_METHODS
        ax.plot(run["eval_frame_ids"], run["psnr_per_frame"], "--" if reference else "-", marker="o",
                markersize=4, linewidth=1.2 if reference else 1.6,
                label=f"{run['method']} ({run['psnr_frame_rgb']:.2f} dB)")
    frames = sorted({f for run in runs for f in run["eval_frame_ids"]})
    if len(frames) == 1:  # one point per method: keep the axis readable
        ax.set_xlim(frames[0] - 1, frames[0] + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set(title=f"{video} x{scale}: PSNR per evaluation frame ({len(frames)} of them)",
           xlabel="frame index (evaluation frames only)",
           ylabel=f"PSNR dB (whole frame, RGB, shave {scale} px)")
    ax.grid(alpha=0.3)
    ax.legend(title="method (PSNR of mean MSE)", fontsize=8, title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_png(fig, path)


# ---------------------------------------------------------------- chunk map


def tint(frame: np.ndarray, boxes: pd.DataFrame, chunk: np.ndarray, colours, alpha: float = 0.45) -> np.ndarray:
    """The frame with each patch box (hr_y0, hr_x0, hr_h, hr_w) blended with its chunk's colour."""
    out = np.asarray(frame, dtype=np.float64) / 255.0
    for (y0, x0, h, w), c in zip(boxes[["hr_y0", "hr_x0", "hr_h", "hr_w"]].to_numpy(), chunk):
        area = out[y0:y0 + h, x0:x0 + w]
        area[:] = (1 - alpha) * area + alpha * np.asarray(colours[c][:3])
    return out


def plot_chunk_maps(frame: np.ndarray, boxes: pd.DataFrame, maps: list[dict], path, *, video: str,
                    scale: int, frame_id: int) -> None:
    """One panel per method: the HR frame, each patch tinted by its chunk and numbered.

    `boxes` are the patch rows of this frame (patches.parquet); each map has name, split, k and the
    chunk of each of those patches."""
    n = len(maps)
    cols = min(2, n)
    rows = math.ceil(n / cols)
    height, width = frame.shape[:2]
    panel_w = 7.0
    fig, axes = plt.subplots(rows, cols, figsize=(panel_w * cols, rows * (panel_w * height / width + 1.3) + 0.4),
                             squeeze=False)
    centres = boxes[["hr_y0", "hr_x0"]].to_numpy() + boxes[["hr_h", "hr_w"]].to_numpy() / 2
    for ax, m in zip(axes.ravel(), maps):
        colours = chunk_colours(m["k"])
        ax.imshow(tint(frame, boxes, m["chunk"], colours))
        for (y0, x0, h, w) in boxes[["hr_y0", "hr_x0", "hr_h", "hr_w"]].to_numpy():
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w, h, fill=False, edgecolor="white", linewidth=0.4))
        for (cy, cx), c in zip(centres, m["chunk"]):
            ax.text(cx, cy, str(c), ha="center", va="center", fontsize=8, color="white",
                    path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])
        counts = np.bincount(m["chunk"], minlength=m["k"])
        handles = [Patch(facecolor=colours[c], edgecolor="none", label=f"chunk {c} ({counts[c]})")
                   for c in range(m["k"])]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(m["k"], 4),
                  fontsize=8, title="chunk (patches in this frame)", title_fontsize=8, frameon=False)
        ax.set_title(f"{m['name']}: split {m['split']}, k = {m['k']}\n{SPLIT_NOTE.get(m['split'], '')}",
                     fontsize=10)
        ax.set_axis_off()
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    fig.suptitle(f"{video} x{scale}: patch -> chunk map on frame {frame_id} (HR, {len(boxes)} patches)",
                 fontsize=11)
    fig.tight_layout()
    save_png(fig, path)


# ---------------------------------------------------------------- hardest patch


def plot_patch_crops(crops: list[tuple[str, np.ndarray]], hr_patch: np.ndarray, path, *, title: str,
                     shave: int) -> None:
    """Side by side at pixel scale, each titled; the dashed box is the area the PSNR scores."""
    panels = crops + [("HR (ground truth)", hr_patch)]
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    h, w = hr_patch.shape[:2]
    panel_w = 3.2
    fig, axes = plt.subplots(rows, cols, figsize=(panel_w * cols, rows * (panel_w * h / w + 0.7) + 0.8),
                             squeeze=False)
    for ax, (name, image) in zip(axes.ravel(), panels):
        ax.imshow(image, interpolation="nearest")
        ax.add_patch(Rectangle((shave - 0.5, shave - 0.5), w - 2 * shave, h - 2 * shave, fill=False,
                               edgecolor="white", linestyle="--", linewidth=0.8))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


# ---------------------------------------------------------------- one (video, scale)


def method_inputs(runs: dict[Path, dict], chunk_paths, model_paths) -> list[dict]:
    """Each method's name, split, chunk map and checkpoints; a method's files share one folder."""
    methods = []
    for chunks_path in chunk_paths:
        folder = Path(chunks_path).parent
        if folder not in runs:
            raise InputError(f"{chunks_path}: no metrics.json of the same method was given")
        paths = [p for p in model_paths if Path(p).parent == folder]
        if not paths:
            raise InputError(f"{chunks_path}: no model of the same method was given")
        methods.append({"name": runs[folder]["method"], "split": runs[folder].get("split", "-"),
                        "chunks_path": chunks_path, "model_paths": paths})
    return methods


def chunk_maps(methods: list[dict], here: np.ndarray) -> list[dict]:
    """The chunk of each patch selected by `here`, for every chunked method (every method if none is)."""
    chunked = [m for m in methods if m["split"] != "none"] or methods
    maps = []
    for m in chunked:
        chunk = load_chunks(m["chunks_path"])
        maps.append({"name": m["name"], "split": m["split"], "k": int(chunk.max()) + 1, "chunk": chunk[here]})
    return maps


def crop_title(crop: dict) -> str:
    where = "" if crop["chunk"] is None else f", chunk {crop['chunk']}"
    return f"{crop['name']}{where}\n{crop['psnr']:.2f} dB"


def figures(lr_path, hr_path, patches_path, general_path, metric_paths, chunk_paths, model_paths,
            out_curves, out_chunk_map, out_crops, *, scale: int, video: str = "", device: str = "auto",
            threads: int = 1, batch_size: int = 64) -> dict:
    """Every figure of one (video, scale): per-frame PSNR curves, chunk maps, hardest-patch crops."""
    dev = setup(device, threads)
    runs = {Path(p).parent: load_json(p) for p in metric_paths}
    table = pd.read_parquet(patches_path).sort_values("patch_id", ignore_index=True)
    lr, hr = load_frames(lr_path), load_frames(hr_path)
    methods = method_inputs(runs, chunk_paths, model_paths)

    plot_psnr_per_frame(list(runs.values()), out_curves, video=video, scale=scale)

    frame_id = int(table.loc[table["is_eval"], "frame"].min())
    here = (table["frame"] == frame_id).to_numpy()
    plot_chunk_maps(np.asarray(hr[frame_id]), table[here], chunk_maps(methods, here), out_chunk_map, video=video,
                    scale=scale, frame_id=frame_id)

    patch = hardest_patch(lr, hr, table, scale, general_path, methods, dev, batch_size)
    title = (f"{video} x{scale}: hardest patch (lowest general-model PSNR): frame {patch['frame']}, "
             f"row {patch['row']}, col {patch['col']}\nPSNR dB, STDO patch convention: RGB, "
             f"{patch['shave']} px shaved from each border (inside the dashed box)")
    plot_patch_crops([(crop_title(c), c["image"]) for c in patch["crops"]], patch["hr"], out_crops, title=title,
                     shave=patch["shave"])
    summary = {c["name"]: round(c["psnr"], 2) for c in patch["crops"]}
    log.info("%s x%d: figures written; hardest patch %d, PSNR %s", video, scale, patch["patch_id"], summary)
    return {"eval_frame": frame_id, "hardest_patch": patch["patch_id"], "hardest_patch_psnr": summary}
