"""Figures and tables for Snakemake's HTML report (`snakemake --report report.html`).

- `figures`: the pictures of one (video, scale): PSNR of every evaluation frame per method, the
  patch -> chunk map of each chunked method drawn over a frame, and the hardest patch as
  bicubic, the general model and every method super-resolve it, next to the HR patch.
- `tables`: the comparison and summary tables of the aggregate stage, and a summary of the
  Snakemake benchmark files (seconds, peak RSS), as small self-contained HTML pages (the report
  shows HTML inline; Markdown and CSV only as downloads).

Every PNG and page appears under its final name only once complete (`stdo.io.atomic_path`)."""
from __future__ import annotations

import html
import logging
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from . import metrics, models  # noqa: E402
from .cluster import load_chunks, ranking  # noqa: E402
from .errors import InputError  # noqa: E402
from .infer import setup, super_resolve  # noqa: E402
from .io import atomic_path, load_frames, load_json, save_png  # noqa: E402
from .patches import gather, grid_of  # noqa: E402

log = logging.getLogger(__name__)

REFERENCES = ("bicubic", "general")
SPLIT_NOTE = {
    "stdo": "chunks by general-model PSNR, 0 = hardest",
    "kmeans": "k-means on patch features, 0 = hardest",
    "temporal": "chunks are frame ranges: a frame is one colour",
    "none": "one chunk",
}


def chunk_colours(k: int) -> list:
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [cmap(c % cmap.N) for c in range(k)]


# ---------------------------------------------------------------- checkpoints


def load_models(paths, scale: int, device):
    """Chunk models in chunk order; the literal 'bicubic' stands for bicubic interpolation."""
    loaded = []
    for path in paths:
        if str(path) == "bicubic":
            loaded.append((models.build("bicubic", scale), {"arch": "bicubic"}))
        else:
            loaded.append(models.load_checkpoint(path, device))
    return loaded


def per_chunk(loaded, k: int, source) -> list:
    """The model of each of the k chunks: one model each, CaFM views of one shared model, or one
    model for every chunk (JSTDO, m0, references)."""
    if len(loaded) == k:
        return loaded
    if len(loaded) == 1:
        model, meta = loaded[0]
        if meta.get("cafm_chunks") not in (None, k):
            raise InputError(f"{source}: the CaFM model has {meta['cafm_chunks']} chunks, the chunk map {k}")
        if meta.get("cafm_chunks"):
            return [(models.ChunkView(model, c), meta) for c in range(k)]
        return loaded * k
    raise InputError(f"{source}: patches fall into {k} chunks but {len(loaded)} models were given")


# ---------------------------------------------------------------- per-frame PSNR


def plot_psnr_per_frame(runs: list[dict], path, *, video: str, scale: int) -> None:
    """One line per method (references dashed): PSNR of each evaluation frame, from metrics.json."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        reference = run["method"] in REFERENCES
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


def hardest_patch(lr, hr, table: pd.DataFrame, scale: int, general_path, methods: list[dict], device,
                  batch_size: int = 64) -> dict:
    """The hardest patch by the labeller's score (the lowest general-model PSNR in STDO), super-resolved
    by bicubic, the general model and each method's model for that patch's chunk; PSNR of each under the
    STDO patch convention."""
    grid = grid_of(table, scale)
    row = table.iloc[int(np.argmin(ranking(table)))]
    pid = int(row["patch_id"])
    lr_patch = gather(lr, grid, [pid])
    hr_patch = gather(hr, grid, [pid], factor=scale)
    shave = metrics.stdo_shave(scale)
    candidates = [("bicubic", load_models(["bicubic"], scale, device)[0][0], None),
                  ("general", load_models([general_path], scale, device)[0][0], None)]
    for m in methods:
        chunk = load_chunks(m["chunks_path"])
        k = int(chunk.max()) + 1
        model = per_chunk(load_models(m["model_paths"], scale, device), k, m["chunks_path"])[chunk[pid]][0]
        candidates.append((m["name"], model, int(chunk[pid])))
    crops = []
    for name, model, c in candidates:
        sr = super_resolve(model, lr_patch, device, batch_size)
        value = float(metrics.psnr(metrics.mse(sr, hr_patch, shave))[0])
        where = "" if c is None else f", chunk {c}"
        crops.append({"name": name, "chunk": c, "psnr": value, "image": sr[0],
                      "title": f"{name}{where}\n{value:.2f} dB"})
    general_psnr = crops[1]["psnr"]
    if "psnr" in row and abs(general_psnr - float(row["psnr"])) > 0.01:
        log.warning("general model on patch %d: %.3f dB here, %.3f dB in %s", pid, general_psnr, row["psnr"],
                    "patches.parquet")
    return {"patch_id": pid, "frame": int(row["frame"]), "row": int(row["row"]), "col": int(row["col"]),
            "shave": shave, "hr": hr_patch[0], "crops": crops}


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
    chunked = [m for m in methods if m["split"] != "none"] or methods
    maps = []
    for m in chunked:
        chunk = load_chunks(m["chunks_path"])
        maps.append({"name": m["name"], "split": m["split"], "k": int(chunk.max()) + 1, "chunk": chunk[here]})
    plot_chunk_maps(np.asarray(hr[frame_id]), table[here], maps, out_chunk_map, video=video, scale=scale,
                    frame_id=frame_id)

    patch = hardest_patch(lr, hr, table, scale, general_path, methods, dev, batch_size)
    title = (f"{video} x{scale}: hardest patch (lowest general-model PSNR): frame {patch['frame']}, "
             f"row {patch['row']}, col {patch['col']}\nPSNR dB, STDO patch convention: RGB, "
             f"{patch['shave']} px shaved from each border (inside the dashed box)")
    plot_patch_crops([(c["title"], c["image"]) for c in patch["crops"]], patch["hr"], out_crops, title=title,
                     shave=patch["shave"])
    summary = {c["name"]: round(c["psnr"], 2) for c in patch["crops"]}
    log.info("%s x%d: figures written; hardest patch %d, PSNR %s", video, scale, patch["patch_id"], summary)
    return {"eval_frame": frame_id, "hardest_patch": patch["patch_id"], "hardest_patch_psnr": summary}


# ---------------------------------------------------------------- tables as HTML

STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; }
th { background: #eef; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #555; max-width: 60em; }
"""
NUMBER = re.compile(r"^-?[\d.,]+( ?[a-zA-Z%]+)?$")


