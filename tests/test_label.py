
import numpy as np
import pandas as pd
import pytest

from stdo import models
from stdo.errors import InputError
from stdo.ingest import ingest
from stdo.label import label


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


def test_a_grid_too_fine_for_the_shave_is_refused(clip, tmp_path):
    with pytest.raises(InputError, match="leave nothing after the 8 px STDO shave"):
        label(clip / "lr_x4.npy", clip / "hr.npy", clip / "bicubic.pt", tmp_path / "p.parquet", scale=4, grid=[16, 8])
    assert not (tmp_path / "p.parquet").exists()
