import json

import numpy as np
import pandas as pd
import pytest

from stdo import metrics, models
from stdo.errors import InputError
from stdo.evaluate import evaluate
from stdo.ingest import ingest
from stdo.label import label


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    torch_model = models.build("espcn", 4, features=(8, 8, 4))
    models.save_checkpoint(torch_model, root / "espcn.pt", {"arch": "espcn", "scale": 4,
                                                            "arch_kwargs": {"features": [8, 8, 4]}})
    label(root / "lr_x4.npy", root / "hr.npy", root / "bicubic.pt", root / "patches.parquet",
          scale=4, grid=[4, 2], eval_every=4)
    return root


def test_patch_table_has_one_scored_row_per_patch(clip):
    table = pd.read_parquet(clip / "patches.parquet")
    assert len(table) == 6 * 8
    assert {"mse", "psnr", "bicubic_psnr", "grad_energy", "temporal_diff", "is_eval"} <= set(table.columns)
    assert table.groupby("frame").is_eval.first().tolist() == [True, False, False, False, True, False]
    # labelled with bicubic, the general-model and bicubic columns must agree exactly
    np.testing.assert_array_equal(table.psnr, table.bicubic_psnr)
    assert 20 < table.psnr.mean() < 40
    assert (table.temporal_diff[table.frame == 0] == 0).all() and (table.temporal_diff[table.frame > 0] > 0).any()
    assert (table.grad_energy > 0).all()


def test_evaluation_agrees_with_the_labels(clip, tmp_path):
    table = pd.read_parquet(clip / "patches.parquet")
    result = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", ["bicubic"],
                      tmp_path / "m.json", scale=4, info={"method": "bicubic"})
    assert result["psnr_stdo_patch"] == pytest.approx(float(metrics.psnr(table.mse.mean())), abs=1e-9)
    assert result["psnr_patch_mean"] == pytest.approx(table.psnr.mean(), abs=1e-9)
    assert result["eval_frames"] == 2 and result["total_params"] == 0
    assert json.loads((tmp_path / "m.json").read_text())["method"] == "bicubic"


def test_stitched_frames_are_scored_whole(clip, tmp_path):
    # An untrained ESPCN is exactly bicubic, so both stitched evaluations must be identical,
    # and per-patch upscaling has seams: whole-frame bicubic is a different (reference) number.
    a = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", ["bicubic"], tmp_path / "a.json", scale=4)
    b = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", [clip / "espcn.pt"],
                 tmp_path / "b.json", scale=4)
    for key in ("psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim"):
        assert a[key] == pytest.approx(b[key], abs=1e-9)
    assert a["psnr_frame_y"] > a["psnr_frame_rgb"] - 5


def test_a_chunk_map_and_a_model_count_that_disagree_are_refused(clip, tmp_path):
    chunks = pd.read_parquet(clip / "patches.parquet")[["patch_id"]].assign(chunk=lambda t: t.patch_id % 2)
    chunks.to_parquet(tmp_path / "chunks.parquet")
    with pytest.raises(InputError, match="2 chunks but 3 models"):
        evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", ["bicubic"] * 3, tmp_path / "m.json",
                 scale=4, chunks_path=tmp_path / "chunks.parquet")
    assert not (tmp_path / "m.json").exists()


def test_delivered_size_counts_models_and_the_chunk_map(clip, tmp_path):
    chunks = pd.read_parquet(clip / "patches.parquet")[["patch_id"]].assign(chunk=lambda t: t.patch_id % 4)
    chunks.to_parquet(tmp_path / "chunks.parquet")
    common = dict(scale=4, chunks_path=tmp_path / "chunks.parquet")
    paths = [clip / "espcn.pt"] * 4
    per_chunk = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", paths, tmp_path / "a.json",
                         info={"split": "stdo"}, **common)
    params = models.count_params(models.build("espcn", 4, features=(8, 8, 4)))
    assert per_chunk["total_params"] == 4 * params and per_chunk["model_bytes_fp16"] == 8 * params
    assert per_chunk["map_bits"] == 48 * 2 and 0 < per_chunk["map_bytes_zlib"] <= 48 + 16
    assert per_chunk["delivered_bytes"] == 8 * params + per_chunk["map_bytes_zlib"]
    timed = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", paths, tmp_path / "b.json",
                     info={"split": "temporal"}, **common)
    shared = evaluate(clip / "lr_x4.npy", clip / "hr.npy", clip / "patches.parquet", paths[:1], tmp_path / "c.json",
                      info={"split": "stdo"}, **common)
    assert timed["map_bits"] == 0 and shared["map_bits"] == 0 and shared["total_params"] == params


def test_a_grid_too_fine_for_the_shave_is_refused(clip, tmp_path):
    with pytest.raises(InputError, match="leave nothing after the 8 px STDO shave"):
        label(clip / "lr_x4.npy", clip / "hr.npy", clip / "bicubic.pt", tmp_path / "p.parquet", scale=4, grid=[16, 8])
    assert not (tmp_path / "p.parquet").exists()
