"""Stage 5: overfit one SR model to the patches of one chunk.

Training samples are random crops (with random horizontal/vertical flips) inside the chunk's
patches. All patches are preloaded once as uint8 tensors; a batch is one vectorised gather, so
there is no image decoding and no Python loop per sample on the training path."""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import models
from .errors import InputError
from .infer import setup
from .io import load_frames
from .patches import gather, grid_of

log = logging.getLogger(__name__)


class CropSampler:
    """Random aligned LR/HR crops of `crop` LR pixels from (N, h, w, 3) uint8 LR/HR patch stacks."""

    def __init__(self, lr: np.ndarray, hr: np.ndarray, scale: int, crop: int, device, seed: int = 0):
        self.lr = torch.from_numpy(np.require(lr, requirements=["C", "W"])).to(device)
        self.hr = torch.from_numpy(np.require(hr, requirements=["C", "W"])).to(device)
        self.scale, self.device = scale, device
        self.crop = min(crop, lr.shape[1], lr.shape[2])
        self.gen = torch.Generator(device=device).manual_seed(seed)

    def _ramp(self, size: int, flip: torch.Tensor) -> torch.Tensor:
        """(B, size) offsets 0..size-1, reversed for the samples that are flipped."""
        ramp = torch.arange(size, device=self.device)
        return torch.where(flip[:, None], size - 1 - ramp, ramp)

    def _start(self, limit: int, batch: int) -> torch.Tensor:
        return torch.randint(0, limit - self.crop + 1, (batch, 1), generator=self.gen, device=self.device)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, c, c) LR and (B, 3, c*s, c*s) HR crops as float in [0, 1]."""
        c, s = self.crop, self.scale
        idx = torch.randint(0, len(self.lr), (batch, 1, 1), generator=self.gen, device=self.device)
        flip_y, flip_x = torch.randint(0, 2, (2, batch), generator=self.gen, device=self.device).bool()
        y0, x0 = self._start(self.lr.shape[1], batch), self._start(self.lr.shape[2], batch)
        lr = self.lr[idx, (y0 + self._ramp(c, flip_y))[:, :, None], (x0 + self._ramp(c, flip_x))[:, None, :]]
        hr = self.hr[idx, (y0 * s + self._ramp(c * s, flip_y))[:, :, None],
                     (x0 * s + self._ramp(c * s, flip_x))[:, None, :]]
        return lr.permute(0, 3, 1, 2).float().div_(255.0), hr.permute(0, 3, 1, 2).float().div_(255.0)


def fit(model: nn.Module, sampler: CropSampler, steps: int, batch_size: int, lr: float,
        log_every: int = 50) -> dict:
    """Adam + cosine decay on L1 (STDO's recipe); returns the logged losses and the seconds spent."""
    model.to(sampler.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    losses, running, since, start = [], 0.0, 0, time.perf_counter()
    for step in range(1, steps + 1):
        x, y = sampler.sample(batch_size)
        loss = F.l1_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        running, since = running + loss.detach(), since + 1  # no per-step device sync
        if step % log_every == 0 or step == steps:
            losses.append(float(running) / since)
            log.info("step %d/%d  L1 %.5f  %.1f s", step, steps, losses[-1], time.perf_counter() - start)
            running, since = 0.0, 0
    model.eval()
    return {"losses": losses, "train_seconds": round(time.perf_counter() - start, 3)}


def chunk_steps(total_steps: int, chunk_sizes, chunk: int) -> int:
    """A chunk model's share of the method's step budget, in proportion to its patch count."""
    sizes = np.asarray(chunk_sizes, dtype=np.float64)
    return max(1, int(round(total_steps * sizes[chunk] / sizes.sum())))


def initial_model(arch: str, arch_kwargs: dict, scale: int, init: str, general_path, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = models.build(arch, scale, **arch_kwargs)
    if init == "general":
        general, meta = models.load_checkpoint(general_path)
        if (meta["arch"], meta.get("arch_kwargs", {})) != (arch, arch_kwargs):
            raise InputError(f"init: general: the general model is {meta['arch']} {meta.get('arch_kwargs', {})}, "
                             f"it cannot warm-start {arch} {arch_kwargs}")
        model.load_state_dict(general.state_dict())
    return model


def train_chunk(lr_path, hr_path, patches_path, chunks_path, chunk: int, out, *, scale: int,
                arch: str, steps: int, batch_size: int, crop: int, lr: float, init: str = "scratch",
                arch_kwargs: dict | None = None, general_path=None, seed: int = 0,
                device: str = "auto", threads: int = 1, **method) -> dict:
    """Train the model of one chunk and write its checkpoint + sidecar to `out`."""
    arch_kwargs, chunk = arch_kwargs or {}, int(chunk)
    dev = setup(device, threads)
    table = pd.read_parquet(patches_path)
    chunks = pd.read_parquet(chunks_path)
    sizes = np.bincount(chunks["chunk"], minlength=chunk + 1)
    ids = chunks.loc[chunks["chunk"] == chunk, "patch_id"].to_numpy()
    if len(ids) == 0:
        raise InputError(f"{chunks_path}: chunk {chunk} holds no patch")
    grid = grid_of(table, scale)
    sampler = CropSampler(gather(load_frames(lr_path), grid, ids),
                          gather(load_frames(hr_path), grid, ids, factor=scale),
                          scale, crop, dev, seed=seed + chunk)
    model = initial_model(arch, arch_kwargs, scale, init, general_path, seed + chunk)
    my_steps = chunk_steps(steps, sizes, chunk)
    log.info("chunk %d: %d patches, %d of %d steps, %d params on %s", chunk, len(ids), my_steps,
             steps, models.count_params(model), dev)
    result = fit(model, sampler, my_steps, batch_size, lr)
    meta = {"arch": arch, "arch_kwargs": arch_kwargs, "scale": scale, "chunk": chunk,
            "patches": int(len(ids)), "steps": my_steps, "budget_steps": steps, "batch_size": batch_size,
            "crop": sampler.crop, "lr": lr, "init": init, "seed": seed, "device": str(dev),
            "threads": torch.get_num_threads(), **result}
    models.save_checkpoint(model, out, meta)
    return meta
