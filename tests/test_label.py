
import numpy as np
import pandas as pd
import pytest
import torch

from stdo import metrics, models
from stdo.errors import InputError
from stdo.infer import sr_mse, super_resolve
from stdo.ingest import ingest
from stdo.label import label
from stdo.resample import downscale


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
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


@pytest.mark.parametrize("by", ["bicubic", "features"])
def test_the_cheap_labellers_run_no_general_model_and_rank_by_their_score(clip, tmp_path, by):
    """The general model given is a file that is not a checkpoint: it must not even be read."""
    not_a_model = tmp_path / "general.pt"
    not_a_model.write_text("not a checkpoint")
    cheap = label(clip / "lr_x4.npy", clip / "hr.npy", not_a_model, tmp_path / "p.parquet", scale=4, grid=[4, 2],
                  eval_every=4, by=by)
    full = pd.read_parquet(clip / "patches.parquet")
    assert "psnr" not in cheap and "mse" not in cheap
    shared = ["patch_id", "bicubic_psnr", "grad_energy", "temporal_diff", "is_eval"]
    pd.testing.assert_frame_equal(cheap[shared], full[shared])
    expected = full.bicubic_psnr if by == "bicubic" else -full.grad_energy
    np.testing.assert_array_equal(cheap.score, expected)
    np.testing.assert_array_equal(full.score, full.psnr)  # the general labeller ranks by the general model


def test_an_unknown_labeller_is_named(clip, tmp_path):
    with pytest.raises(InputError, match="labeller 'dct': choose one of general, bicubic, features"):
        label(clip / "lr_x4.npy", clip / "hr.npy", clip / "bicubic.pt", tmp_path / "p.parquet", scale=4,
              grid=[4, 2], by="dct")
    assert not (tmp_path / "p.parquet").exists()


def test_a_grid_too_fine_for_the_shave_is_refused(clip, tmp_path):
    with pytest.raises(InputError, match="leave nothing after the 8 px STDO shave"):
        label(clip / "lr_x4.npy", clip / "hr.npy", clip / "bicubic.pt", tmp_path / "p.parquet", scale=4, grid=[16, 8])
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.parametrize("shave", [0, 8])
def test_patch_mse_where_the_model_runs_equals_the_mse_of_its_8_bit_output(bunny, astronaut, shave):
    # the astronaut's 512 px wide HR image needs more than one exact float32 partial sum per row
    torch.manual_seed(0)
    model = models.build("espcn", 4)
    for hr in (bunny[:, :160, :256], astronaut[None]):
        lr = downscale(hr, 4)
        expected = metrics.mse(super_resolve(model, lr, "cpu"), hr, shave)
        np.testing.assert_array_equal(sr_mse(model, lr, hr, "cpu", batch_size=4, shave=shave), expected)
        bf16 = sr_mse(model, lr, hr, "cpu", shave=shave, precision="bf16")
        np.testing.assert_allclose(metrics.psnr(bf16), metrics.psnr(expected), atol=0.1)
