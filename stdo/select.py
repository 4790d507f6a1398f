"""Stage: never ship a worse model. The server has the HR frames, so it knows, chunk by chunk, whether a
method's trained model beats what the client would use without it: per chunk it ships the trained model
only if it beats the general model on that chunk's patches, and the general model only if that beats
bicubic; a tie goes to what costs the client less, bicubic, then the general model (content either reproduces
exactly, a black frame or a still, ships no model at all). Scored as labelling scores the general
model and bicubic (`patches.parquet`): RGB, 8-bit output, `scale + 4` px shaved from each patch border,
the mean MSE over the chunk's patches of every frame of the LR the models were trained on, fp32. Where the
labeller did not run the general model (`label_by` bicubic or features), select runs it here."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import metrics, models
from .errors import InputError
from .infer import setup, sr_mse
from .io import load_chunks, load_frames, save_json
from .patches import cut, grid_of
from .vocabulary import SHIPS

log = logging.getLogger(__name__)


def chunk_models(model_paths, k: int, dev, chunks_path) -> list:
    """The trained model of each chunk: one per chunk, one for all (jstdo), or a CaFM model's chunk views."""
    loaded = [models.load_checkpoint(p, dev) for p in model_paths]
    if len(loaded) == k:
        return [model for model, _ in loaded]
    if len(loaded) == 1:
        model, meta = loaded[0]
        if meta.get("cafm_chunks"):
            return [models.ChunkView(model, c).eval() for c in range(k)]
        return [model] * k
    raise InputError(f"{chunks_path}: {k} chunks, but {len(loaded)} models: give one per chunk or one for all")


def trained_chunk_mse(lr, hr, table: pd.DataFrame, chunk: np.ndarray, nets: list, scale: int, dev,
                      batch_size: int, block: int = 16) -> np.ndarray:
    """Mean patch MSE of each chunk under its own trained model, a block of frames at a time."""
    grid, shave = grid_of(table, scale), metrics.stdo_shave(scale)
    sse, count = np.zeros(len(nets)), np.bincount(chunk, minlength=len(nets))
    for f0 in range(0, len(lr), block):
        frames = np.arange(f0, min(f0 + block, len(lr)))
        lr_p, hr_p = cut(lr[frames], grid), cut(hr[frames], grid, scale)
        here = chunk[f0 * grid.per_frame:f0 * grid.per_frame + len(lr_p)]
        for c in np.unique(here):
            sse[c] += sr_mse(nets[c], lr_p[here == c], hr_p[here == c], dev, batch_size, shave).sum()
    return sse / count


def select(lr_path, hr_path, patches_path, chunks_path, model_paths, out, *, scale: int, general_path=None,
           device: str = "auto", threads: int = 1, batch_size: int = 64) -> dict:
    """Write what each chunk ships and the three scores it was chosen by (`selection.json`). `general_path`:
    the general model, run only when the patch table lacks its scores."""
    dev = setup(device, threads)
    table = pd.read_parquet(patches_path).sort_values("patch_id", ignore_index=True)
    chunk = load_chunks(chunks_path)
    if len(chunk) != len(table):
        raise InputError(f"{chunks_path}: {len(chunk)} patches, {patches_path} {len(table)}")
    k = int(chunk.max()) + 1
    lr, hr = load_frames(lr_path), load_frames(hr_path)
    trained = trained_chunk_mse(lr, hr, table, chunk, chunk_models(model_paths, k, dev, chunks_path), scale, dev,
                                batch_size)
    if "mse" in table:
        general = table.groupby(chunk)["mse"].mean().to_numpy()
    elif general_path is None:
        raise InputError(f"{patches_path}: holds no general-model scores (labelled by another labeller); "
                         "give the general model to score it")
    else:
        net = models.load_checkpoint(general_path, dev)[0]
        general = trained_chunk_mse(lr, hr, table, chunk, [net] * k, scale, dev, batch_size)
    bicubic = table.groupby(chunk)["bicubic_mse"].mean().to_numpy()
    chunks = []
    for c in range(k):
        mse = {"trained": float(trained[c]), "general": float(general[c]), "bicubic": float(bicubic[c])}
        ships = min(SHIPS, key=lambda s: (mse[s], SHIPS.index(s)))
        chunks.append({"chunk": c, "patches": int((chunk == c).sum()), "mse": mse, "ships": ships})
    result = {"chunks": chunks, "fallbacks": sum(c["ships"] != "trained" for c in chunks)}
    save_json(result, out)
    log.info("select: %s", ", ".join(f"chunk {c['chunk']} {c['ships']}" for c in chunks))
    return result
