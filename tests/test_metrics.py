import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from stdo import metrics
from stdo.patches import Grid, cut


@pytest.fixture(scope="module")
def noisy(astronaut):
    rng = np.random.default_rng(0)
    return np.clip(astronaut + rng.normal(0, 5, astronaut.shape), 0, 255).astype(np.uint8)


def test_psnr_matches_scikit_image_on_a_real_photo(astronaut, noisy):
    ours = metrics.psnr(metrics.mse(noisy[None], astronaut[None]))[0]
    assert ours == pytest.approx(peak_signal_noise_ratio(astronaut, noisy, data_range=255), abs=1e-6)


def test_ssim_matches_scikit_image_on_real_photos(astronaut, noisy, bunny):
    blurred = np.stack([cv2.resize(cv2.resize(f, None, fx=0.25, fy=0.25), f.shape[1::-1]) for f in bunny[:2]])
    for a, b in ((astronaut, noisy), (bunny[0], blurred[0]), (bunny[1, 5:-7, 3:-4], blurred[1, 5:-7, 3:-4])):
        ya, yb = metrics.rgb_to_y(a), metrics.rgb_to_y(b)
        reference = structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False)
        assert metrics.ssim(ya, yb) == pytest.approx(reference, abs=1e-12) and reference < 0.99


@pytest.mark.parametrize("shave", [0, 8])
def test_patch_mse_is_the_mse_of_the_cut_patches_bit_for_bit(bunny, shave):
    height, width = bunny.shape[1:3]
    grid = Grid.fit(height // 4, width // 4, cols=7, rows=3, scale=4)  # leaves a remainder to the right
    rng = np.random.default_rng(0)
    sr = np.clip(bunny[:2].astype(int) + rng.integers(-40, 40, bunny[:2].shape), 0, 255).astype(np.uint8)
    expected = metrics.mse(cut(sr, grid, 4), cut(bunny[:2], grid, 4), shave)
    np.testing.assert_array_equal(metrics.patch_mse(sr, bunny[:2], grid, shave), expected)


def test_shave_drops_the_border_only():
    a = np.zeros((1, 10, 10, 3), np.uint8)
    b = a.copy()
    b[:, :2] = 255  # damage only the top two rows
    assert metrics.mse(a, b, shave=2)[0] == 0
    assert metrics.mse(a, b, shave=1)[0] > 0


def test_identical_images_score_the_psnr_cap_and_ssim_one(astronaut):
    frames = astronaut[None, :64, :64]
    m = metrics.frame_metrics(frames, frames, scale=2)
    assert m["psnr_frame_rgb"] == m["psnr_cafm"] == metrics.PSNR_CAP_DB and m["ssim"] == pytest.approx(1.0)
    off_by_one = frames.copy()
    off_by_one[0, 10, 10, 0] += 1  # MSE 1/10,800 over the 60x60x3 values left by the shave: 88.5 dB, under the cap
    assert metrics.frame_metrics(off_by_one, frames, scale=2)["psnr_frame_rgb"] < metrics.PSNR_CAP_DB


def test_y_channel_uses_bt601_studio_range():
    y = metrics.rgb_to_y(np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    assert y == pytest.approx([16.0, 235.0])


def test_frame_conventions_differ_as_documented(astronaut, noisy):
    m = metrics.frame_metrics(noisy[None], astronaut[None], scale=4)
    assert 30 < m["psnr_frame_rgb"] < 40 and 0 < m["ssim"] < 1
    # CaFM shaves more (scale + 6) and averages per-frame PSNR; on one frame both are close.
    assert m["psnr_cafm"] == pytest.approx(m["psnr_frame_rgb"], abs=0.2)
