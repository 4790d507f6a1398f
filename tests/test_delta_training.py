"""Models that ship as deltas to the resident base, trained on real frames: they start from the base as the client
decodes it (a weight training leaves alone then has delta 0), and the sparse update (`fraction`) keeps all but a
few weights at the base exactly."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_resident import bits, nudged

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.delivery import onnx_model
from stdo.delivery.manifest import open_package
from stdo.delivery.player import model_graph, resident_base
from stdo.errors import InputError
from stdo.fitting import largest_changes
from stdo.ingest import ingest
from stdo.label import label
from stdo.train import train_chunk, train_joint

META = {"arch": "espcn", "scale": 4, "arch_kwargs": {}}
RECIPE = {"scale": 4, "arch": "espcn", "steps": 8, "batch_size": 4, "crop": 16, "lr": 1e-3, "seed": 1,
          "device": "cpu", "init": "general"}


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    """Six real frames labelled by a 'general' ESPCN (its published size, weights as if trained), split in time
    (k = 2), the LR stream lossless, and the general model as the resident base stored int8."""
    root = tmp_path_factory.mktemp("deltas")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(nudged(models.build("espcn", 4), 0, 0.02), root / "general.pt", META)
    label(root / "lr_x4.npy", root / "hr.npy", root / "general.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=4)
    cluster(root / "patches.parquet", root / "chunks.parquet", root / "chunks.json", split="temporal", k=2)
    codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / "lossless.mkv", root / "lossless.json",
                    rate="lossless", encoder="libx264", preset="ultrafast", fps=12.5)
    package.write_base(root / "general.pt", root / "bases" / "x4.json", weights="int8", compression="zlib")
    return root


def frames(clip) -> dict:
    return {name: clip / file for name, file in (("lr_path", "lr_x4.npy"), ("hr_path", "hr.npy"),
                                                 ("patches_path", "patches.parquet"),
                                                 ("chunks_path", "chunks.parquet"))}


def trained(clip, out, joint=False, **kw):
    recipe = {**RECIPE, "init_path": clip / "general.pt", "init_weights": "int8", **kw}
    if joint:
        return train_joint(**frames(clip), out=out, k=2, **recipe)
    return train_chunk(**frames(clip), chunk=0, out=out, **recipe)


def shipped(clip, checkpoint, out):
    """The package of one model shipped as a delta (int8 + zlib) to the int8 base, opened as a client does."""
    package.build(clip / "lossless.mkv", clip / "lossless.json", clip / "patches.parquet", out, scale=4,
                  model_paths=[checkpoint], chunks_path=clip / "chunks.parquet", base_path=clip / "bases" / "x4.json",
                  ship="delta", weights="int8", compression="zlib")
    return open_package(out, base_dir=clip / "bases")


def delta_file(pkg) -> dict:
    """The weights stored in the package's delta file (what the client adds to the base)."""
    entry = pkg.manifest["models"][0]
    return onnx_model.load_weights(pkg.path(entry["file"]), entry["compression"])


def base_weights(clip) -> dict:
    return onnx_model.packaged_weights(models.load_checkpoint(clip / "general.pt")[0], "int8")


def test_a_frozen_backbone_trained_from_the_decoded_base_ships_a_zero_delta(clip, tmp_path):
    """CaFM fine-tuned on the frozen backbone: started from the base as the client decodes it, the backbone's
    delta is exactly 0 and costs almost nothing; started from the general model's own fp32 weights, the delta
    carries the base's int8 rounding residue."""
    finetune = {"joint": True, "mode": "cafm", "finetune": True, "split": "temporal"}
    meta = trained(clip, tmp_path / "decoded.pt", **finetune)
    trained(clip, tmp_path / "fp32.pt", **{**finetune, "init_weights": None})
    assert meta["init_weights"] == "int8"
    decoded, fp32 = (shipped(clip, tmp_path / f"{name}.pt", tmp_path / name) for name in ("decoded", "fp32"))
    stored = delta_file(decoded)
    backbone = [name for name in stored if name.startswith("backbone.")]
    assert backbone and all(not stored[name].any() for name in backbone)
    assert any(delta_file(fp32)[name].any() for name in backbone)
    sizes = [pkg.bytes_by_role()["model_bytes"] for pkg in (decoded, fp32)]
    assert sizes[0] < sizes[1] / 5, sizes
    # the client's backbone is the base, bit for bit, as trained
    model, _ = models.load_checkpoint(tmp_path / "decoded.pt")
    rebuilt = model_graph(decoded, decoded.manifest["models"][0], resident_base(decoded))[2]
    for name, w in base_weights(clip).items():
        np.testing.assert_array_equal(bits(rebuilt[f"backbone.{name}"]), bits(w), err_msg=name)
        np.testing.assert_array_equal(bits(model.state_dict()[f"backbone.{name}"]), bits(w), err_msg=name)


