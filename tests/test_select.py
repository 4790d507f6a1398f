"""Never ship a worse model: per chunk, the trained model only if it beats the general model (and that only
if it beats bicubic) on the chunk's patches; the package ships what was chosen and the client plays it."""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import torch

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.errors import InputError
from stdo.evaluate import evaluate
from stdo.ingest import ingest
from stdo.io import load_chunks
from stdo.label import label
from stdo.select import select
from stdo.train import train_chunk

SMALL = {"features": [8, 8, 4]}


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    """Six real frames, labelled by a bicubic 'general' model, split in two; chunk 0's model trained a few
    steps from its bicubic start, chunk 1's made worse than bicubic by noise."""
    root = tmp_path_factory.mktemp("select")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "general.pt", {"arch": "bicubic", "scale": 4})
    label(root / "lr_x4.npy", root / "hr.npy", root / "general.pt", root / "patches.parquet", scale=4, grid=[4, 2])
    cluster(root / "patches.parquet", root / "chunks.parquet", root / "chunks.json", split="stdo", k=2)
    train_chunk(root / "lr_x4.npy", root / "hr.npy", root / "patches.parquet", root / "chunks.parquet", 0,
                root / "chunk0.pt", scale=4, arch="espcn", arch_kwargs=SMALL, steps=300, batch_size=8, crop=12,
                lr=0.003, budget="per_chunk", device="cpu")
    torch.manual_seed(1)
    worse = models.build("espcn", 4, **SMALL)
    with torch.no_grad():
        for p in worse.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    models.save_checkpoint(worse, root / "chunk1.pt", {"arch": "espcn", "scale": 4, "arch_kwargs": SMALL})
    codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / "lossless.mkv", root / "lossless.json",
                    rate="lossless", encoder="libx264", fps=12.5)
    return root


@pytest.fixture(scope="module")
def chosen(clip):
    return select(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", clip / "chunks.parquet",
                  [clip / "chunk0.pt", clip / "chunk1.pt"], clip / "selection.json", scale=4, device="cpu")


def test_each_chunk_ships_the_best_of_its_trained_model_the_general_model_and_bicubic(chosen):
    first, second = chosen["chunks"]
    assert first["mse"]["trained"] < first["mse"]["general"] and first["ships"] == "trained"
    assert second["mse"]["trained"] > second["mse"]["general"] == second["mse"]["bicubic"]
    assert second["ships"] == "bicubic"  # a tie goes to the cheaper
    assert chosen["fallbacks"] == 1


def test_the_package_ships_what_was_chosen_and_plays_it(clip, chosen, tmp_path):
    out = tmp_path / "package"
    package.build(clip / "lossless.mkv", clip / "lossless.json", clip / "patches.parquet", out, scale=4,
                  model_paths=[clip / "chunk0.pt", clip / "chunk1.pt"], chunks_path=clip / "chunks.parquet",
                  selection_path=clip / "selection.json", general_path=clip / "general.pt")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["arch"] for e in manifest["models"]] == ["espcn", "bicubic"]  # chunk 1's model is not shipped
    assert manifest["routing"]["chunk_model"] == [[0, None], [1, None]]
    assert manifest["routing"]["ships"] == ["trained", "bicubic"]
    result = evaluate(out, clip / "hr.npy", clip / "patches.parquet", tmp_path / "metrics.json",
                      chunks_path=clip / "chunks.parquet", threads=1)
    assert result["fallbacks"] == 1 and result["models"] == 1  # bicubic is no model file
    for c, entry in enumerate(chosen["chunks"]):  # played as scored (ONNX fp16 weights against fp32 torch)
        expected = entry["mse"][entry["ships"]]
        assert result["chunk_mse"][c] == pytest.approx(expected, rel=0.02)


def test_one_model_for_all_chunks_is_routed_by_chunk_once_a_chunk_falls_back(clip, chosen, tmp_path):
    out = tmp_path / "package"
    package.build(clip / "lossless.mkv", clip / "lossless.json", clip / "patches.parquet", out, scale=4,
                  model_paths=[clip / "chunk1.pt"], chunks_path=clip / "chunks.parquet",
                  selection_path=clip / "selection.json", general_path=clip / "general.pt")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["routing"]["by"] == "map" and manifest["routing"]["chunk_model"] == [[0, None], [1, None]]
    assert [e["arch"] for e in manifest["models"]] == ["espcn", "bicubic"]
    map_ = np.frombuffer(zlib.decompress((out / "chunks.bin").read_bytes()), np.uint8)
    assert np.array_equal(map_, load_chunks(clip / "chunks.parquet"))


def test_patches_labelled_without_the_general_model_have_it_scored_by_select(clip, chosen, tmp_path):
    label(clip / "lr_x4.npy", clip / "hr.npy", clip / "general.pt", tmp_path / "patches.parquet", scale=4,
          grid=[4, 2], by="features")
    args = (clip / "lr_x4.npy", clip / "hr.npy", tmp_path / "patches.parquet", clip / "chunks.parquet",
            [clip / "chunk0.pt", clip / "chunk1.pt"])
    scored = select(*args, tmp_path / "selection.json", scale=4, general_path=clip / "general.pt", device="cpu")
    assert scored == chosen  # the same MSE per chunk as from the labelled general-model scores
    with pytest.raises(InputError, match="patches.parquet: holds no general-model scores"):
        select(*args, tmp_path / "again.json", scale=4, device="cpu")
    assert not (tmp_path / "again.json").exists()


def test_models_that_do_not_match_the_chunks_are_named_in_one_line(clip, tmp_path):
    with pytest.raises(InputError, match=r"chunks.parquet: 2 chunks, but 3 models: give one per chunk") as err:
        select(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", clip / "chunks.parquet",
               [clip / "chunk0.pt"] * 3, tmp_path / "selection.json", scale=4, device="cpu")
    assert "\n" not in str(err.value) and not (tmp_path / "selection.json").exists()
