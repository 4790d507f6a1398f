"""Stage: something to look at. A short side-by-side video of one (video, scale, rate point):

    bicubic from the LR stream | the best method (highest VMAF at that rate) | the original HR

each panel the same full-resolution crop from the middle of the frame, labelled with its method,
delivered kbit/s and VMAF, played from the packages by the client's own function. Written as an
MP4 (H.264) and as a self-contained HTML page embedding it, which the Snakemake report shows."""
from __future__ import annotations

import base64
import html
import itertools
import logging
from pathlib import Path

import cv2
import numpy as np

from .delivery import stream
from .delivery.manifest import open_package
from .delivery.player import upscale
from .errors import InputError
from .io import atomic_path, load_frames, load_json

log = logging.getLogger(__name__)
REFERENCES = ("bicubic", "general")
LABEL_HEIGHT = 30


def best_method(runs: list[dict]) -> dict:
    """The method (not a reference) with the highest VMAF."""
    methods = [r for r in runs if r["method"] not in REFERENCES]
    if not methods:
        raise InputError("side by side: no method among the metrics given")
    return max(methods, key=lambda r: r["vmaf"])


def labelled(panel: np.ndarray, text: str) -> np.ndarray:
    """The panel under a black bar with `text` in white."""
    bar = np.zeros((LABEL_HEIGHT, panel.shape[1], 3), np.uint8)
    cv2.putText(bar, text, (6, LABEL_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bar, panel])


def centre_crop(width: int, panels: int) -> slice:
    """Columns of an even-width crop from the middle of a frame, wide enough that `panels` fit the frame width."""
    crop = max(2, width // panels // 2 * 2)
    start = (width - crop) // 2 // 2 * 2
    return slice(start, start + crop)


def frames_side_by_side(streams, labels, columns: slice):
    for frames in zip(*streams):
        yield np.concatenate([labelled(np.ascontiguousarray(f[:, columns]), t) for f, t in zip(frames, labels)],
                             axis=1)


def side_by_side(metric_paths, hr_path, out_video, out_html, *, video: str, scale: int, rate: str,
                 seconds: float = 10.0, threads: int = 1) -> dict:
    runs = {run["method"]: (Path(p), run) for p, run in ((p, load_json(p)) for p in metric_paths)}
    if "bicubic" not in runs:
        raise InputError("side by side: the bicubic reference's metrics are missing")
    best = best_method([r for _, r in runs.values()])
    shown = [runs["bicubic"], runs[best["method"]]]
    packages = [open_package(path.parent / "package") for path, _ in shown]
    fps = packages[0].manifest["fps"]
    count = min(packages[0].manifest["frames"], max(1, int(round(seconds * fps))))
    hr = load_frames(hr_path)
    labels = [f"{'bicubic from the LR stream' if r['method'] == 'bicubic' else r['method']}: "
              f"{r['kbps_package']:.0f} kbit/s, VMAF {r['vmaf']:.1f}" for _, r in shown] + ["original (HR)"]
    sources = [itertools.islice(upscale(p, threads=threads), count) for p in packages] + [iter(hr[:count])]
    columns = centre_crop(hr.shape[2], len(sources))
    stream.encode(frames_side_by_side(sources, labels, columns), out_video, fps=fps, encoder="libx264",
                  preset="medium", crf=20, threads=threads)
    page = showcase_page(Path(out_video).read_bytes(), title=f"{video} x{scale} at {rate}: " + " | ".join(labels))
    with atomic_path(out_html) as tmp:
        tmp.write_text(page)
    log.info("side by side at %s: bicubic | %s | original, %d frames", rate, best["method"], count)
    return {"best": best["method"], "frames": count}


def showcase_page(mp4: bytes, *, title: str) -> str:
    """A self-contained page that plays the video (embedded as a data URI)."""
    uri = "data:video/mp4;base64," + base64.b64encode(mp4).decode()
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body style='margin:0;background:#111;color:#eee;font-family:sans-serif'>"
            f"<p style='margin:6px'>{html.escape(title)}</p>"
            f"<video id=showcase controls autoplay loop muted playsinline style='max-width:100%' src='{uri}'></video>"
            f"</body></html>")
