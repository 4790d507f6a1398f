import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from stdo import models
from stdo.cluster import cluster
from stdo.errors import InputError
from stdo.ingest import ingest
from stdo.label import label
from stdo.train import CropSampler, chunk_steps, fit, train_chunk


def block_mean(hr: np.ndarray, s: int) -> np.ndarray:
    n, h, w, c = hr.shape
    return hr.reshape(n, h // s, s, w // s, s, c).mean(axis=(2, 4))


def test_crops_stay_aligned_under_flips(bunny):
    # LR = s x s block means of HR: the relation survives flips, so every crop pair must keep it.
    hr = bunny[:, :128, :128]
    lr = block_mean(hr.astype(np.float64), 4).round().astype(np.uint8)
    sampler = CropSampler(lr, hr, scale=4, crop=12, device="cpu", seed=3)
    x, y = sampler.sample(64)
    assert x.shape == (64, 3, 12, 12) and y.shape == (64, 3, 48, 48)
    expected = F.avg_pool2d(y * 255, 4).round()
    torch.testing.assert_close(x * 255, expected, atol=1e-3, rtol=0)


def test_crops_cover_flips_and_positions(bunny):
    hr = bunny[:2, :64, :64]
    lr = hr[:, ::2, ::2].copy()
    sampler = CropSampler(lr, hr, scale=2, crop=8, device="cpu")
    x, _ = sampler.sample(256)
    assert len({tuple(v.flatten()[:6].tolist()) for v in x}) > 100


@pytest.mark.parametrize("sizes", [[25, 25, 25, 25], [40, 30, 20, 10], [7, 3]])
def test_chunk_step_shares_follow_chunk_sizes_and_add_up(sizes):
    shares = [chunk_steps(1000, sizes, c) for c in range(len(sizes))]
    assert abs(sum(shares) - 1000) <= len(sizes) // 2
    assert shares == sorted(shares, reverse=sizes == sorted(sizes, reverse=True))


def test_overfitting_a_few_real_patches_beats_bicubic(bunny):
    hr = bunny[:1, :64, :128]
    lr = F.interpolate(torch.from_numpy(hr).permute(0, 3, 1, 2).float(), scale_factor=0.5,
                       mode="bicubic", antialias=True).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    torch.manual_seed(0)
    model = models.build("espcn", 2, features=(16, 16, 8))
    x, y = (torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255 for a in (lr, hr))
    bicubic_l1 = F.l1_loss(models.build("bicubic", 2)(x), y).item()
    fit(model, CropSampler(lr, hr, 2, 24, "cpu"), steps=150, batch_size=8, lr=3e-3)
    with torch.no_grad():
        assert F.l1_loss(model(x), y).item() < 0.95 * bicubic_l1


@pytest.fixture(scope="module")
def staged(bunny, tmp_path_factory, frames_dir):
    """A real tiny clip run through ingest, a bicubic 'general' model, label and a 2-chunk split."""
    root = tmp_path_factory.mktemp("stages")
    ingest(frames_dir, root / "frames", [2], {2: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 2), root / "general.pt", {"arch": "bicubic", "scale": 2})
    label(root / "frames" / "lr_x2.npy", root / "frames" / "hr.npy", root / "general.pt",
          root / "patches.parquet", scale=2, grid=[4, 2], eval_every=3)
    cluster(root / "patches.parquet", root / "chunks.parquet", root / "chunks.json", split="stdo", k=2)
    return root


def train(root, out, **kw):
    args = dict(scale=2, arch="espcn", arch_kwargs={"features": [8, 8, 4]}, steps=6, batch_size=4,
                crop=16, lr=1e-3, seed=5, device="cpu")
    return train_chunk(root / "frames" / "lr_x2.npy", root / "frames" / "hr.npy", root / "patches.parquet",
                       root / "chunks.parquet", 1, out, **{**args, **kw})


def test_training_a_chunk_is_deterministic(staged, tmp_path):
    a, b = train(staged, tmp_path / "a.pt"), train(staged, tmp_path / "b.pt")
    assert a["losses"] == b["losses"] and a["patches"] == 24 and a["steps"] == 3  # half the budget
    sa, sb = (torch.load(tmp_path / n, weights_only=True) for n in ("a.pt", "b.pt"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_warm_start_needs_the_same_architecture(staged, tmp_path):
    with pytest.raises(InputError, match="cannot warm-start espcn"):
        train(staged, tmp_path / "c.pt", init="general", general_path=staged / "general.pt")
    assert not (tmp_path / "c.pt").exists()


def test_chunk_map_has_one_row_per_patch(staged):
    patches, chunks = pd.read_parquet(staged / "patches.parquet"), pd.read_parquet(staged / "chunks.parquet")
    assert len(patches) == len(chunks) == 6 * 8
