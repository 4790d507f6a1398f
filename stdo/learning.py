"""Learning curves: how a model's quality on its own training patches moves with steps and seconds.

Recording (`Recorder`, handed to `stdo.fitting.fit` by every training job): at step 0 (the warm start) and at
`points` evenly spaced steps, the training loss (mean L1 since the previous point) and the PSNR of the model
on a fixed subset of the patches it trains on: at most PROBE_PATCHES of them, evenly spread, whole patches,
8-bit output, STDO convention (RGB, scale + 4 shave, PSNR of the mean MSE over the subset), fp32. The model
is probed through a copy, so the training itself (weights, random draws, layout) is exactly as without
recording; the seconds on the curve are training seconds, the probing left out. Torch is imported only when
a model is probed: the tables read `convergence` without it."""
from __future__ import annotations

import copy
import time

import numpy as np

from . import metrics

PROBE_PATCHES = 32
RISE_DB = 0.05  # a curve that still rises more than this over its last doubling of steps has not converged


class Recorder:
    """The learning curve of one training job (see the module docstring); `after_step` once per optimizer step."""

    def __init__(self, sampler, steps: int, points: int, route=None):
        boxes = sampler.boxes
        pick = np.unique(np.linspace(0, len(boxes) - 1, min(PROBE_PATCHES, len(boxes))).round().astype(int))
        (ph, pw), s = sampler.patch, sampler.scale
        frame, y0, x0 = boxes[pick].T
        self.lr = np.stack([sampler.lr[f, y:y + ph, x:x + pw] for f, y, x in zip(frame, y0, x0)])
        self.hr = np.stack([sampler.hr[f, y * s:(y + ph) * s, x * s:(x + pw) * s] for f, y, x in zip(frame, y0, x0)])
        self.chunk = None if route is None else route.cpu().numpy()[pick]  # CaFM: each patch through its chunk
        self.device, self.shave = sampler.device, metrics.stdo_shave(s)
        self.due = {int(round(i * steps / points)) for i in range(1, points + 1)} if points else set()
        self.points = {"step": [], "seconds": [], "loss": [], "psnr": []}
        self.step, self.loss, self.count = 0, 0.0, 0
        self.probing, self.start = 0.0, time.perf_counter()

    def record_start(self, model) -> None:
        self._record(model, float("nan"))

    def after_step(self, model, loss) -> None:
        """Count one step of `loss` (a tensor: no device sync unless a point is due)."""
        self.step += 1
        self.loss, self.count = self.loss + loss, self.count + 1
        if self.step in self.due:
            self._record(model, float(self.loss) / self.count)
            self.loss, self.count = 0.0, 0

    def _record(self, model, loss: float) -> None:
        began = time.perf_counter()
        psnr = float(metrics.psnr(np.mean(self._mse(copy.deepcopy(model)))))
        for key, value in zip(self.points, (self.step, began - self.start - self.probing, loss, psnr)):
            self.points[key].append(round(value, 5) if key != "step" else value)
        self.probing += time.perf_counter() - began

    def _mse(self, model) -> np.ndarray:
        from .infer import sr_mse
        from .models.cafm import ChunkView

        if self.chunk is None:
            return sr_mse(model, self.lr, self.hr, self.device, PROBE_PATCHES, self.shave)
        out = np.empty(len(self.lr))
        for c in np.unique(self.chunk):
            mine = self.chunk == c
            out[mine] = sr_mse(ChunkView(model, int(c)), self.lr[mine], self.hr[mine], self.device, PROBE_PATCHES,
                               self.shave)
        return out

    def result(self) -> dict:
        """What the sidecar records: the curve, its rise over the last doubling of steps, the probing seconds."""
        return {"curve": self.points, "curve_rise_db": last_doubling_rise(self.points),
                "curve_seconds": round(self.probing, 3)}


def last_doubling_rise(curve: dict) -> float | None:
    """PSNR at the last point minus PSNR at the point nearest half its steps (None without two points)."""
    steps, psnr = np.asarray(curve["step"]), np.asarray(curve["psnr"], dtype=float)
    if len(steps) < 2 or steps[-1] < 2:
        return None
    half = int(np.argmin(np.abs(steps[:-1] - steps[-1] / 2)))
    return round(float(psnr[-1] - psnr[half]), 4)


def convergence(rises) -> dict:
    """A method's `curve_rise_db` (the largest of its models' rises) and `converged`: 'yes', or 'not converged'
    where a model still rises more than RISE_DB over its last doubling; nothing without curves."""
    rises = [r for r in rises if r is not None]
    if not rises:
        return {}
    return {"curve_rise_db": max(rises), "converged": "not converged" if max(rises) > RISE_DB else "yes"}