def changed_entries(model, base: dict) -> int:
    return sum(int((bits(t.numpy()) != bits(base[name])).sum()) for name, t in model.state_dict().items())


@pytest.mark.parametrize("mode", ["per_chunk", "jstdo"])
def test_a_sparse_update_moves_the_fraction_it_keeps_and_nothing_else(clip, tmp_path, mode):
    """Would fail if the mask were ignored (gradients or Adam's momentum): all 71,056 weights would move."""
    joint = {"joint": True, "mode": "jstdo", "keep": [1.0, 0.5]} if mode == "jstdo" else {}
    meta = trained(clip, tmp_path / "sparse.pt", fraction=0.05, **joint)
    model, _ = models.load_checkpoint(tmp_path / "sparse.pt")
    assert (meta["fraction"], meta["kept"]) == (0.05, round(0.05 * 71_056))
    assert 0.9 * meta["kept"] <= changed_entries(model, base_weights(clip)) <= meta["kept"]
    dense = trained(clip, tmp_path / "dense.pt", **joint)
    assert changed_entries(models.load_checkpoint(tmp_path / "dense.pt")[0], base_weights(clip)) > 0.9 * 71_056
    assert dense["fraction"] is None and meta["steps"] == dense["steps"]  # at equal steps
    assert len(meta["losses"]) == len(dense["losses"]) + 1  # a log line at the end of each half


def test_the_client_rebuilds_a_sparse_update_exactly_where_it_kept_the_base(clip, tmp_path):
    trained(clip, tmp_path / "sparse.pt", fraction=0.01)
    model, meta = models.load_checkpoint(tmp_path / "sparse.pt")
    pkg = shipped(clip, tmp_path / "sparse.pt", tmp_path / "package")
    stored = delta_file(pkg)
    assert sum(int(np.count_nonzero(w)) for w in stored.values()) <= meta["kept"]
    rebuilt = model_graph(pkg, pkg.manifest["models"][0], resident_base(pkg))[2]
    base = base_weights(clip)
    for name, tensor in model.state_dict().items():
        w = tensor.numpy()
        at_base = bits(w) == bits(base[name])
        np.testing.assert_array_equal(bits(rebuilt[name])[at_base], bits(w)[at_base], err_msg=name)
        if w.ndim > 1:  # the kept entries: within half an int8 step of the delta's channel
            step = np.abs(w - base[name]).reshape(len(w), -1).max(axis=1) / 127
            assert (np.abs(rebuilt[name] - w).reshape(len(w), -1) <= step[:, None] / 2 + 1e-7).all(), name
    full = shipped(clip, tmp_path / "sparse.pt", tmp_path / "again")  # deterministic: the same file again
    assert full.path(full.manifest["models"][0]["file"]).read_bytes() == pkg.path(
        pkg.manifest["models"][0]["file"]).read_bytes()


def test_training_a_sparse_update_is_deterministic(clip, tmp_path):
    a, b = (trained(clip, tmp_path / f"{n}.pt", fraction=0.02) for n in "ab")
    assert a["losses"] == b["losses"] and a["kept"] == b["kept"]
    sa, sb = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in "ab")
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_largest_changes_are_ranked_over_all_parameters_and_ties_go_to_the_first():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    base = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
        model[1].weight[0, 2] = 5.0
    masks = largest_changes(model, base, 3 / 13)
    assert bool(masks["1.weight"][0, 2]) and sum(int(m.sum()) for m in masks.values()) == 3
    assert masks["0.weight"].flatten().tolist() == [True, True, False, False, False, False]
    assert sum(int(m.sum()) for m in largest_changes(model, base, 1e-6).values()) == 1  # at least one


@pytest.mark.parametrize("change, message", [
    ({"fraction": 0.0}, r"fraction 0.0: the share of the weights a sparse update keeps is in \(0, 1\]"),
    ({"fraction": 1.5}, r"fraction 1.5: the share"),
    ({"fraction": 0.1, "init": "scratch", "init_weights": None}, "fraction: a sparse update changes a few weights"),
    ({"fraction": 0.1, "joint": True, "mode": "cafm"}, "fraction: not for mode cafm"),
    ({"init": "scratch"}, "init_weights 'int8': init scratch has no warm start to decode"),
    ({"init_weights": "int4"}, r"init_weights 'int4': choose one of fp16, int8"),
])
def test_a_bad_sparse_or_decoded_start_is_refused_before_training(clip, tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        trained(clip, tmp_path / "x.pt", **change)
    assert not (tmp_path / "x.pt").exists()
