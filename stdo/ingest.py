"""Stage 1: decode a video, a VSD4K folder or a folder of frames into memory-mappable uint8 HR
and LR frame arrays, plus a meta JSON.

Every frame is decoded once. A video's frames are counted without decoding, from the packets PyAV
demuxes (checked against the count the container declares, where it declares one), then decoded
by OpenCV (cvtColor BGR to RGB), which must yield exactly that many. Frames go through in batches:
each is appended to hr.npy and downscaled, in memory, for every scale's lr_x{s}.npy, so memory is
bounded by the batch whatever the length of the video.

HR is cropped at the top-left corner (so given LR frames stay aligned) to the largest size that
every configured scale and patch grid divides. Missing LR frames are made from the cropped HR
with PyTorch's antialiased bicubic (`interpolate(mode="bicubic", antialias=True)`: the
PIL-compatible Keys kernel, a = -0.5, widened by the scale), rounded to uint8.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from .errors import InputError
from .io import read_image, save_json, sha256_files, staged_dir
from .resample import downscale_float
from .sources import IMAGE_SUFFIXES, VSD4K_HR, VSD4K_LR, frame_files

log = logging.getLogger(__name__)
DOWNSCALER = "torch.nn.functional.interpolate(mode='bicubic', antialias=True), rounded to uint8"


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _images_in(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


class TruncatedVideo(InputError):
    """A video file holds fewer frames than its container declares."""


class Source:
    """Frames of one input, decoded lazily. `lr_files[s]` lists given LR frames for scale s."""

    def __init__(self, path: Path, scales, max_frames: int | None = None, allow_truncated: bool = False):
        self.path, self.fps, self.lr_files = path, None, {}
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir() and (path / VSD4K_HR).is_dir():
            self.kind, self.hr_files = "vsd4k", _images_in(path / VSD4K_HR)
            self.lr_files = {s: self._vsd4k_lr(s) for s in scales if (path / VSD4K_LR / f"X{s}").is_dir()}
        elif path.is_dir():
            self.kind, self.hr_files = "frames", _images_in(path)
        else:
            self.kind, self.hr_files = "video", []
            self.count, self.fps = _probe_video(path, allow_truncated)
        if self.kind != "video":
            if not self.hr_files:
                raise InputError(f"{path}: folder holds no frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
            self.count = len(self.hr_files)
        # All of it is ingested: then a video's decoder must end where its count does.
        self.whole = not max_frames or max_frames >= self.count
        if max_frames:
            self.count = min(self.count, max_frames)
            self.hr_files = self.hr_files[: self.count]
            self.lr_files = {s: files[: self.count] for s, files in self.lr_files.items()}

    def _vsd4k_lr(self, scale: int) -> list[Path]:
        folder = self.path / VSD4K_LR / f"X{scale}"
        files = []
        for hr in self.hr_files:
            names = [f"{hr.stem}x{scale}{hr.suffix}", f"{hr.stem}_x{scale}{hr.suffix}"]
            found = [folder / n for n in names if (folder / n).exists()]
            if not found:
                raise InputError(f"{folder}: no LR frame for {hr.name} (looked for {' or '.join(names)})")
            files.append(found[0])
        return files

    def hr_frames(self) -> Iterator[np.ndarray]:
        if self.kind == "video":
            yield from _decode_video(self.path, self.count, self.whole)
        else:
            yield from (read_image(p) for p in self.hr_files)

    def files(self) -> list[Path]:
        if self.kind == "video":
            return [self.path]
        return self.hr_files + [p for files in self.lr_files.values() for p in files]


def _probe_video(path: Path, allow_truncated: bool = False) -> tuple[int, float | None]:
    """The frame count (from the packets) and OpenCV's frame rate, decoding nothing; `allow_truncated`:
    the frames that decode, counted by decoding them all, when the packets are fewer than declared or
    the last ones do not decode (a cut file)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: not a video OpenCV can decode (it cannot open it)")
        fps = cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    try:
        count = _count_frames(path)
    except TruncatedVideo as err:
        if not allow_truncated:
            raise
        count = _count_decodable(path)
        log.warning("%s; ingesting the %d frames that decode (allow_truncated)", err, count)
    else:
        if allow_truncated:
            count = min(count, _count_decodable(path))
    if count == 0:
        raise InputError(f"{path}: not a video OpenCV can decode (it holds no video frames)")
    return count, (fps if fps and math.isfinite(fps) and fps > 0 else None)


