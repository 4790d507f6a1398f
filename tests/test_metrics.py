import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from stdo import metrics


@pytest.fixture(scope="module")
def noisy(astronaut):
    rng = np.random.default_rng(0)
    return np.clip(astronaut + rng.normal(0, 5, astronaut.shape), 0, 255).astype(np.uint8)


def test_psnr_matches_scikit_image_on_a_real_photo(astronaut, noisy):
    ours = metrics.psnr(metrics.mse(noisy[None], astronaut[None]))[0]
    assert ours == pytest.approx(peak_signal_noise_ratio(astronaut, noisy, data_range=255), abs=1e-6)


def test_shave_drops_the_border_only():
    a = np.zeros((1, 10, 10, 3), np.uint8)
    b = a.copy()
    b[:, :2] = 255  # damage only the top two rows
    assert metrics.mse(a, b, shave=2)[0] == 0
    assert metrics.mse(a, b, shave=1)[0] > 0


def test_identical_images_have_infinite_psnr_and_ssim_one(astronaut):
    frames = astronaut[None, :64, :64]
    m = metrics.frame_metrics(frames, frames, scale=2)
    assert np.isinf(m["psnr_frame_rgb"]) and m["ssim"] == pytest.approx(1.0)


def test_y_channel_uses_bt601_studio_range():
    y = metrics.rgb_to_y(np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    assert y == pytest.approx([16.0, 235.0])


def test_frame_conventions_differ_as_documented(astronaut, noisy):
    m = metrics.frame_metrics(noisy[None], astronaut[None], scale=4)
    assert 30 < m["psnr_frame_rgb"] < 40 and 0 < m["ssim"] < 1
    # CaFM shaves more (scale + 6) and averages per-frame PSNR; on one frame both are close.
    assert m["psnr_cafm"] == pytest.approx(m["psnr_frame_rgb"], abs=0.2)
