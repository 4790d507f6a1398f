"""Stage: something to look at. A short side-by-side video of one (video, scale, rate point):

    bicubic from the LR stream | the best method (highest VMAF at that rate) |
    the HR video through the codec at the closest bytes (when there is an HR baseline) | the original

each panel the same full-resolution crop from the middle of the frame, labelled with what it is,
its delivered kbit/s and VMAF; the LR panels are played from the packages by the client's own
function. Written as an MP4 (H.264) and as a self-contained HTML page embedding it, which the
Snakemake report shows."""
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
from .io import load_frames, load_json, save_text
from .vocabulary import REFERENCE_METHODS

log = logging.getLogger(__name__)
LINE_HEIGHT = 20


def best_method(runs: list[dict]) -> dict:
    """The method (not a reference) with the highest VMAF."""
    methods = [r for r in runs if r["method"] not in REFERENCE_METHODS]
    if not methods:
        raise InputError("side by side: no method among the metrics given")
    return max(methods, key=lambda r: r["vmaf"])


def labelled(panel: np.ndarray, lines: tuple[str, ...]) -> np.ndarray:
    """The panel under a black bar with `lines` of white text."""
    bar = np.zeros((LINE_HEIGHT * len(lines) + 6, panel.shape[1], 3), np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bar, text, (6, LINE_HEIGHT * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
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


def scores(run: dict) -> str:
    return f"{run['kbps_package']:.0f} kbit/s, VMAF {run['vmaf']:.1f}"


def closest_rate(hr_runs: list[tuple[Path, dict]], kbps: float):
    """The HR codec point whose rate is closest to `kbps` (on a log scale), or None."""
    return min(hr_runs, key=lambda run: abs(np.log(run[1]["kbps_package"] / kbps)), default=None)


def side_by_side(metric_paths, hr_path, out_video, out_html, *, video: str, scale: int, rate: str,
                 hr_metric_paths=(), seconds: float = 10.0, base_dir=None, threads: int = 1) -> dict:
    runs = {run["method"]: (Path(p), run) for p, run in ((p, load_json(p)) for p in metric_paths)}
    if "bicubic" not in runs:
        raise InputError("side by side: the bicubic reference's metrics are missing")
    best = best_method([r for _, r in runs.values()])
    packages = [open_package(runs[m][0].parent / "package", base_dir=base_dir) for m in ("bicubic", best["method"])]
    fps = packages[0].manifest["fps"]
    count = min(packages[0].manifest["frames"], max(1, int(round(seconds * fps))))
    sources = [itertools.islice(upscale(p, threads=threads), count) for p in packages]
    labels = [(f"bicubic, LR stream {rate}", scores(runs["bicubic"][1])), (best["method"], scores(best))]
    codec = closest_rate([(Path(p), load_json(p)) for p in hr_metric_paths], best["kbps_package"])
    if codec is not None:
        sources.append(itertools.islice(stream.decode(codec[0].parent / "stream.mp4"), count))
        labels.append((f"HR through the codec, {codec[1]['rate']}", scores(codec[1])))
    hr = load_frames(hr_path)
    sources.append(iter(hr[:count]))
    labels.append(("original (HR)", ""))
    columns = centre_crop(hr.shape[2], len(sources))
    stream.encode(frames_side_by_side(sources, labels, columns), out_video, fps=fps, encoder="libx264",
                  preset="medium", crf=20, threads=threads)
    title = f"{video} x{scale} at {rate}: " + " | ".join(f"{name} ({detail})" if detail else name
                                                         for name, detail in labels)
    page = showcase_page(Path(out_video).read_bytes(), title=title)
    save_text(page, out_html)
    log.info("%s, %d frames", title, count)
    return {"best": best["method"], "codec": codec[1]["rate"] if codec else None, "frames": count}


def showcase_page(mp4: bytes, *, title: str) -> str:
    """A self-contained page that plays the video (embedded as a data URI)."""
    uri = "data:video/mp4;base64," + base64.b64encode(mp4).decode()
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body style='margin:0;background:#111;color:#eee;font-family:sans-serif'>"
            f"<p style='margin:6px'>{html.escape(title)}</p>"
            f"<video id=showcase controls autoplay loop muted playsinline style='max-width:100%' src='{uri}'></video>"
            f"</body></html>")