def _count_frames(path: Path) -> int:
    """Frames of the first video stream (the one OpenCV decodes): its packets that carry data, less
    those the container marks discarded (outside an MP4 edit list), which decoders drop. Discarded
    ones included, they must be as many as the container declares, where it declares a number (MP4
    and AVI do, Matroska does not): fewer means a truncated or damaged file."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: holds no video stream")
            stream = container.streams.video[0]
            declared, packets, discarded = stream.frames, 0, 0
            for packet in container.demux(stream):
                if packet.size:  # not the empty packet that ends the stream
                    packets += 1
                    discarded += packet.is_discard
    except av.FFmpegError as exc:
        raise InputError(f"{path}: cannot read the video's packets: {' '.join(str(exc).split())}") from exc
    if declared and declared != packets:
        raise TruncatedVideo(f"{path}: the container declares {declared} frames but holds {packets} video packets "
                             "(truncated or damaged? allow_truncated: true ingests the frames that decode)")
    return packets - discarded


def _count_decodable(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


def _decode_video(path: Path, count: int, whole: bool) -> Iterator[np.ndarray]:
    """`count` frames decoded by OpenCV; `whole`: they are all the video should hold."""
    cap = cv2.VideoCapture(str(path))
    try:
        for i in range(count):
            ok, frame = cap.read()
            if not ok:
                raise InputError(f"{path}: decoded {i} of {count} frames (cut or damaged? allow_truncated: true "
                                 "ingests the frames that decode)")
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if whole and cap.grab():
            raise InputError(f"{path}: decoded more than the {count} frames its packets count")
    finally:
        cap.release()


def plan_crop(width: int, height: int, scales, grids, name="video") -> tuple[int, int]:
    """Largest top-left (width, height) that every scale's grid divides into whole LR pixels, with
    even LR sizes (4:2:0 video encoders need them)."""
    unit_w = math.lcm(*(s * grids[s][0] for s in scales), *(2 * s for s in scales))
    unit_h = math.lcm(*(s * grids[s][1] for s in scales), *(2 * s for s in scales))
    crop = (width // unit_w * unit_w, height // unit_h * unit_h)
    if 0 in crop:
        raise InputError(
            f"{name}: {width}x{height} frames are smaller than one patch grid "
            f"(scales {list(scales)} with their grids need at least {unit_w}x{unit_h})")
    return crop


def _cropped(frames, width, height, name, expect=None):
    """Crop each frame top-left, checking every frame has the size of the first (or `expect`)."""
    for i, frame in enumerate(frames):
        expect = expect or frame.shape[:2]
        if frame.shape[:2] != expect:
            raise InputError(f"{name}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, "
                             f"expected {expect[1]}x{expect[0]}")
        yield frame[:height, :width]


def _check_lr_size(path: Path, lr_shape, hr_size, scale) -> None:
    (w, h), (lw, lh) = hr_size, (lr_shape[1], lr_shape[0])
    if lw not in (w // scale, -(-w // scale)) or lh not in (h // scale, -(-h // scale)):
        raise InputError(f"{path}: LR frame is {lw}x{lh} but HR {w}x{h} at x{scale} "
                         f"needs {w // scale}x{h // scale}")


def _lr_frames(files, scale, hr_size, crop):
    for path in files:
        lr = read_image(path)
        _check_lr_size(path, lr.shape, hr_size, scale)
        yield lr[: crop[1] // scale, : crop[0] // scale]


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Consecutive batches of `size` frames (the last may be shorter), stacked."""
    while chunk := list(itertools.islice(frames, size)):
        yield np.stack(chunk)


