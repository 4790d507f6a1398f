import numpy as np
import pytest

from stdo.errors import InputError
from stdo.patches import Grid, cut, gather, grid_of, patch_table, stitch


def test_stitching_the_patches_of_a_frame_rebuilds_it_exactly(bunny):
    grid = Grid.fit(160, 256, cols=8, rows=4, scale=1)
    patches = cut(bunny, grid)
    assert patches.shape == (len(bunny) * 32, 40, 32, 3)
    np.testing.assert_array_equal(stitch(patches, grid), bunny)


def test_leftover_pixels_are_dropped_at_right_and_bottom(bunny):
    grid = Grid.fit(160, 256, cols=10, rows=3, scale=1)  # 25 x 53 px patches
    assert (grid.patch_w, grid.patch_h) == (25, 53)
    np.testing.assert_array_equal(stitch(cut(bunny, grid), grid), bunny[:, :159, :250])


def test_patch_table_boxes_point_at_the_cut_patches(bunny):
    lr = bunny[:, ::4, ::4]  # any LR frames of the right size will do for the geometry
    grid = Grid.fit(lr.shape[1], lr.shape[2], cols=4, rows=2, scale=4)
    table = patch_table(len(bunny), grid, eval_every=4)
    lr_patches, hr_patches = cut(lr, grid), cut(bunny, grid, factor=4)
    for i in (0, 9, len(table) - 1):
        r = table.iloc[i]
        np.testing.assert_array_equal(lr_patches[i], lr[r.frame, r.lr_y0:r.lr_y0 + r.lr_h, r.lr_x0:r.lr_x0 + r.lr_w])
        np.testing.assert_array_equal(hr_patches[i], bunny[r.frame, r.hr_y0:r.hr_y0 + r.hr_h, r.hr_x0:r.hr_x0 + r.hr_w])
    assert table.is_eval.tolist() == [f % 4 == 0 for f in table.frame]
    assert grid_of(table, 4) == grid


def test_gather_picks_the_same_patches_as_cut(bunny):
    grid = Grid.fit(160, 256, cols=4, rows=4, scale=1)
    ids = np.array([0, 5, 17, 40, 95])
    np.testing.assert_array_equal(gather(bunny, grid, ids, block=2), cut(bunny, grid)[ids])


def test_a_grid_finer_than_the_frame_is_refused():
    with pytest.raises(InputError, match="smaller than one patch"):
        Grid.fit(4, 8, cols=10, rows=5, scale=4)
