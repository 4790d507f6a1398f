"""Stage 6: evaluate a method (its chunk models) or a reference (bicubic, the general model).

Every patch is super-resolved by its own chunk's model, on its own (as the client would).
Reported: per-chunk mean MSE and STDO's `-10 log10(mean of chunk MSE)` over all patches of all
frames (the frames the models were overfitted to, as in STDO), plus whole-frame metrics on the
evaluation frames, whose SR frames are stitched from the patches, seams included. Conventions are
listed in `stdo.metrics`."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import metrics, models
from .errors import InputError
from .infer import setup, super_resolve
from .io import load_frames, save_json
from .patches import cut, grid_of, stitch

log = logging.getLogger(__name__)


def load_models(paths, scale: int, device):
    """Chunk models in chunk order; the literal 'bicubic' stands for bicubic interpolation."""
    loaded = []
    for path in paths:
        if str(path) == "bicubic":
            loaded.append((models.build("bicubic", scale), {"arch": "bicubic", "params": 0}))
        else:
            loaded.append(models.load_checkpoint(path, device))
    return loaded


def super_resolve_chunks(chunk_models, lr_patches, chunk, scale, device, batch_size):
    """SR of each patch by the model of its chunk."""
    n, h, w, c = lr_patches.shape
    sr = np.empty((n, h * scale, w * scale, c), np.uint8)
    for k in np.unique(chunk):
        sr[chunk == k] = super_resolve(chunk_models[k][0], lr_patches[chunk == k], device, batch_size)
    return sr


def evaluate(lr_path, hr_path, patches_path, model_paths, out, *, scale: int, chunks_path=None,
             device: str = "auto", threads: int = 1, batch_size: int = 64, block: int = 16,
             info: dict | None = None) -> dict:
    dev = setup(device, threads)
    lr, hr = load_frames(lr_path), load_frames(hr_path)
    table = pd.read_parquet(patches_path)
    chunk = np.zeros(len(table), np.int64)
    if chunks_path:
        chunk = pd.read_parquet(chunks_path).set_index("patch_id").loc[table.patch_id, "chunk"].to_numpy()
    chunk_models = load_models(model_paths, scale, dev)
    k = len(chunk_models)
    if chunk.max() >= k:
        raise InputError(f"{chunks_path}: patches reach chunk {chunk.max()} but {k} models were given")
    grid = grid_of(table, scale)
    eval_frames = np.flatnonzero(table.groupby("frame")["is_eval"].first().to_numpy())
    sr_eval = []
    patch_mse = np.empty(len(table))
    for f0 in range(0, len(lr), block):
        frames = np.arange(f0, min(f0 + block, len(lr)))
        rows = slice(f0 * grid.per_frame, (frames[-1] + 1) * grid.per_frame)
        sr = super_resolve_chunks(chunk_models, cut(lr[frames], grid), chunk[rows], scale, dev,
                                  batch_size)
        patch_mse[rows] = metrics.mse(sr, cut(hr[frames], grid, scale), metrics.stdo_shave(scale))
        keep = np.isin(frames, eval_frames)
        if keep.any():
            sr_eval.append(stitch(sr, grid)[keep])
        log.info("evaluated frames %d-%d of %d", frames[0], frames[-1], len(lr))
    sr_eval = np.concatenate(sr_eval)
    hr_eval = np.asarray(hr[eval_frames])[:, : sr_eval.shape[1], : sr_eval.shape[2]]
    chunk_mse = [float(patch_mse[chunk == c].mean()) for c in range(k)]
    params = [m[1].get("params", models.count_params(m[0])) for m in chunk_models]
    result = {
        **(info or {}),
        "scale": scale, "k": k,
        "arch": chunk_models[0][1]["arch"],
        "params_per_model": int(max(params)), "total_params": int(sum(params)),
        "train_seconds": round(sum(m[1].get("train_seconds", 0.0) for m in chunk_models), 1),
        "chunk_sizes": np.bincount(chunk, minlength=k).tolist(),
        "chunk_mse": chunk_mse,
        "psnr_stdo_patch": float(metrics.psnr(np.mean(chunk_mse))),
        "psnr_patch_mean": float(np.mean(metrics.psnr(patch_mse))),
        "frames": len(lr), "eval_frames": len(eval_frames), "patches": len(table),
        **metrics.frame_metrics(sr_eval, hr_eval, scale),
    }
    save_json(result, out)
    log.info("%s: STDO patch PSNR %.2f dB, frame RGB PSNR %.2f dB", result.get("method"),
             result["psnr_stdo_patch"], result["psnr_frame_rgb"])
    return result
