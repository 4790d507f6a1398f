"""Every score of a decoded video against the original HR frames, fed frame by frame (`Scorer`): the papers'
per-patch and evaluation-frame scores and the codec world's whole-video scores, plus a hash of the frames. The
package evaluation (`stdo.evaluate`) and the HR codec baseline (`stdo.codec`) score through it."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from . import metrics
from .delivery import stream
from .errors import InputError
from .io import load_frames
from .patches import grid_of
from .quality import COLUMNS, VideoQuality


def kbps(n_bytes: int, frames: int, fps: float) -> float:
    return 8 * n_bytes / (frames / fps) / 1000


class Scorer:
    """Every score of an SR video, fed frame by frame: the papers' per-patch and evaluation-frame
    scores and the codec-style whole-video scores, plus a hash of the frames."""

    def __init__(self, hr_path, fps: float, threads: int, table: pd.DataFrame | None = None, scale: int = 1,
                 vmaf_subsample: int = 1):
        self.hr, self.table, self.scale = load_frames(hr_path), table, scale
        self.quality = VideoQuality(hr_path, fps=fps, threads=threads, vmaf_subsample=vmaf_subsample)
        self.digest, self.count = hashlib.sha256(), 0
        if table is not None:
            self.grid = grid_of(table, scale)
            self.eval_frames = set(table.loc[table["is_eval"], "frame"].unique().tolist())
            self.patch_mse = np.empty(len(table))
            self.frame_scores = []

    def __enter__(self):
        self.quality.__enter__()
        return self

    def __exit__(self, *exc):
        return self.quality.__exit__(*exc)

    def add(self, frame: np.ndarray) -> None:
        i = self.count
        if i >= len(self.hr):
            raise InputError(f"the SR video has more frames than the {len(self.hr)} HR frames")
        self.quality.add(frame)
        self.digest.update(np.ascontiguousarray(frame).tobytes())
        if self.table is not None:
            hr = np.asarray(self.hr[i:i + 1])
            rows = slice(i * self.grid.per_frame, (i + 1) * self.grid.per_frame)
            self.patch_mse[rows] = metrics.patch_mse(frame[None], hr, self.grid, metrics.stdo_shave(self.scale))
            if i in self.eval_frames:
                self.frame_scores.append(metrics.frame_scores(frame[None], hr, self.scale))
        self.count += 1

    def result(self, chunk: np.ndarray | None = None) -> dict:
        video = self.quality.result()
        out = {"frames": video["frames"], **{column: video[key] for key, column in COLUMNS.items()},
               "vmaf_model": video["vmaf_model"],
               "vmaf_subsample": video["vmaf_subsample"],
               "rd_psnr_y_per_frame": video["per_frame"]["psnr_y"], "vmaf_per_frame": video["per_frame"]["vmaf"],
               "sr_sha256": self.digest.hexdigest()}
        if self.table is None:
            return out
        chunk = np.zeros(len(self.table), np.int64) if chunk is None else chunk
        k = int(chunk.max()) + 1
        chunk_mse = [float(self.patch_mse[chunk == c].mean()) for c in range(k)]
        pooled = {key: np.concatenate([s[key] for s in self.frame_scores]) for key in self.frame_scores[0]}
        return {**out, "k": k, "chunk_sizes": np.bincount(chunk, minlength=k).tolist(), "chunk_mse": chunk_mse,
                "psnr_stdo_patch": float(metrics.psnr(np.mean(chunk_mse))),
                "psnr_patch_mean": float(np.mean(metrics.psnr(self.patch_mse))),
                "patches": len(self.table), "eval_frames": len(self.eval_frames),
                "eval_frame_ids": sorted(self.eval_frames), **metrics.pool_frame_scores(pooled)}


def score_stream(stream_path, hr_path, *, fps: float, threads: int = 1, vmaf_subsample: int = 1) -> dict:
    """Codec-style scores of a decoded video against the HR frames (the HR codec baseline)."""
    with Scorer(hr_path, fps, threads, vmaf_subsample=vmaf_subsample) as scorer:
        for frame in stream.decode(stream_path):
            scorer.add(frame)
        return scorer.result()
