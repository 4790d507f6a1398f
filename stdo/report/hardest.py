"""The hardest patch of a clip, super-resolved by bicubic, the general model and the model of each method
for that patch's chunk: the pictures `stdo.report.figures` draws side by side, and their PSNR."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .. import metrics, models
from ..errors import InputError
from ..infer import super_resolve
from ..io import load_chunks
from ..patches import gather, grid_of, ranking

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


def hardest_patch(lr, hr, table: pd.DataFrame, scale: int, general_path, methods: list[dict], device,
                  batch_size: int = 64) -> dict:
    """The hardest patch by the labeller's score (the lowest general-model PSNR in STDO), super-resolved
    by bicubic, the general model and each method's model for that patch's chunk; PSNR of each under the
    STDO patch convention."""
    grid = grid_of(table, scale)
    row = table.iloc[int(np.argmin(ranking(table)))]
    pid = int(row["patch_id"])
    lr_patch = gather(lr, grid, [pid])
    hr_patch = gather(hr, grid, [pid], factor=scale)
    shave = metrics.stdo_shave(scale)
    candidates = [("bicubic", load_models(["bicubic"], scale, device)[0][0], None),
                  ("general", load_models([general_path], scale, device)[0][0], None)]
    for m in methods:
        chunk = load_chunks(m["chunks_path"])
        k = int(chunk.max()) + 1
        model = per_chunk(load_models(m["model_paths"], scale, device), k, m["chunks_path"])[chunk[pid]][0]
        candidates.append((m["name"], model, int(chunk[pid])))
    crops = []
    for name, model, c in candidates:
        sr = super_resolve(model, lr_patch, device, batch_size)
        value = float(metrics.psnr(metrics.mse(sr, hr_patch, shave))[0])
        crops.append({"name": name, "chunk": c, "psnr": value, "image": sr[0]})
    general_psnr = crops[1]["psnr"]
    if "psnr" in row and abs(general_psnr - float(row["psnr"])) > 0.01:
        log.warning("general model on patch %d: %.3f dB here, %.3f dB in %s", pid, general_psnr, row["psnr"],
                    "patches.parquet")
    return {"patch_id": pid, "frame": int(row["frame"]), "row": int(row["row"]), "col": int(row["col"]),
            "shave": shave, "hr": hr_patch[0], "crops": crops}
