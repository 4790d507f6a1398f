"""1080p test material for the benchmarks, made from the bundled clip (1280x720, 132 frames, 25 fps):
each frame upscaled to 1920x1080 with OpenCV's bicubic, the clip looped to the length asked for, at 30 fps.

A looped, upscaled clip has the size and the decoding/labelling cost of a real 1080p video, not its
content: use it for time and memory, never for quality claims. As a script it writes one clip:

    python benchmarks/clips.py --seconds 45 --out resources/hd45/hd45s.mp4   # config/experiments/hd45.yaml
"""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from stdo.delivery.stream import encode
from stdo.resample import downscale
from stdo.sources import bundled_clip

HD = (1920, 1080)
FPS = 30  # VSD4K's frame rate: a 45-second clip has 1,350 frames


def hd_frames(count: int, size: tuple[int, int] = HD) -> Iterator[np.ndarray]:
    """`count` RGB uint8 frames of `size` (width, height): the bundled clip resized, looped."""
    cap = cv2.VideoCapture(str(bundled_clip()))
    source = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        source.append(frame)
    cap.release()
    for i in range(count):
        yield cv2.cvtColor(cv2.resize(source[i % len(source)], size, interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)


def write_hd_arrays(folder, count: int, scales=(4,), size: tuple[int, int] = HD,
                    block: int = 16) -> dict[str, Path]:
    """hr.npy and lr_x{s}.npy (memory-mappable, as ingest writes them) of `count` frames of `size`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (w, h) = size
    paths = {"hr": folder / "hr.npy", **{f"lr_x{s}": folder / f"lr_x{s}.npy" for s in scales}}
    arrays = {"hr": np.lib.format.open_memmap(paths["hr"], "w+", np.uint8, (count, h, w, 3))}
    arrays.update({f"lr_x{s}": np.lib.format.open_memmap(paths[f"lr_x{s}"], "w+", np.uint8,
                                                         (count, h // s, w // s, 3)) for s in scales})
    frames = hd_frames(count, size)
    for f0 in range(0, count, block):
        hr = np.stack([next(frames) for _ in range(min(block, count - f0))])
        arrays["hr"][f0:f0 + len(hr)] = hr
        for s in scales:
            arrays[f"lr_x{s}"][f0:f0 + len(hr)] = downscale(hr, s)
    for array in arrays.values():
        array.flush()
    return paths


def encode_hd_clip(path, seconds: float, threads: int = 2, preset: str | None = None) -> Path:
    """A 1080p source video of `seconds` at FPS: libx264 crf 18 (visually lossless)."""
    encode(hd_frames(round(seconds * FPS)), path, fps=FPS, encoder="libx264", preset=preset, crf=18, threads=threads)
    return Path(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="write a looped 1080p clip made from the bundled one")
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(encode_hd_clip(args.out, args.seconds, args.threads, preset="veryfast"))
