"""Stage 5: overfit SR models to a video's patches (the training itself: `stdo.fitting`).

- `train_chunk`: one independent model per chunk (m0, nas, stdo, kmeans splits);
- `train_joint`: one job for the whole method: `cafm` (a shared backbone plus per-chunk CaFM
  modules, each sample routed through its chunk's modules; optionally only the modules are
  trained, on a frozen backbone) or `jstdo` (one model on a data-aware subset of the chunks)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from . import models
from .errors import InputError
from .fitting import (
    CropSampler,
    Recipe,
    _check_fraction,
    chunk_budget,
    fit_job,
    initial_model,
    ran_as,
    step_budget,
    steps_of,
)
from .infer import choose_precision, precision_note, setup
from .io import load_chunks, load_frames

log = logging.getLogger(__name__)


def jstdo_subset(chunk: np.ndarray, keep, seed: int) -> np.ndarray:
    """Patch indices kept for JSTDO: a random fraction keep[c] of each chunk c (all of the hardest
    chunk and none of the easiest with STDO's `[1, ..., 0]`)."""
    rng = np.random.default_rng(seed)
    kept = [rng.choice(np.flatnonzero(chunk == c), size=int(round(f * np.sum(chunk == c))), replace=False)
            for c, f in enumerate(keep)]
    return np.sort(np.concatenate(kept))


def _sampler(lr_path, hr_path, patches_path, ids, scale, crop, device, seed) -> CropSampler:
    return CropSampler.of_patches(load_frames(lr_path), load_frames(hr_path), pd.read_parquet(patches_path), ids,
                                  scale, crop, device, seed)


def train_chunk(lr_path, hr_path, patches_path, chunks_path, chunk: int, out, *, init_path=None, threads: int = 1,
                **recipe) -> dict:
    """Train the model of one chunk and write its checkpoint + sidecar to `out`; `recipe`: a `Recipe`.

    The method's budget is `steps` or `epochs` (`step_budget`, over all the video's patches); budget 'total':
    the chunk gets its size-proportional share of it (with epochs: that many passes over its own patches);
    'per_chunk': all of it. One model per chunk is mode per_chunk, never a CaFM fine-tuning."""
    r, chunk = Recipe.of(recipe), int(chunk)
    if r.mode != "per_chunk" or r.finetune:
        raise InputError(f"mode '{r.mode}'{' with finetune' if r.finetune else ''}: a chunk model is mode per_chunk")
    _check_fraction(r.fraction, r.init, r.mode)
    dev = setup(r.device, threads)
    labels = load_chunks(chunks_path)
    if r.k is not None and r.k != labels.max() + 1:
        raise InputError(f"{chunks_path}: {labels.max() + 1} chunks, the method's k is {r.k}")
    ids = np.flatnonzero(labels == chunk)
    if len(ids) == 0:
        raise InputError(f"{chunks_path}: chunk {chunk} holds no patch")
    sampler = _sampler(lr_path, hr_path, patches_path, ids, r.scale, r.crop, dev, r.seed + chunk)
    model = initial_model(r.arch, r.arch_kwargs, r.scale, r.init, init_path, r.seed + chunk, r.init_weights)
    total = step_budget(r.steps, r.epochs, len(labels), r.batch_size)
    mine = total if r.budget == "per_chunk" else chunk_budget(total, np.bincount(labels), chunk)
    my_steps = steps_of(mine, r.epochs, f"chunk {chunk}'s {len(ids)} patches at batch {r.batch_size}")
    log.info("chunk %d: %d patches, %d steps (budget %d, %s), %d params on %s, %s", chunk, len(ids), my_steps,
             round(total), r.budget, models.count_params(model), dev, precision_note(r.precision, dev))
    ran = choose_precision(r.precision, dev)
    result = fit_job(model, sampler, my_steps, r, ran)
    return _save(model, out, r, ran, sampler, dev, {"chunk": chunk, "patches": len(ids), "steps": my_steps,
                                                    "budget_steps": int(round(total)), **result})


def _save(model, out, r: Recipe, ran: str, sampler, dev, outcome: dict) -> dict:
    """The checkpoint and its sidecar: the recipe, and what the job made of it (the precision that ran, the crop
    the patches allowed, the device, threads, steps, losses, curve)."""
    meta = {**r.record(), **ran_as(r.precision, ran), "crop": sampler.crop, "device": str(dev),
            "threads": torch.get_num_threads(), **outcome}
    models.save_checkpoint(model, out, meta)
    return meta


def train_joint(lr_path, hr_path, patches_path, chunks_path, out, *, init_path=None, threads: int = 1,
                **recipe) -> dict:
    """One model for the whole method (`recipe`: a `Recipe`): CaFM (joint or fine-tune) or JSTDO; `init_weights`,
    `fraction`: JSTDO only (CaFM's chunk modules have no base).

    budget 'total': `steps` in all (or `epochs` passes over the video's patches: m0's compute at that many
    epochs); 'per_chunk': as many passes over the data as a chunk model gets with the budget on its chunk,
    i.e. budget x (patches trained on) / (mean chunk size)."""
    r = Recipe.of(recipe)
    _check_fraction(r.fraction, r.init, r.mode)
    dev = setup(r.device, threads)
    labels = load_chunks(chunks_path)
    model = initial_model(r.arch, r.arch_kwargs, r.scale, r.init, init_path, r.seed, r.init_weights)
    extra = {}
    if r.mode == "jstdo":
        ids = jstdo_subset(labels, r.keep, r.seed)
        route = params = None
        extra = {"kept_per_chunk": np.bincount(labels[ids], minlength=r.k).tolist()}
    elif r.mode == "cafm":
        ids = np.arange(len(labels))
        model = models.CaFM(model, r.k)
        route = torch.tensor(labels, device=dev)
        params = model.per_chunk.parameters() if r.finetune else None
        extra = {"cafm_chunks": r.k, "params_per_chunk": model.params_per_chunk()}
    else:
        raise InputError(f"mode '{r.mode}': unknown; joint training is 'cafm' or 'jstdo'")
    sampler = _sampler(lr_path, hr_path, patches_path, ids, r.scale, r.crop, dev, r.seed)
    total = step_budget(r.steps, r.epochs, len(labels), r.batch_size)
    mine = total if r.budget == "total" else total * len(ids) * r.k / len(labels)
    my_steps = steps_of(mine, r.epochs, f"{len(ids)} of {len(labels)} patches at batch {r.batch_size}")
    log.info("%s: %d of %d patches, %d steps (budget %d, %s), %d params on %s, %s", r.mode, len(ids), len(labels),
             my_steps, round(total), r.budget, models.count_params(model), dev, precision_note(r.precision, dev))
    ran = choose_precision(r.precision, dev)
    result = fit_job(model, sampler, my_steps, r, ran, route=route, params=params)
    return _save(model, out, r, ran, sampler, dev, {"patches": int(len(ids)), "steps": my_steps,
                                                    "budget_steps": int(round(total)), **extra, **result})
