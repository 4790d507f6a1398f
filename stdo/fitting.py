"""How a model is overfitted, shared by the training stages (`stdo.train`) and the general model
(`stdo.general`): the crop sampler, the optimisation loops (dense, and sparse updates of a warm start), the
step budgets and the initial model.

Training samples are random crops (with random horizontal/vertical flips) inside the chunk's
patches. The sampler holds only the patch boxes and reads each batch's crops straight from the
memory-mapped frames (one vectorised fancy index per array), so memory follows the batch, not the
video, and there is no image decoding and no Python loop per sample on the training path."""
from __future__ import annotations

import logging
import time
from dataclasses import MISSING, asdict, dataclass, field, fields

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from . import models
from .delivery import onnx_model
from .errors import InputError
from .infer import autocast, to_tensor
from .learning import Recorder
from .patches import grid_of
from .vocabulary import sparse_update_problem

log = logging.getLogger(__name__)


class CropSampler:
    """Random aligned LR/HR crops of `crop` LR pixels inside patches of (T, H, W, 3) uint8 frames.

    A patch is a box (frame, LR y0, LR x0) of `patch` = (h, w) LR pixels, at `scale` times that in
    the HR frames; without boxes every frame is one patch (a stack of patches). Frames are never
    copied: memory-mapped ones are read a batch of crops at a time."""

    def __init__(self, lr: np.ndarray, hr: np.ndarray, scale: int, crop: int, device, seed: int = 0,
                 boxes: np.ndarray | None = None, patch: tuple[int, int] | None = None):
        self.lr, self.hr = lr, hr
        whole_frames = np.column_stack([np.arange(len(lr)), np.zeros((len(lr), 2), int)])
        self.boxes = np.asarray(whole_frames if boxes is None else boxes, dtype=np.int64)
        self.patch = tuple(lr.shape[1:3] if patch is None else patch)
        self.scale, self.device = scale, torch.device(device)
        self.crop = min(crop, *self.patch)
        self.gen = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on any device

    @classmethod
    def of_patches(cls, lr: np.ndarray, hr: np.ndarray, table: pd.DataFrame, ids, scale: int, crop: int,
                   device, seed: int = 0) -> CropSampler:
        """The sampler over the patches `ids` of a patch table (patches.parquet) of these frames."""
        boxes = table.set_index("patch_id").loc[ids, ["frame", "lr_y0", "lr_x0"]].to_numpy()
        return cls(lr, hr, scale, crop, device, seed, boxes=boxes, patch=grid_of(table, scale).patch_size())

    def draw(self, batch: int) -> tuple[np.ndarray, ...]:
        """Random (patch index, LR y, LR x offset inside the patch, vertical flip, horizontal flip), drawn
        in the order the sampler has always drawn them, so a seed still trains the same models."""
        idx = torch.randint(0, len(self.boxes), (batch,), generator=self.gen)
        flip_y, flip_x = torch.randint(0, 2, (2, batch), generator=self.gen).bool()
        y, x = (torch.randint(0, size - self.crop + 1, (batch,), generator=self.gen) for size in self.patch)
        return idx.numpy(), y.numpy(), x.numpy(), flip_y.numpy(), flip_x.numpy()

    def crops(self, idx, y, x, flip_y, flip_x) -> tuple[np.ndarray, np.ndarray]:
        """(B, c, c, 3) LR and (B, c*s, c*s, 3) HR uint8 crops at the drawn places."""
        frame, y0, x0 = self.boxes[idx].T
        c, s = self.crop, self.scale
        return (_read_crops(self.lr, frame, y0 + y, x0 + x, c, flip_y, flip_x),
                _read_crops(self.hr, frame, (y0 + y) * s, (x0 + x) * s, c * s, flip_y, flip_x))

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, c, c) LR and (B, 3, c*s, c*s) HR crops as float in [0, 1], and their patch indices."""
        idx, *where = self.draw(batch)
        lr, hr = self.crops(idx, *where)
        return to_tensor(lr, self.device), to_tensor(hr, self.device), torch.from_numpy(idx).to(self.device)


def _read_crops(frames: np.ndarray, frame, y0, x0, size: int, flip_y, flip_x) -> np.ndarray:
    """(B, size, size, C) crops of (T, H, W, C) `frames` at (frame, y0, x0), flipped where asked.

    One fancy index into the view of all row segments `size` pixels long, so each crop row is one
    contiguous copy (2-3x faster on a memmap than indexing pixel by pixel); flipped rows are read
    in reverse order, and horizontal flips made on the batch."""
    segments = sliding_window_view(frames, (size, frames.shape[-1]), axis=(2, 3))
    ramp = np.arange(size)
    rows = y0[:, None] + np.where(flip_y[:, None], size - 1 - ramp, ramp)
    crops = segments[frame[:, None], rows, x0[:, None], 0]
    crops[flip_x] = crops[flip_x, :, ::-1]
    return crops


LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss}


def fit(model: nn.Module, sampler: CropSampler, steps: int, batch_size: int, lr: float,
        route: torch.Tensor | None = None, params=None, precision: str = "fp32", log_every: int = 50,
        curve: Recorder | None = None, loss: str = "l1") -> dict:
    """Adam + cosine decay on `loss` (L1: STDO's recipe); returns the logged losses and the seconds spent.

    `route` (chunk index per patch) feeds CaFM models their samples' chunks; `params` restricts
    what is trained (default: everything); `precision` bf16/fp16 trains under autocast (fp16 with
    loss scaling); `curve` records the learning curve (its probing is not counted in the seconds)."""
    model.to(sampler.device).train()
    opt = torch.optim.Adam(model.parameters() if params is None else params, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    scaler = torch.amp.GradScaler(sampler.device.type, enabled=precision == "fp16")
    losses, running, since, start = [], 0.0, 0, time.perf_counter()
    probed, criterion = (curve.probing if curve else 0.0), LOSSES[loss]
    for step in range(1, steps + 1):
        x, y, idx = sampler.sample(batch_size)
        with autocast(sampler.device, precision):
            out = model(x) if route is None else model(x, route[idx])
        error = criterion(out.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(error).backward()
        scaler.step(opt)
        scaler.update()
        schedule.step()
        running, since = running + error.detach(), since + 1  # no per-step device sync
        if curve is not None:
            curve.after_step(model, error.detach())
        if step % log_every == 0 or step == steps:
            losses.append(float(running) / since)
            log.info("step %d/%d  %s %.5f  %.1f s", step, steps, loss.upper(), losses[-1], time.perf_counter() - start)
            running, since = 0.0, 0
    model.eval()
    probed = curve.probing - probed if curve else 0.0
    return {"losses": losses, "train_seconds": round(time.perf_counter() - start - probed, 3)}


def fit_sparse(model: nn.Module, sampler: CropSampler, steps: int, batch_size: int, lr: float, fraction: float,
               route: torch.Tensor | None = None, precision: str = "fp32", curve: Recorder | None = None,
               loss: str = "l1") -> dict:
    """SRVC's sparse update at equal steps: the first half of `steps` trains every weight (`fit`); then the
    `fraction` of the parameters that moved most from where they started (the base) is kept, every other
    entry is reset to the base, and the second half trains the kept entries only: their gradients are masked
    and a fresh Adam holds no momentum from the first half, so a masked entry cannot move (checked)."""
    model.to(sampler.device)
    base = {name: p.detach().clone() for name, p in model.named_parameters()}
    first = fit(model, sampler, steps // 2, batch_size, lr, route=route, precision=precision, curve=curve, loss=loss)
    masks = largest_changes(model, base, fraction)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.where(masks[name], p, base[name]))
    trained = {name: p for name, p in model.named_parameters() if masks[name].any()}
    hooks = [p.register_hook(lambda grad, mask=masks[name]: torch.where(mask, grad, 0)) for name, p in trained.items()]
    try:
        second = fit(model, sampler, steps - steps // 2, batch_size, lr, route=route, params=list(trained.values()),
                     precision=precision, curve=curve, loss=loss)
    finally:
        for hook in hooks:
            hook.remove()
    _check_unmoved(model, base, masks)
    return {"losses": first["losses"] + second["losses"],
            "train_seconds": round(first["train_seconds"] + second["train_seconds"], 3),
            "fraction": fraction, "kept": int(sum(m.sum() for m in masks.values()))}


def largest_changes(model: nn.Module, base: dict, fraction: float) -> dict[str, torch.Tensor]:
    """{parameter name: bool mask} of the round(fraction x all entries) entries (at least one) that differ most
    from `base`, ranked over all parameters at once; a tie goes to the earlier entry (parameter order, then
    flat index), so the mask is deterministic."""
    params = dict(model.named_parameters())
    change = np.concatenate([(p.detach() - base[name]).abs().flatten().cpu().numpy() for name, p in params.items()])
    kept = np.zeros(len(change), dtype=bool)
    kept[np.argsort(-change, kind="stable")[:max(1, int(round(fraction * len(change))))]] = True
    sizes = np.cumsum([p.numel() for p in params.values()])[:-1]
    return {name: torch.from_numpy(part).view(p.shape).to(p.device)
            for (name, p), part in zip(params.items(), np.split(kept, sizes))}


def _check_unmoved(model: nn.Module, base: dict, masks: dict) -> None:
    for name, p in model.named_parameters():
        outside = ~masks[name]
        if not torch.equal(p.detach()[outside].view(torch.int32), base[name][outside].view(torch.int32)):
            raise RuntimeError(f"sparse update: parameter '{name}' moved outside its mask")


@dataclass(frozen=True)
class Recipe:
    """A training job's recipe: the method's keys with the `train:` defaults, the run's budget, precision, seed
    and device (`stdo.config.train_params` builds it; a job's `--params`). Checked once when the job starts,
    recorded whole in the sidecar. `steps` or `epochs`: the method's budget (`step_budget`); `split`, `k`,
    `mode`, `finetune`: the method's chunking, checked against the chunk map; `keep`: JSTDO's subset;
    `init_weights`: start from the warm start as a package stores it (`initial_model`); `fraction`: a sparse
    update of it (`fit_sparse`); `curve_points`: the learning curve (`stdo.learning`)."""

    scale: int
    arch: str
    batch_size: int
    crop: int
    lr: float
    loss: str = "l1"
    steps: int | None = None
    epochs: float | None = None
    arch_kwargs: dict = field(default_factory=dict)
    init: str = "scratch"
    init_weights: str | None = None
    budget: str = "total"
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    split: str | None = None
    k: int | None = None
    mode: str = "per_chunk"
    finetune: bool = False
    keep: list | None = None
    fraction: float | None = None
    curve_points: int = 0

    @classmethod
    def of(cls, params: dict) -> Recipe:
        """The recipe of a job's params; a key it does not know, or one it needs and lacks, is named."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise InputError(f"params: {', '.join(unknown)}: not in a training recipe ({', '.join(known)})")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
                   and f.name not in params]
        if missing:
            raise InputError(f"params: a training recipe needs {', '.join(missing)}")
        return cls(**{**params, "arch_kwargs": params.get("arch_kwargs") or {}})

    def record(self) -> dict:
        return asdict(self)


def fit_job(model: nn.Module, sampler: CropSampler, steps: int, recipe: Recipe, precision: str,
            route: torch.Tensor | None = None, params=None) -> dict:
    """What a training job runs: `fit`, or `fit_sparse` where the recipe keeps a `fraction` of the weights (never
    with `params`: CaFM), in `precision` (what `recipe.precision` chose); with the recipe's `curve_points`, the
    learning curve at that many points (at most one a step)."""
    r = recipe
    curve = Recorder(sampler, steps, min(r.curve_points, steps), route) if r.curve_points else None
    if curve is not None:
        curve.record_start(model)
    if r.fraction is None:
        result = fit(model, sampler, steps, r.batch_size, r.lr, route=route, params=params, precision=precision,
                     curve=curve, loss=r.loss)
    else:
        result = fit_sparse(model, sampler, steps, r.batch_size, r.lr, r.fraction, route=route, precision=precision,
                            curve=curve, loss=r.loss)
    return {**result, **(curve.result() if curve else {})}


def _check_fraction(fraction: float | None, init: str, mode: str) -> None:
    if fraction is None:
        return
    if not 0 < fraction <= 1:
        raise InputError(f"fraction {fraction}: the share of the weights a sparse update keeps is in (0, 1]")
    problem = sparse_update_problem(init, mode)
    if problem:
        raise InputError(f"fraction: {problem}")


def ran_as(configured: str, ran: str) -> dict:
    """The sidecar's record of a job's arithmetic: what ran, and the setting it came from (auto, or itself)."""
    return {"precision": ran, "precision_config": configured}


def chunk_budget(total_steps: float, chunk_sizes, chunk: int) -> float:
    """A chunk model's share of the method's step budget, in proportion to its patch count."""
    sizes = np.asarray(chunk_sizes, dtype=np.float64)
    return total_steps * sizes[chunk] / sizes.sum()


def step_budget(steps: int | None, epochs: float | None, samples: int, batch_size: int) -> float:
    """A method's optimizer-step budget: `steps`, or `epochs` passes over the video's `samples` in batches of
    `batch_size`. A sample is one LR patch tile (a random crop of it is drawn per step), so an epoch of a
    chunk model is (its patches / batch) steps, and `epochs` under budget 'total' is the papers' protocol:
    every chunk model trains that many epochs over its own chunk, m0 over the whole video."""
    if (steps is None) == (epochs is None):
        raise InputError(f"steps {steps}, epochs {epochs}: give exactly one of the two")
    return float(steps) if epochs is None else epochs * samples / batch_size


def steps_of(budget: float, epochs: float | None, what: str) -> int:
    """`budget` (from `step_budget`) as whole steps; epochs that round to none are refused, not trained."""
    if epochs is not None and round(budget) < 1:
        raise InputError(f"epochs {epochs:g}: {what} make {budget:.2f} steps, which rounds to 0; "
                         f"give more than {epochs * 0.5 / budget:.3g} epochs")
    return max(1, int(round(budget)))


def initial_model(arch: str, arch_kwargs: dict, scale: int, init: str, init_path, seed: int,
                  init_weights: str | None = None) -> nn.Module:
    """A fresh model, or one warm-started from the general model or the video's own m0. `init_weights`
    (fp16, int8): start from the warm start's weights as a package file stored that way decodes them,
    i.e. from the resident base as the client holds it, so that a weight training leaves alone has delta 0."""
    torch.manual_seed(seed)
    model = models.build(arch, scale, **arch_kwargs)
    if init == "scratch":
        if init_weights is not None:
            raise InputError(f"init_weights '{init_weights}': init scratch has no warm start to decode")
        return model
    source, meta = models.load_checkpoint(init_path)
    if (meta["arch"], meta.get("arch_kwargs", {})) != (arch, arch_kwargs) or meta.get("cafm_chunks"):
        raise InputError(f"init: {init}: {init_path} holds {meta['arch']} {meta.get('arch_kwargs', {})}, "
                         f"it cannot warm-start {arch} {arch_kwargs}")
    if init_weights is not None:
        if init_weights not in onnx_model.WEIGHTS:
            raise InputError(f"init_weights '{init_weights}': choose one of {', '.join(onnx_model.WEIGHTS)}")
        source = onnx_model.as_packaged(source, init_weights)
    model.load_state_dict(source.state_dict())
    return model