def inline(text: str) -> str:
    """Escape a line of Markdown and keep its **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def html_table(header, rows) -> str:
    head = "".join(f"<th>{inline(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if NUMBER.match(str(v)) else ""}>{inline(str(v))}</td>'
                         for v in row) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_to_html(text: str) -> str:
    """The Markdown the aggregate stage writes (pipe tables, bold lines, '- ' lists, paragraphs)."""
    parts, block = [], []

    def flush():
        if not block:
            return
        if all(line.startswith("|") for line in block):
            cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
            body = [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
            parts.append(html_table(cells[0], body))
        else:
            items = []
            for line in block:
                if line.startswith("- "):
                    items.append(f"<li>{inline(line[2:])}</li>")
                    continue
                if items:
                    parts.append("<ul>" + "".join(items) + "</ul>")
                    items = []
                parts.append(f"<p>{inline(line)}</p>")
            if items:
                parts.append("<ul>" + "".join(items) + "</ul>")
        block.clear()

    for line in text.splitlines():
        if line.strip():
            block.append(line.rstrip())
        else:
            flush()
    flush()
    return "\n".join(parts)


def html_page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def read_benchmarks(paths) -> pd.DataFrame:
    """One row per benchmark TSV (results/benchmarks/<stage>/<job>.tsv): wall seconds and peak RSS
    (MB); a file with several repeats gives the mean seconds and the largest RSS. Snakemake writes an RSS
    of 0 for a job that ended before its first memory sample: that is "not measured" (NaN), shown "-"."""
    rows = []
    for path in paths:
        path = Path(path)
        bench = pd.read_csv(path, sep="\t")
        missing = {"s", "max_rss"} - set(bench.columns)
        if missing or bench.empty:
            raise InputError(f"{path}: not a Snakemake benchmark file (no {', '.join(sorted(missing)) or 'rows'})")
        rows.append({"stage": path.parent.name, "job": path.stem,
                     "s": pd.to_numeric(bench["s"], errors="coerce").mean(),
                     "max_rss_mb": pd.to_numeric(bench["max_rss"], errors="coerce").max()})
        if not rows[-1]["max_rss_mb"] > 0:
            rows[-1]["max_rss_mb"] = float("nan")
    return pd.DataFrame(rows, columns=["stage", "job", "s", "max_rss_mb"])


def benchmark_summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: jobs, total and largest wall seconds, largest peak RSS."""
    grouped = jobs.groupby("stage", sort=False)
    return pd.DataFrame({"jobs": grouped.size(), "total_s": grouped["s"].sum(), "max_s": grouped["s"].max(),
                         "max_rss_mb": grouped["max_rss_mb"].max()}).reset_index()


def number(value, digits: int) -> str:
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


def tables(comparison_path, summary_path, benchmark_paths, out_comparison, out_benchmarks,
           out_benchmarks_csv) -> pd.DataFrame:
    """The comparison and summary tables as one HTML page; the benchmarks as an HTML page and a CSV."""
    body = markdown_to_html(Path(comparison_path).read_text())
    body += "\n<h2>Every (video, scale, method)</h2>\n" + markdown_to_html(Path(summary_path).read_text())
    with atomic_path(out_comparison) as tmp:
        tmp.write_text(html_page("Comparison of the methods", body))

    jobs = read_benchmarks(benchmark_paths)
    with atomic_path(out_benchmarks_csv) as tmp:
        jobs.to_csv(tmp, index=False, float_format="%.2f")
    per_stage = benchmark_summary(jobs)
    note = ("<p class=note>From Snakemake's <code>benchmark:</code> files, one per job "
            "(<code>results/benchmarks/&lt;stage&gt;/&lt;job&gt;.tsv</code>): <code>s</code> is wall-clock seconds, "
            "<code>max_rss</code> the peak resident memory in MB. The stage is the folder: <code>train</code> holds "
            "train and train_joint jobs, <code>evaluate</code> the methods and the reference rows. Jobs that did not "
            "re-run keep the numbers of their last run.</p>")
    stage_rows = [[r.stage, r.jobs, number(r.total_s, 1), number(r.max_s, 1), number(r.max_rss_mb, 0)]
                  for r in per_stage.itertuples()]
    stage_rows.append(["all", len(jobs), number(jobs["s"].sum(), 1), number(jobs["s"].max(), 1),
                       number(jobs["max_rss_mb"].max(), 0)])
    job_rows = [[r.stage, r.job, number(r.s, 1), number(r.max_rss_mb, 0)] for r in jobs.itertuples()]
    body = (note + "<h2>Per stage</h2>"
            + html_table(["stage", "jobs", "total s", "max s", "max RSS MB"], stage_rows)
            + "<h2>Per job</h2>" + html_table(["stage", "job", "s", "max RSS MB"], job_rows))
    with atomic_path(out_benchmarks) as tmp:
        tmp.write_text(html_page("Benchmarks: seconds and peak memory per job", body))
    log.info("tables written: %d benchmark files, %.1f s in all", len(jobs), jobs["s"].sum())
    return jobs
