"""Image quality under the conventions the papers use. Every number a stage reports says which:

- stdo_patch: RGB, per patch, `scale + 4` px shaved from each patch border, PSNR of the mean of
  the chunk MSEs (STDO's `-10 log10(mean(mse_1..mse_k))`, 8-bit peak 255).
- frame_rgb: stitched whole frames, RGB, shave = scale, PSNR of the mean MSE over frames.
- frame_y: as frame_rgb on the Y channel (BT.601 studio range, the BasicSR convention).
- cafm: whole frames, RGB, `scale + 6` shave, mean of per-frame PSNR (CaFM's convention).
- ssim: Y channel, shave = scale, Gaussian window sigma 1.5 (Wang et al. 2004), mean over frames.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

PEAK = 255.0


def stdo_shave(scale: int) -> int:
    return scale + 4


def cafm_shave(scale: int) -> int:
    return scale + 6


def shave_border(images: np.ndarray, shave: int) -> np.ndarray:
    """Drop `shave` pixels from every border of (N, H, W, ...) images."""
    if shave == 0:
        return images
    return images[:, shave:-shave, shave:-shave]


def mse(a: np.ndarray, b: np.ndarray, shave: int = 0) -> np.ndarray:
    """Per-image mean squared error of (N, H, W[, C]) images on the 0..255 scale."""
    diff = shave_border(a, shave).astype(np.float32) - shave_border(b, shave).astype(np.float32)
    return np.square(diff, dtype=np.float64).reshape(len(diff), -1).mean(axis=1)


def psnr(mse_value):
    """PSNR in dB for an MSE on the 0..255 scale (inf for a perfect match)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(PEAK**2 / np.asarray(mse_value, dtype=np.float64))


def rgb_to_y(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in studio range [16, 235], float64, from uint8 RGB (..., 3)."""
    weights = np.array([65.481, 128.553, 24.966]) / 255.0
    return images.astype(np.float64) @ weights + 16.0


def frame_scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, np.ndarray]:
    """Per-frame scores of (T, H, W, 3) uint8 SR frames against HR: MSE in RGB and Y (shave = scale),
    PSNR under CaFM's shave, and SSIM (Y, shave = scale)."""
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    ssim = [
        structural_similarity(a, b, data_range=PEAK, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for a, b in zip(shave_border(y_sr, scale), shave_border(y_hr, scale))
    ]
    return {"mse_rgb": mse(sr, hr, scale), "mse_y": mse(y_sr, y_hr, scale),
            "psnr_cafm": psnr(mse(sr, hr, cafm_shave(scale))), "ssim": np.asarray(ssim)}


def pool_frame_scores(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """Whole-frame quality under every convention from per-frame scores (PSNR of the mean MSE for
    frame_rgb / frame_y, mean of per-frame PSNR for CaFM's, mean SSIM)."""
    return {
        "psnr_frame_rgb": float(psnr(scores["mse_rgb"].mean())),
        "psnr_per_frame": [float(v) for v in psnr(scores["mse_rgb"])],
        "psnr_frame_y": float(psnr(scores["mse_y"].mean())),
        "psnr_cafm": float(scores["psnr_cafm"].mean()),
        "ssim": float(scores["ssim"].mean()),
    }


def frame_metrics(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """Whole-frame quality of (T, H, W, 3) uint8 SR frames against HR, every convention."""
    return pool_frame_scores(frame_scores(sr, hr, scale))
