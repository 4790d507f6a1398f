"""The non-overlapping patch grid of STDO: cut frames into (rows x cols) patches and stitch them
back. Patch ids are frame-major, then row-major, as in the paper's code."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class Grid:
    """A grid of `rows` x `cols` patches of `patch_h` x `patch_w` LR pixels, for one scale."""

    rows: int
    cols: int
    patch_h: int
    patch_w: int
    scale: int

    @classmethod
    def fit(cls, lr_height: int, lr_width: int, cols: int, rows: int, scale: int) -> Grid:
        """The grid over an LR frame; leftover pixels at the right and bottom are dropped."""
        grid = cls(rows, cols, lr_height // rows, lr_width // cols, scale)
        if grid.patch_h < 1 or grid.patch_w < 1:
            raise InputError(
                f"grid {cols}x{rows} at x{scale}: the {lr_width}x{lr_height} LR frame is smaller "
                f"than one patch per cell")
        return grid

    @property
    def per_frame(self) -> int:
        return self.rows * self.cols

    def patch_size(self, factor: int = 1) -> tuple[int, int]:
        """(height, width) of a patch; factor = scale for HR patches."""
        return self.patch_h * factor, self.patch_w * factor


def cut(frames: np.ndarray, grid: Grid, factor: int = 1) -> np.ndarray:
    """(T, H, W, C) frames -> (T * rows * cols, ph, pw, C) patches in patch-id order.

    factor = 1 cuts LR frames, factor = grid.scale cuts the matching HR frames."""
    ph, pw = grid.patch_size(factor)
    t, c = frames.shape[0], frames.shape[-1]
    area = np.asarray(frames[:, : grid.rows * ph, : grid.cols * pw])
    tiles = area.reshape(t, grid.rows, ph, grid.cols, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return tiles.reshape(t * grid.per_frame, ph, pw, c)


def stitch(patches: np.ndarray, grid: Grid) -> np.ndarray:
    """Inverse of `cut`: (T * rows * cols, ph, pw, C) patches -> (T, rows * ph, cols * pw, C)."""
    n, ph, pw, c = patches.shape
    t = n // grid.per_frame
    tiles = patches.reshape(t, grid.rows, grid.cols, ph, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return tiles.reshape(t, grid.rows * ph, grid.cols * pw, c)


def patch_table(n_frames: int, grid: Grid, eval_every: int):
    """One row per patch: ids, LR and HR boxes (y0, x0, h, w) and the evaluation flag."""
    import pandas as pd  # the server's stages only: the client cuts and stitches patches without pandas

    frame, row, col = (a.ravel() for a in np.meshgrid(
        np.arange(n_frames), np.arange(grid.rows), np.arange(grid.cols), indexing="ij"))
    s = grid.scale
    return pd.DataFrame({
        "patch_id": np.arange(frame.size),
        "frame": frame, "row": row, "col": col,
        "lr_y0": row * grid.patch_h, "lr_x0": col * grid.patch_w,
        "lr_h": grid.patch_h, "lr_w": grid.patch_w,
        "hr_y0": row * grid.patch_h * s, "hr_x0": col * grid.patch_w * s,
        "hr_h": grid.patch_h * s, "hr_w": grid.patch_w * s,
        "is_eval": frame % eval_every == 0,
    })


def gather(frames: np.ndarray, grid: Grid, patch_ids, factor: int = 1, block: int = 16) -> np.ndarray:
    """The patches with the given ids, cut a block of frames at a time (bounded memory)."""
    ids = np.asarray(patch_ids)
    ph, pw = grid.patch_size(factor)
    out = np.empty((len(ids), ph, pw, frames.shape[-1]), dtype=frames.dtype)
    frame_of = ids // grid.per_frame
    for f0 in range(0, int(frame_of.max(initial=-1)) + 1, block):
        here = (frame_of >= f0) & (frame_of < f0 + block)
        if here.any():
            tiles = cut(frames[f0:f0 + block], grid, factor)
            out[here] = tiles[ids[here] - f0 * grid.per_frame]
    return out


def grid_of(table, scale: int) -> Grid:
    """The grid a patch table was made with."""
    first = table.iloc[0]
    return Grid(int(table["row"].max()) + 1, int(table["col"].max()) + 1,
                int(first["lr_h"]), int(first["lr_w"]), scale)


def ranking(table) -> np.ndarray:
    """The labeller's score of every patch, lower = harder (`stdo.label`); a table labelled before the
    labellers existed holds the general model's PSNR only, which is the score it was labelled by."""
    return table["score" if "score" in table else "psnr"].to_numpy()
