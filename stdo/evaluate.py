"""Stage 6: evaluate a method (its chunk models) or a reference (bicubic, the general model).

Every patch is super-resolved by its own chunk's model, on its own (as the client would).
Reported: per-chunk mean MSE and STDO's `-10 log10(mean of chunk MSE)` over all patches of all
frames (the frames the models were overfitted to, as in STDO), plus whole-frame metrics on the
evaluation frames, whose SR frames are stitched from the patches, seams included. Conventions are
listed in `stdo.metrics`."""
from __future__ import annotations

import logging
import math
import zlib

import numpy as np
import pandas as pd

from . import metrics, models
from .cluster import load_chunks
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
            loaded.append((models.build("bicubic", scale), {"arch": "bicubic"}))
        else:
            loaded.append(models.load_checkpoint(path, device))
    return loaded


def per_chunk(loaded, k: int, source) -> list:
    """The model of each of the k chunks: one model each, CaFM views of one shared model, or one
    model for every chunk (JSTDO, m0, references)."""
    if len(loaded) == k:
        return loaded
    if len(loaded) == 1:
        model, meta = loaded[0]
        if meta.get("cafm_chunks") not in (None, k):
            raise InputError(f"{source}: the CaFM model has {meta['cafm_chunks']} chunks, the chunk map {k}")
        if meta.get("cafm_chunks"):
            return [(models.ChunkView(model, c), meta) for c in range(k)]
        return loaded * k
    raise InputError(f"{source}: patches fall into {k} chunks but {len(loaded)} models were given")


def delivered_size(loaded, chunk: np.ndarray, split: str | None) -> dict:
    """What the client downloads besides the LR video: every distinct model in fp16 and, when
    patches of one frame use different models chosen by content (stdo / kmeans splits), the
    patch -> chunk map (raw bits = patches x ceil(log2 k); sent zlib-compressed, one byte a patch)."""
    k = int(chunk.max()) + 1
    params = sum(models.count_params(m) for m, _ in loaded)
    routed = len(loaded) == k or bool(loaded[0][1].get("cafm_chunks"))
    needs_map = split in ("stdo", "kmeans") and k > 1 and routed
    map_bits = len(chunk) * math.ceil(math.log2(k)) if needs_map else 0
    map_bytes = len(zlib.compress(chunk.astype(np.uint8).tobytes(), 9)) if needs_map else 0
    return {"total_params": params, "model_bytes_fp16": 2 * params, "map_bits": map_bits,
            "map_bytes_zlib": map_bytes, "delivered_bytes": 2 * params + map_bytes}


def params_per_model(model, meta) -> int:
    """Parameters the client runs for one chunk (CaFM: the backbone plus one chunk's modules)."""
    if meta.get("cafm_chunks"):
        return models.count_params(model.backbone) + model.params_per_chunk()
    return models.count_params(model)


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
    chunk = load_chunks(chunks_path) if chunks_path else np.zeros(len(table), np.int64)
    loaded = load_models(model_paths, scale, dev)
    k = int(chunk.max()) + 1
    chunk_models = per_chunk(loaded, k, chunks_path or patches_path)
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
    result = {
        **(info or {}),
        "scale": scale, "k": k, "models": len(loaded),
        "arch": loaded[0][1]["arch"],
        "params_per_model": params_per_model(*loaded[0]),
        **delivered_size(loaded, chunk, (info or {}).get("split")),
        "train_seconds": round(sum(meta.get("train_seconds", 0.0) for _, meta in loaded), 1),
        "chunk_sizes": np.bincount(chunk, minlength=k).tolist(),
        "chunk_mse": chunk_mse,
        "psnr_stdo_patch": float(metrics.psnr(np.mean(chunk_mse))),
        "psnr_patch_mean": float(np.mean(metrics.psnr(patch_mse))),
        "frames": len(lr), "eval_frames": len(eval_frames), "patches": len(table),
        "eval_frame_ids": eval_frames.tolist(),
        **metrics.frame_metrics(sr_eval, hr_eval, scale),
    }
    save_json(result, out)
    log.info("%s: STDO patch PSNR %.2f dB, frame RGB PSNR %.2f dB", result.get("method"),
             result["psnr_stdo_patch"], result["psnr_frame_rgb"])
    return result
