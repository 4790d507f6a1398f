import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from stdo import infer, models
from stdo.cluster import cluster
from stdo.errors import InputError
from stdo.fitting import CropSampler, chunk_budget, fit, steps_of
from stdo.infer import to_tensor
from stdo.ingest import ingest
from stdo.io import load_chunks, load_frames
from stdo.label import label
from stdo.patches import gather, grid_of
from stdo.train import jstdo_subset, train_chunk, train_joint


def block_mean(hr: np.ndarray, s: int) -> np.ndarray:
    n, h, w, c = hr.shape
    return hr.reshape(n, h // s, s, w // s, s, c).mean(axis=(2, 4))


def test_crops_stay_aligned_under_flips(bunny):
    # LR = s x s block means of HR: the relation survives flips, so every crop pair must keep it.
    hr = bunny[:, :128, :128]
    lr = block_mean(hr.astype(np.float64), 4).round().astype(np.uint8)
    sampler = CropSampler(lr, hr, scale=4, crop=12, device="cpu", seed=3)
    x, y, _ = sampler.sample(64)
    assert x.shape == (64, 3, 12, 12) and y.shape == (64, 3, 48, 48)
    expected = F.avg_pool2d(y * 255, 4).round()
    torch.testing.assert_close(x * 255, expected, atol=1e-3, rtol=0)


def test_crops_cover_flips_and_positions(bunny):
    hr = bunny[:2, :64, :64]
    lr = hr[:, ::2, ::2].copy()
    sampler = CropSampler(lr, hr, scale=2, crop=8, device="cpu")
    x, _, _ = sampler.sample(256)
    assert len({tuple(v.flatten()[:6].tolist()) for v in x}) > 100


@pytest.mark.parametrize("sizes", [[25, 25, 25, 25], [40, 30, 20, 10], [7, 3]])
def test_chunk_step_shares_follow_chunk_sizes_and_add_up(sizes):
    shares = [steps_of(chunk_budget(1000, sizes, c), None, "") for c in range(len(sizes))]
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
    # lr 1e-3: at 3e-3 some seeds' training falls back to bicubic
    fit(model, CropSampler(lr, hr, 2, 24, "cpu"), steps=150, batch_size=8, lr=1e-3)
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


def test_the_recipe_is_checked_not_swallowed(staged, tmp_path):
    meta = train(staged, tmp_path / "a.pt", split="stdo", k=2)
    assert (meta["split"], meta["k"]) == ("stdo", 2)
    with pytest.raises(InputError, match="params: stepz: not in a training recipe"):
        train(staged, tmp_path / "b.pt", stepz=3)
    with pytest.raises(InputError, match="chunks.parquet: 2 chunks, the method's k is 4"):
        train(staged, tmp_path / "b.pt", k=4)
    with pytest.raises(InputError, match="mode 'cafm': a chunk model is mode per_chunk"):
        train(staged, tmp_path / "b.pt", mode="cafm")
    assert not (tmp_path / "b.pt").exists()


def test_crops_read_from_the_memory_mapped_frames_are_crops_of_the_gathered_patches(staged):
    table = pd.read_parquet(staged / "patches.parquet")
    lr, hr = load_frames(staged / "frames" / "lr_x2.npy"), load_frames(staged / "frames" / "hr.npy")
    ids = np.flatnonzero(load_chunks(staged / "chunks.parquet") == 1)
    sampler, twin = (CropSampler.of_patches(lr, hr, table, ids, 2, 12, "cpu", seed=1) for _ in range(2))
    assert sampler.lr is lr and sampler.hr is hr  # the memmaps themselves: the frames are not copied
    grid = grid_of(table, 2)
    lr_patches, hr_patches = gather(lr, grid, ids), gather(hr, grid, ids, factor=2)
    drawn = sampler.draw(64)
    lr_crops, hr_crops = sampler.crops(*drawn)
    for i, (k, y, x, flip_y, flip_x) in enumerate(zip(*drawn)):
        flip = slice(None, None, -1 if flip_y else 1), slice(None, None, -1 if flip_x else 1)
        np.testing.assert_array_equal(lr_crops[i], lr_patches[k, y:y + 12, x:x + 12][flip])
        np.testing.assert_array_equal(hr_crops[i], hr_patches[k, 2 * y:2 * y + 24, 2 * x:2 * x + 24][flip])
    assert all(0 < flips.sum() < 64 for flips in drawn[3:])
    x, y, idx = twin.sample(64)  # same seed: the same draws, as float tensors
    assert torch.equal(x, to_tensor(lr_crops, "cpu")) and torch.equal(y, to_tensor(hr_crops, "cpu"))
    np.testing.assert_array_equal(idx.numpy(), drawn[0])


def test_sampling_is_deterministic_for_a_seed(bunny):
    hr = bunny[:2, :64, :64]
    lr = hr[:, ::2, ::2].copy()
    a, b, c = (CropSampler(lr, hr, 2, 8, "cpu", seed=seed).sample(16) for seed in (7, 7, 8))
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and not torch.equal(a[0], c[0])


def test_warm_start_needs_the_same_architecture(staged, tmp_path):
    with pytest.raises(InputError, match="init: general: .*general.pt holds bicubic .*cannot warm-start espcn"):
        train(staged, tmp_path / "c.pt", init="general", init_path=staged / "general.pt")
    assert not (tmp_path / "c.pt").exists()


def test_chunk_map_has_one_row_per_patch(staged):
    patches, chunks = pd.read_parquet(staged / "patches.parquet"), pd.read_parquet(staged / "chunks.parquet")
    assert len(patches) == len(chunks) == 6 * 8


def test_budget_per_chunk_gives_every_chunk_model_all_the_steps(staged, tmp_path):
    assert train(staged, tmp_path / "a.pt", budget="per_chunk")["steps"] == 6


def test_jstdo_keeps_all_of_the_hardest_chunk_and_none_of_the_easiest():
    chunk = np.repeat(np.arange(4), 100)
    kept = chunk[jstdo_subset(chunk, [1.0, 0.5, 0.25, 0.0], seed=0)]
    assert np.bincount(kept, minlength=4).tolist() == [100, 50, 25, 0]
    np.testing.assert_array_equal(jstdo_subset(chunk, [1, 0.5, 0.5, 0], 3), jstdo_subset(chunk, [1, 0.5, 0.5, 0], 3))


def joint(root, out, **kw):
    args = dict(scale=2, arch="espcn", arch_kwargs={"features": [8, 8, 4]}, steps=4, batch_size=4, crop=16,
                lr=1e-3, k=2, seed=5, device="cpu")
    return train_joint(root / "frames" / "lr_x2.npy", root / "frames" / "hr.npy", root / "patches.parquet",
                       root / "chunks.parquet", out, **{**args, **kw})


def test_jstdo_trains_one_model_on_its_subset(staged, tmp_path):
    meta = joint(staged, tmp_path / "j.pt", mode="jstdo", keep=[1.0, 0.0])
    assert meta["kept_per_chunk"] == [24, 0] and meta["patches"] == 24 and "cafm_chunks" not in meta
    assert meta["steps"] == 4
    # the papers' "same epochs per chunk": as many passes over its 24 patches as a chunk model makes
    assert joint(staged, tmp_path / "j2.pt", mode="jstdo", keep=[1.0, 0.0], budget="per_chunk")["steps"] == 4
    assert joint(staged, tmp_path / "c2.pt", mode="cafm", budget="per_chunk")["steps"] == 8
    model, _ = models.load_checkpoint(tmp_path / "j.pt")
    assert isinstance(model, torch.nn.Module) and not isinstance(model, models.CaFM)


def test_cafm_joint_model_reloads_with_its_chunk_modules(staged, tmp_path):
    meta = joint(staged, tmp_path / "c.pt", mode="cafm")
    model, sidecar = models.load_checkpoint(tmp_path / "c.pt")
    assert isinstance(model, models.CaFM) and model.chunks == 2 == sidecar["cafm_chunks"]
    assert meta["params_per_chunk"] == model.params_per_chunk() == (8 * 2 + 1) * 2 + (4 * 2 + 1)
    gates = [float(m.gamma[0].detach()) for m in model.per_chunk]
    assert all(g != 0 for g in gates)  # both chunks' modules were trained


def test_cafm_finetune_leaves_the_backbone_untouched(staged, tmp_path):
    torch.manual_seed(0)
    backbone = models.build("espcn", 2, features=(8, 8, 4))
    torch.nn.init.normal_(backbone.body[-2].weight, std=0.01)
    models.save_checkpoint(backbone, tmp_path / "m0.pt", {"arch": "espcn", "scale": 2,
                                                          "arch_kwargs": {"features": [8, 8, 4]}})
    joint(staged, tmp_path / "f.pt", mode="cafm", finetune=True, init="m0", init_path=tmp_path / "m0.pt")
    tuned, _ = models.load_checkpoint(tmp_path / "f.pt")
    for name, p in backbone.state_dict().items():
        assert torch.equal(p, tuned.backbone.state_dict()[name]), name


def test_bf16_autocast_trains_on_cpu_and_fp16_is_refused_there(bunny):
    hr = bunny[:1, :64, :64]
    lr = hr[:, ::2, ::2].copy()
    model = models.build("espcn", 2, features=(8, 8, 4))
    result = fit(model, CropSampler(lr, hr, 2, 16, "cpu"), steps=3, batch_size=2, lr=1e-3, precision="bf16")
    assert all(np.isfinite(result["losses"])) and next(model.parameters()).dtype == torch.float32
    with pytest.raises(InputError, match="precision 'fp16': only on CUDA"):
        fit(model, CropSampler(lr, hr, 2, 16, "cpu"), steps=1, batch_size=2, lr=1e-3, precision="fp16")


@pytest.mark.parametrize("native, expected", [(None, "fp32"), ("a CPU with AMX", "bf16")])
def test_precision_auto_trains_as_the_precision_it_chose_and_records_both(staged, tmp_path, monkeypatch,
                                                                           native, expected):
    """auto is bf16 only where the device has native bf16 matrix units: the checkpoint is the one that
    precision gives when configured, and the sidecar says what ran and what was configured."""
    monkeypatch.setattr(infer, "native_bf16", lambda device: native)
    auto = train(staged, tmp_path / "auto.pt", precision="auto")
    chosen = train(staged, tmp_path / "chosen.pt", precision=expected)
    assert (auto["precision"], auto["precision_config"]) == (expected, "auto")
    assert (chosen["precision"], chosen["precision_config"]) == (expected, expected)
    sa, sb = (torch.load(tmp_path / n, weights_only=True) for n in ("auto.pt", "chosen.pt"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_an_unknown_precision_is_refused_naming_it():
    with pytest.raises(InputError, match="precision 'fp8': choose auto, fp32, bf16, fp16"):
        infer.choose_precision("fp8", torch.device("cpu"))


def test_epochs_are_passes_over_the_patches_and_the_sidecar_records_both(staged, tmp_path):
    """48 patches in 2 chunks of 24, batch 4: one epoch of a chunk model is 6 steps, of the video 12."""
    chunk = train(staged, tmp_path / "a.pt", steps=None, epochs=2)
    assert (chunk["steps"], chunk["budget_steps"], chunk["epochs"], chunk["patches"]) == (12, 24, 2, 24)
    assert train(staged, tmp_path / "b.pt", steps=None, epochs=2, budget="per_chunk")["steps"] == 24
    a, b = (torch.load(tmp_path / n, weights_only=True) for n in ("a.pt", "b.pt"))
    same = train(staged, tmp_path / "c.pt", steps=24)  # the same budget in steps trains the same model
    c = torch.load(tmp_path / "c.pt", weights_only=True)
    assert same["steps"] == 12 and all(torch.equal(a[k], c[k]) for k in a)
    assert not all(torch.equal(a[k], b[k]) for k in a)
    m = joint(staged, tmp_path / "j.pt", steps=None, epochs=1.5, mode="jstdo", keep=[1.0, 0.0])
    assert (m["steps"], m["epochs"]) == (18, 1.5)  # m0's compute at 1.5 epochs over all 48 patches


@pytest.mark.parametrize("recipe, message", [
    ({"steps": None, "epochs": 0.01}, r"epochs 0.01: chunk 1's 24 patches at batch 4 make 0.06 steps, which rounds "
                                      r"to 0; give more than 0.0833 epochs"),
    ({"steps": 6, "epochs": 1}, "steps 6, epochs 1: give exactly one of the two"),
    ({"steps": None}, "steps None, epochs None: give exactly one of the two"),
])
def test_a_budget_that_trains_nothing_or_is_given_twice_is_refused(staged, tmp_path, recipe, message):
    with pytest.raises(InputError, match=message):
        train(staged, tmp_path / "a.pt", **recipe)
    assert not (tmp_path / "a.pt").exists()


@pytest.mark.parametrize("fraction", [None, 0.5])
def test_recording_the_learning_curve_changes_no_weight(staged, tmp_path, fraction):
    """The curve (PSNR on the model's own patches, STDO convention) is measured on a copy: the checkpoint is
    bit for bit the one trained without it, for a plain and a sparse update alike."""
    kw = {"steps": 24, "init": "scratch"} if fraction is None else {
        "steps": 24, "init": "general", "init_path": staged / "espcn.pt", "fraction": fraction}
    if fraction is not None:
        models.save_checkpoint(models.build("espcn", 2, features=[8, 8, 4]), staged / "espcn.pt",
                               {"arch": "espcn", "scale": 2, "arch_kwargs": {"features": [8, 8, 4]}})
    off = train(staged, tmp_path / "off.pt", **kw)
    on = train(staged, tmp_path / "on.pt", curve_points=4, **kw)
    a, b = (torch.load(tmp_path / n, weights_only=True) for n in ("off.pt", "on.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a) and off["losses"] == on["losses"]
    curve = on["curve"]
    assert curve["step"] == [0, 3, 6, 9, 12] and np.isnan(curve["loss"][0]) and len(curve["psnr"]) == 5
    assert all(15 < p < 60 for p in curve["psnr"]) and curve["seconds"] == sorted(curve["seconds"])
    assert on["curve_rise_db"] == pytest.approx(curve["psnr"][-1] - curve["psnr"][2], abs=1e-3)
    assert "curve" not in off and on["curve_seconds"] >= 0


def test_a_joint_cafm_model_records_its_curve_through_each_patch_s_chunk(staged, tmp_path):
    meta = joint(staged, tmp_path / "c.pt", mode="cafm", steps=6, curve_points=3)
    assert meta["curve"]["step"] == [0, 2, 4, 6] and all(np.isfinite(meta["curve"]["psnr"]))


def test_the_loss_is_part_of_the_recipe_and_changes_the_weights(staged, tmp_path):
    l1 = train(staged, tmp_path / "l1.pt")
    l2 = train(staged, tmp_path / "l2.pt", loss="l2")
    assert (l1["loss"], l2["loss"]) == ("l1", "l2")
    a, b = (models.load_checkpoint(tmp_path / f"{n}.pt")[0].state_dict() for n in ("l1", "l2"))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(InputError, match="params: a training recipe needs arch"):
        train_chunk(staged / "frames" / "lr_x2.npy", staged / "frames" / "hr.npy", staged / "patches.parquet",
                    staged / "chunks.parquet", 0, tmp_path / "c.pt", scale=2, batch_size=4, crop=8, lr=1e-3,
                    steps=2)
