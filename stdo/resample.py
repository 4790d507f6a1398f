"""Integer-factor bicubic resampling: the antialiased downscaling that makes LR frames (`downscale`, torch, imported
when called), and upsampling as a fixed convolution (NumPy only, no torch).

PyTorch's `interpolate(mode="bicubic", align_corners=False)` by an integer factor s samples output
pixel o = s*i + r at source position i + (r + 0.5)/s - 0.5 with Keys' cubic (a = -0.75) on the 4
nearest source pixels, clamping indices at the border. Each of the s*s output phases (r_y, r_x) is
therefore a separable 5x5 filter of the input padded by 2 with edge replication, and the whole
upsampling is one grouped convolution to s*s channels per input channel followed by a pixel
shuffle. That runs several times faster than `interpolate` on a CPU, exports to ONNX as
Pad(edge) + Conv + DepthToSpace, and gives the same values up to float rounding (tested)."""
from __future__ import annotations

import math

import numpy as np

CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic coefficient
PAD = 2  # source pixels each side that any output phase reads


def cubic_weights(t: float, a: float = CUBIC_A) -> np.ndarray:
    """Keys' weights of the source pixels at offsets -1, 0, 1, 2 from floor(x), for x - floor(x) = t."""
    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return np.array([far(t + 1), near(t), near(1 - t), far(2 - t)])


def phase_taps(scale: int) -> np.ndarray:
    """(scale, 5) weights over source offsets -2..2 for each output phase r along one axis."""
    taps = np.zeros((scale, 2 * PAD + 1))
    for r in range(scale):
        position = (r + 0.5) / scale - 0.5
        first = math.floor(position)
        start = first - 1 + PAD  # index of offset (first - 1) in -2..2
        taps[r, start:start + 4] = cubic_weights(position - first)
    return taps


def bicubic_kernel(scale: int, channels: int) -> np.ndarray:
    """Weights (channels * s*s, 1, 5, 5) of the grouped convolution (groups = channels) whose output,
    pixel-shuffled by s, is the bicubic upsampling of the edge-padded input."""
    taps = phase_taps(scale)
    phases = np.einsum("yi,xj->yxij", taps, taps).reshape(scale * scale, 1, 2 * PAD + 1, 2 * PAD + 1)
    return np.tile(phases, (channels, 1, 1, 1)).astype(np.float32)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic downscaling of (T, H, W, 3) uint8 frames by an integer scale: how LR frames are made."""
    import torch

    return downscale_float(torch.from_numpy(np.array(hr)).permute(0, 3, 1, 2).float(), scale)


def downscale_float(t, scale: int) -> np.ndarray:
    """`downscale` of frames given as a float torch tensor (T, 3, H, W), as ingest holds them."""
    import torch
    import torch.nn.functional as F

    size = (t.shape[2] // scale, t.shape[3] // scale)
    lr = F.interpolate(t, size=size, mode="bicubic", antialias=True, align_corners=False)
    return lr.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
