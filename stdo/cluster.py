"""Stage 4: split the patches into k chunks.

- stdo: pool the patches of all frames, rank by the labeller's `score` (the general model's PSNR
  in STDO; `stdo.label`) and cut into k groups of equal count (sizes differ by at most one when k
  does not divide the count); chunk 0 holds the lowest score, i.e. the hardest patches. Ties are
  broken by patch id, so the split is stable.
- temporal: k contiguous frame ranges (the NAS / CaFM time chunks).
- kmeans: k-means (scikit-learn) on standardised per-patch features (general-model PSNR, LR
  gradient energy, temporal difference); clusters are numbered by mean PSNR, hardest first.
  Chunk sizes follow the data. Needs patches labelled by the general model.
- none: one chunk holding everything.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .io import save_json, save_parquet
from .patches import ranking

SPLITS = ("stdo", "temporal", "kmeans", "none")
KMEANS_FEATURES = ("psnr", "grad_energy", "temporal_diff")


def split_stdo(score: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(score, kind="stable")
    chunk = np.empty(len(score), dtype=np.int64)
    for c, members in enumerate(np.array_split(order, k)):
        chunk[members] = c
    return chunk


def split_temporal(frame: np.ndarray, k: int) -> np.ndarray:
    frames = np.unique(frame)
    if k > len(frames):
        raise InputError(f"k = {k}: the temporal split needs at least k frames, the video has {len(frames)}")
    starts = [part[0] for part in np.array_split(frames, k)]
    return np.searchsorted(starts, frame, side="right") - 1


def split_kmeans(table: pd.DataFrame, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans  # 0.6 s to import: only this split pays for it

    if "psnr" not in table:
        raise InputError("split kmeans clusters on the general model's patch PSNR: label with label_by: general")
    features = table[list(KMEANS_FEATURES)].to_numpy(np.float64, copy=True)
    features[:, 0] = np.minimum(features[:, 0], 100.0)  # a perfect patch has infinite PSNR
    spread = features.std(axis=0)
    features = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
    if len(np.unique(labels)) < k:
        raise InputError(f"k = {k}: k-means found only {len(np.unique(labels))} distinct groups of patches")
    mean_psnr = [features[labels == c, 0].mean() for c in range(k)]
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(mean_psnr, kind="stable")] = np.arange(k)
    return rank[labels]


def assign(table: pd.DataFrame, split: str, k: int, seed: int = 0) -> np.ndarray:
    if k < 1 or k > len(table):
        raise InputError(f"k = {k}: must be between 1 and the number of patches ({len(table)})")
    if split == "stdo":
        return split_stdo(ranking(table), k)
    if split == "temporal":
        return split_temporal(table["frame"].to_numpy(), k)
    if split == "kmeans":
        return split_kmeans(table, k, seed)
    if split == "none":
        if k != 1:
            raise InputError(f"k = {k}: split 'none' makes exactly one chunk")
        return np.zeros(len(table), dtype=np.int64)
    raise InputError(f"split '{split}': unknown; choose one of {', '.join(SPLITS)}")


def cluster(patches_path, out_parquet, out_json, *, split: str, k: int, seed: int = 0) -> dict:
    table = pd.read_parquet(patches_path)
    chunk = assign(table, split, k, seed)
    chunks = table[["patch_id", "frame", "row", "col"]].assign(chunk=chunk)
    score = ranking(table)
    summary = {
        "split": split, "k": k,
        "sizes": np.bincount(chunk, minlength=k).tolist(),
        "score_range": [[float(score[chunk == c].min()), float(score[chunk == c].max())] for c in range(k)],
        "frame_range": [[int(chunks.frame[chunk == c].min()), int(chunks.frame[chunk == c].max())]
                        for c in range(k)],
    }
    if split == "stdo":
        summary["thresholds"] = [float(score[chunk == c].max()) for c in range(k - 1)]
    save_parquet(chunks, out_parquet)
    save_json(summary, out_json)
    return summary
