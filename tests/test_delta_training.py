"""Models that ship as deltas to the resident base, trained on real frames: they start from the base as the client
decodes it, so a weight training leaves alone has delta 0."""
from __future__ import annotations

import numpy as np
import pytest
from test_resident import bits, nudged

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.delivery import onnx_model
from stdo.delivery.manifest import open_package
from stdo.delivery.player import model_graph, resident_base
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
