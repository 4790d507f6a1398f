"""Stage: the codec in the loop.

- `encode_lr`: one rate point of a scale's LR frames through a real encoder (PyAV), decoded back:
  the decoded frames are what a client has, so labelling, training and evaluation of the delivery
  setting can use them. The `lossless` rate point carries the frames in FFV1, bit-exactly (the
  papers' setting: the decoded frames are the ingested ones, checked).
- `encode_hr`: the baseline a streaming engineer would pick instead, the HR frames through the same
  encoder at a rate point, scored against the HR frames like every SR video.
Each writes the encoder, its settings and the bitstream's size to a JSON beside the stream."""
from __future__ import annotations

import logging
import math

import numpy as np

from .delivery import stream
from .errors import InputError
from .io import atomic_path, load_frames, load_json, save_json
from .scoring import kbps, score_stream
from .vocabulary import rate_settings

log = logging.getLogger(__name__)


def _encode(frames: np.ndarray, path, rate: str, *, fps: float, encoder: str, preset, threads: int,
            segment_seconds: float | None = None) -> dict:
    """`segment_seconds`: a keyframe forced at every segment start (the first frame at or after it), so that the
    stream can be cut into DASH segments of that length; FFV1 (lossless) is all keyframes anyway."""
    settings = rate_settings(rate)  # the encoders write `path` atomically themselves
    if settings.get("lossless"):
        description = stream.encode_lossless(iter(frames), path, fps=fps, threads=threads)
    else:
        # the DASH muxer cuts at the first keyframe at or after each segment's length: never one frame short of it
        every = max(1, math.ceil(fps * segment_seconds - 1e-9)) if segment_seconds else None
        description = stream.encode(iter(frames), path, fps=fps, encoder=encoder, preset=preset, threads=threads,
                                    keyframe_every=every, **settings)
    return {**description, "rate": rate, "kbps": kbps(description["bytes"], len(frames), fps)}


FOLDER_FPS = 30.0  # VSD4K's frame rate, for folders of frames that carry none


def video_fps(meta_path, fps: float | None = None) -> float:
    """The configured frame rate, else the container's, else FOLDER_FPS."""
    return float(fps or load_json(meta_path).get("fps") or FOLDER_FPS)


def encode_lr(lr_path, meta_path, out_stream, out_json, *, rate: str, encoder: str = "libx264", preset=None,
              fps: float | None = None, out_frames=None, threads: int = 1,
              segment_seconds: float | None = None) -> dict:
    """Encode the LR frames at `rate`; write the decoded frames to `out_frames` (not for lossless,
    whose decoded frames are checked to be the input itself)."""
    lr = load_frames(lr_path)
    if lr.shape[1] % 2 or lr.shape[2] % 2:
        raise InputError(f"{lr_path}: {lr.shape[2]}x{lr.shape[1]} LR frames; the encoders need even sizes")
    description = _encode(lr, out_stream, rate, fps=video_fps(meta_path, fps), encoder=encoder, preset=preset,
                          threads=threads, segment_seconds=segment_seconds)
    if rate_settings(rate).get("lossless"):
        _check_lossless(out_stream, lr)
    elif out_frames is not None:
        with atomic_path(out_frames) as tmp:
            decoded = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=lr.shape)
            for i, frame in enumerate(_decoded(out_stream, len(lr))):
                decoded[i] = frame
            decoded.flush()
            del decoded
    save_json(description, out_json)
    log.info("LR %s: %d bytes, %.1f kbit/s", rate, description["bytes"], description["kbps"])
    return description


def _decoded(path, count: int):
    n = 0
    for frame in stream.decode(path):
        if n == count:
            raise InputError(f"{path}: decodes to more than the {count} frames encoded")
        yield frame
        n += 1
    if n != count:
        raise InputError(f"{path}: decodes to {n} of the {count} frames encoded")


def _check_lossless(path, frames: np.ndarray) -> None:
    for i, frame in enumerate(_decoded(path, len(frames))):
        if not np.array_equal(frame, frames[i]):
            raise RuntimeError(f"{path}: lossless stream decodes frame {i} differently")


def encode_hr(hr_path, meta_path, out_stream, out_metrics, *, rate: str, encoder: str = "libx264", preset=None,
              fps: float | None = None, threads: int = 1, vmaf_subsample: int = 1, info: dict | None = None,
              segment_seconds: float | None = None) -> dict:
    """Encode the HR frames at `rate` and score the decoded video against them (`vmaf_subsample`:
    VMAF and SSIM on every n-th frame only, as the packages are scored)."""
    hr = load_frames(hr_path)
    fps = video_fps(meta_path, fps)
    description = _encode(hr, out_stream, rate, fps=fps, encoder=encoder, preset=preset, threads=threads,
                          segment_seconds=segment_seconds)
    scores = score_stream(out_stream, hr_path, fps=fps, threads=threads, vmaf_subsample=vmaf_subsample)
    result = {**(info or {}), "rate": rate, "scale": 1, "fps": fps, "encoder": encoder,
              "stream_bytes": description["bytes"], "package_bytes": description["bytes"],
              "kbps_stream": description["kbps"], "kbps_package": description["kbps"], "codec": description,
              **scores}
    save_json(result, out_metrics)
    log.info("HR %s: %.1f kbit/s, PSNR-Y %.2f dB, VMAF %.2f", rate, description["kbps"], scores["rd_psnr_y"],
             scores["vmaf"])
    return result
