"""Running SR models: device and thread setup, uint8 <-> tensor conversion, batched inference."""
from __future__ import annotations

import os
import platform

import numpy as np
import torch
from torch import nn

from .errors import InputError


def setup(device: str = "auto", threads: int = 1) -> torch.device:
    """Use exactly the threads the job was given; 'auto' picks CUDA when present."""
    torch.set_num_threads(max(1, int(threads)))
    return device_of(device)


def device_of(device: str = "auto") -> torch.device:
    """The device a setting names; 'auto' is CUDA when present, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device '{device}': CUDA is not available on this machine")
    return torch.device(device)


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
AUTO = "auto"


def native_bf16(device: torch.device) -> str | None:
    """What multiplies bf16 matrices natively on `device` (None: nothing does, so bf16 autocast is slower
    than fp32 there). On a CPU only AMX counts: bf16 trained 1.55x faster than fp32 with it, and 7x slower
    on an AVX2-only AMD EPYC (README); AVX512-BF16 without AMX is unmeasured, so it is not assumed to pay."""
    if device.type == "cuda":
        return "a CUDA GPU with bf16 support" if torch.cuda.is_bf16_supported() else None
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means unknown, so none
    return "a CPU with AMX" if device.type == "cpu" and amx is not None and amx() else None


def choose_precision(precision: str, device: torch.device) -> str:
    """The arithmetic a job runs: `precision` as configured, or for 'auto' bf16 where `native_bf16` finds
    native support and fp32 elsewhere. Decided inside the job, never in the rule's params, so a results
    folder moved to another machine re-runs nothing; the job's sidecar records what ran."""
    if precision != AUTO:
        if precision not in PRECISIONS:
            raise InputError(f"precision '{precision}': choose auto, {', '.join(PRECISIONS)}")
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def precision_note(precision: str, device: torch.device) -> str:
    """One line for the log: what `precision` ran as on `device`, and why."""
    chosen = choose_precision(precision, device)
    if precision != AUTO:
        return f"{chosen} (configured)"
    return f"{chosen} (auto: {native_bf16(device) or f'no native bf16 matrix unit on this {device.type}'})"


def cpu_name() -> str:
    """The CPU's model name, as timings are labelled with it (/proc/cpuinfo on Linux, platform elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine() or "unknown CPU"


def machine_line(precision: str | None = None, device: str = "cpu") -> str:
    """One line naming the machine a measurement ran on, and the precision it ran (for benchmarks and logs)."""
    units = torch.backends.cpu.get_cpu_capability() + (" + AMX" if native_bf16(torch.device("cpu")) else "")
    line = f"{cpu_name()} ({units}), {os.cpu_count()} logical CPUs, torch {torch.__version__}"
    return line if precision is None else f"{line}; precision {precision_note(precision, device_of(device))}"


def autocast(device: torch.device, precision: str = "fp32"):
    """Mixed-precision context: bf16 on CPU or CUDA, fp16 on CUDA only, 'auto' as `choose_precision` decides."""
    precision = choose_precision(precision, device)
    if precision == "fp16" and device.type != "cuda":
        raise InputError("precision 'fp16': only on CUDA; use bf16 on a CPU")
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def to_tensor(images: np.ndarray, device) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1] on `device`."""
    t = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def to_8bit(batch: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] (any float type) -> float32 on the 0..255 scale, rounded like an 8-bit frame."""
    return batch.float().mul(255.0).round_().clamp_(0, 255)


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounded like an 8-bit output frame."""
    return to_8bit(batch).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def for_inference(model: nn.Module, device) -> nn.Module:
    """The model on `device` in channels-last, the layout (N, h, w, 3) images arrive in once permuted:
    1.3x (fp32) to 2x (bf16) faster on our CPU than converting every batch to channels-first."""
    return model.to(device, memory_format=torch.channels_last).eval()


def _sr_batches(model: nn.Module, lr: np.ndarray, device, batch_size: int, precision: str):
    """(start, SR batch as the model gives it) over (N, h, w, 3) uint8 LR images."""
    model = for_inference(model, device)
    for i in range(0, len(lr), batch_size):
        with autocast(device, precision):
            yield i, model(to_tensor(lr[i:i + batch_size], device))


@torch.inference_mode()
def super_resolve(model: nn.Module, lr: np.ndarray, device, batch_size: int = 64,
                  precision: str = "fp32") -> np.ndarray:
    """SR of (N, h, w, 3) uint8 LR images, each on its own, in batches -> (N, h*s, w*s, 3) uint8."""
    parts = [to_uint8(out) for _, out in _sr_batches(model, lr, torch.device(device), batch_size, precision)]
    return np.concatenate(parts) if parts else np.zeros((0,) + lr.shape[1:], np.uint8)


@torch.inference_mode()
def sr_mse(model: nn.Module, lr: np.ndarray, hr: np.ndarray, device, batch_size: int = 64, shave: int = 0,
           precision: str = "fp32") -> np.ndarray:
    """Per-image MSE (0..255 scale, `shave` px off every border) of the model's 8-bit SR of (N, h, w, 3)
    uint8 LR images against their HR images, computed where the model runs: the same numbers as
    `metrics.mse(super_resolve(...), hr, shave)` (integer squares summed in float64) without the
    round trip of the SR images through numpy."""
    device = torch.device(device)
    out = np.empty(len(lr))
    for i, batch in _sr_batches(model, lr, device, batch_size, precision):
        sr = to_8bit(batch)
        ref = torch.from_numpy(np.ascontiguousarray(hr[i:i + len(sr)])).to(device).permute(0, 3, 1, 2)
        h, w = sr.shape[-2:]
        inner = (..., slice(shave, h - shave), slice(shave, w - shave))
        squares = sr[inner].sub_(ref[inner]).square_()
        out[i:i + len(sr)] = _exact_sum(squares).div_(squares[0].numel()).cpu()
    return out


def _exact_sum(squares: torch.Tensor) -> torch.Tensor:
    """Per-image sum of (N, C, H, W) float32 squares of 8-bit differences, exact: float32 sums of at
    most 256 of them (< 2**24) along W, then float64. 3x faster than summing all in float64."""
    return sum(squares[..., x:x + 256].sum(dim=-1).sum(dim=(1, 2), dtype=torch.float64)
               for x in range(0, squares.shape[-1], 256))
