"""Image quality under the conventions the papers use: MSE per patch and per frame, PSNR, BT.601 luma and SSIM,
from which `stdo.scoring` makes psnr_stdo_patch, psnr_frame_rgb, psnr_frame_y, psnr_cafm, ssim and psnr_patch_mean.
Their conventions are stated once, in `stdo.measures` (which reads the shaves and the PSNR cap from here).
"""
from __future__ import annotations

import cv2
import numpy as np

PEAK = 255.0
# A perfect match (MSE 0: a black frame, a still, screen content) would be infinitely many dB, which no mean, plot or
# BD-rate fit survives; every PSNR here is capped at this many dB instead, i.e. the MSE is floored at
# PEAK^2 / 10^10 (6.5e-6; a 1280x720 frame with one value off by one has MSE 3.6e-7 .. its PSNR is 112 dB: capped).
PSNR_CAP_DB = 100.0
SSIM_WINDOW = 11  # sigma 1.5 truncated at 3.5 sigma, as scikit-image does


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


def patch_mse(sr: np.ndarray, hr: np.ndarray, grid, shave: int = 0) -> np.ndarray:
    """Per-patch MSE of (T, H, W, C) uint8 HR-size frames cut into `grid`'s patches (patch-id order),
    `shave` px dropped from every patch border: `mse` of the cut patches, bit for bit (integer sums of
    squares are exact, and so is their float64 mean), without copying the patches out first."""
    ph, pw = grid.patch_size(grid.scale)
    t, c = sr.shape[0], sr.shape[-1]

    def tiles(frames):
        area = np.asarray(frames[:, : grid.rows * ph, : grid.cols * pw])
        return area.reshape(t, grid.rows, ph, grid.cols, pw, c)[:, :, shave:ph - shave, :, shave:pw - shave]

    diff = np.subtract(tiles(sr), tiles(hr), dtype=np.int32)
    sse = np.square(diff, out=diff).sum(axis=(2, 4, 5), dtype=np.int64).reshape(-1)
    return sse / ((ph - 2 * shave) * (pw - 2 * shave) * c)


def psnr(mse_value):
    """PSNR in dB for an MSE on the 0..255 scale, at most PSNR_CAP_DB (a perfect match scores the cap)."""
    floor = PEAK**2 * 10.0 ** (-PSNR_CAP_DB / 10)
    return 10.0 * np.log10(PEAK**2 / np.maximum(np.asarray(mse_value, dtype=np.float64), floor))


def rgb_to_y(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in studio range [16, 235], float64, from uint8 RGB (..., 3)."""
    weights = np.array([65.481, 128.553, 24.966]) / 255.0
    return images.astype(np.float64) @ weights + 16.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W) float64 images on the 0..255 scale (Wang et al. 2004: Gaussian window of
    sigma 1.5 truncated at 11x11, K1 = 0.01, K2 = 0.03, population covariances), the mean over the
    pixels whose window lies inside the image: scikit-image's `structural_similarity(gaussian_weights=
    True, sigma=1.5, use_sample_covariance=False, data_range=255)` to 1e-12 (tested), with OpenCV's
    separable filters, about 5x faster at 1080p."""
    c1, c2 = (0.01 * PEAK) ** 2, (0.03 * PEAK) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (SSIM_WINDOW, SSIM_WINDOW), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a * mu_a, blur(b * b) - mu_b * mu_b, blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    edge = SSIM_WINDOW // 2
    return float(s[edge:-edge, edge:-edge].mean())


def frame_scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, np.ndarray]:
    """Per-frame scores of (T, H, W, 3) uint8 SR frames against HR: MSE in RGB and Y (shave = scale),
    PSNR under CaFM's shave, and SSIM (Y, shave = scale)."""
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    ssim_y = [ssim(a, b) for a, b in zip(shave_border(y_sr, scale), shave_border(y_hr, scale))]
    return {"mse_rgb": mse(sr, hr, scale), "mse_y": mse(y_sr, y_hr, scale),
            "psnr_cafm": psnr(mse(sr, hr, cafm_shave(scale))), "ssim": np.asarray(ssim_y)}


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