@contextlib.contextmanager
def _npy_writer(path: Path, count: int, width: int, height: int):
    """An open .npy file of (count, height, width, 3) uint8 frames, to be written in order after its
    header. Plain writes, not a memory map: mapped pages would count as this process's memory."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": (count, height, width, 3)})
        yield f
        f.flush()
        os.fsync(f.fileno())  # on disk before staged_dir renames it into place


def _write_frames(files, src: Source, frames, size, crop, scales, batch: int) -> None:
    """Write hr.npy and every lr_x{s}.npy batch by batch as the HR frames arrive."""
    width, height = crop
    given = {s: _lr_frames(lr_files, s, size, crop) for s, lr_files in src.lr_files.items()}
    made = [s for s in scales if s not in given]
    # Each batch in float once for every scale, in one reused buffer: a new tensor per batch cost
    # page faults worth a fifth of ingest's time. Memory is only touched when a scale is made.
    floats = torch.empty((batch, height, width, 3))
    with contextlib.ExitStack() as stack:
        hr_out = stack.enter_context(_npy_writer(files["hr"], src.count, width, height))
        lr_out = {s: stack.enter_context(_npy_writer(files[f"lr_x{s}"], src.count, width // s, height // s))
                  for s in scales}
        for hr in _batches(_cropped(frames, width, height, str(src.path)), batch):
            hr.tofile(hr_out)
            for s in given:
                np.stack([next(given[s]) for _ in hr]).tofile(lr_out[s])
            t = floats[:len(hr)].copy_(torch.from_numpy(hr)).permute(0, 3, 1, 2) if made else None
            for s in made:
                downscale_float(t, s).tofile(lr_out[s])


def _check_space(out_dir, needed: float) -> None:
    """Refuse to start writing frame arrays that cannot fit (the sizes are known up front)."""
    folder = Path(out_dir).resolve()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise InputError(f"{out_dir}: the frame arrays need {_size(needed)}, {_size(free)} are free there")


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def ingest(source, out_dir, scales, grids, max_frames: int | None = None, allow_truncated: bool = False,
           threads: int = 1, batch: int = 8) -> dict:
    """Write hr.npy, lr_x{s}.npy and meta.json under out_dir (all or nothing); return the meta."""
    torch.set_num_threads(threads)
    scales = [int(s) for s in scales]
    grids = {int(s): tuple(g) for s, g in grids.items()}
    src = Source(Path(source), scales, max_frames, allow_truncated)
    frames = src.hr_frames()
    first = next(frames)
    height, width = first.shape[:2]
    crop = plan_crop(width, height, scales, grids, name=str(src.path))
    meta = {
        "source": str(src.path), "kind": src.kind, "source_sha256": sha256_files(src.files()),
        "fps": src.fps, "frames": src.count, "size": [width, height],
        "crop": {"x0": 0, "y0": 0, "width": crop[0], "height": crop[1]},
        "scales": scales, "grids": {str(s): list(grids[s]) for s in scales},
        "lr_source": {str(s): "given" if s in src.lr_files else "bicubic" for s in scales},
        "downscaler": DOWNSCALER,
    }
    _check_space(out_dir, src.count * crop[0] * crop[1] * 3 * (1 + sum(1 / s**2 for s in scales)))
    with staged_dir(out_dir) as staging:
        files = frame_files(staging, scales)
        _write_frames(files, src, itertools.chain([first], frames), (width, height), crop, scales, batch)
        save_json(meta, files["meta"])
    log.info("ingested %d frames of %dx%d from %s, cropped to %dx%d; LR %s", src.count, width, height,
             src.path, crop[0], crop[1], meta["lr_source"])
    return meta
