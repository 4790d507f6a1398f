"""Each encoder's rate ladders on the bundled clip: PSNR-Y, kbit/s and encode seconds of the HR frames at a CRF ladder,
and of the x4 LR frames at a CRF ladder upscaled by bicubic (what a player shows; SR adds about 0.5-1 dB), so that
the default ladders of `stdo.vocabulary.ENCODERS` can be chosen to overlap (docs/experiments/ladders.md).

    python benchmarks/ladders.py [--frames 44] [--encoders libx264 libx265 libsvtav1 libvpx-vp9]

PSNR-Y: BT.601 studio range, whole frames, nothing shaved, PSNR of the mean MSE over the frames; the encoders at
their default presets (stdo.vocabulary), one thread."""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from stdo import metrics, resample
from stdo.delivery import stream
from stdo.infer import machine_line
from stdo.sources import bundled_clip

FPS, SCALE = 25.0, 4
HR_CRF = {"libx264": range(18, 52, 3), "libx265": range(27, 52, 6), "libsvtav1": range(35, 64, 7),
          "libvpx-vp9": (30, 40, 50, 56, 63)}
LR_CRF = {"libx264": range(14, 52, 4), "libx265": range(18, 52, 8), "libsvtav1": range(20, 64, 10),
          "libvpx-vp9": range(20, 64, 10)}


def clip(frames: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(bundled_clip()))
    out = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(frames)]
    cap.release()
    return np.stack(out)


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    return float(metrics.psnr(np.mean([np.mean((metrics.rgb_to_y(x) - metrics.rgb_to_y(y)) ** 2)
                                       for x, y in zip(a, b)])))


def encoded(frames: np.ndarray, encoder: str, crf: int) -> tuple[float, np.ndarray, float]:
    """(kbit/s, decoded frames, encode seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        path, start = Path(folder) / "s.mp4", time.perf_counter()
        info = stream.encode(iter(frames), path, fps=FPS, encoder=encoder, crf=crf, threads=1)
        seconds = time.perf_counter() - start
        return info["bytes"] * 8 / (len(frames) / FPS) / 1000, np.stack(list(stream.decode(path))), seconds


def bicubic(frames: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    up = F.interpolate(t, scale_factor=SCALE, mode="bicubic", align_corners=False)
    return up.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=44)
    ap.add_argument("--encoders", nargs="+", default=list(HR_CRF))
    args = ap.parse_args()
    print(machine_line("fp32"))
    hr = clip(args.frames)
    lr = resample.downscale(hr, SCALE)
    print("| encoder | stream | crf | kbit/s | PSNR-Y dB | encode s |\n|---|---|---|---|---|---|")
    for encoder in args.encoders:
        for crf in HR_CRF[encoder]:
            kbps, decoded, seconds = encoded(hr, encoder, crf)
            print(f"| {encoder} | HR | {crf} | {kbps:.1f} | {psnr_y(decoded, hr):.2f} | {seconds:.1f} |", flush=True)
        for crf in LR_CRF[encoder]:
            kbps, decoded, seconds = encoded(lr, encoder, crf)
            print(f"| {encoder} | x{SCALE} LR + bicubic | {crf} | {kbps:.1f} | {psnr_y(bicubic(decoded), hr):.2f} "
                  f"| {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
