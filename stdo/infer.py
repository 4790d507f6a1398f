"""Running SR models: device and thread setup, uint8 <-> tensor conversion, batched inference."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .errors import InputError


def setup(device: str = "auto", threads: int = 1) -> torch.device:
    """Use exactly the threads the job was given; 'auto' picks CUDA when present."""
    torch.set_num_threads(max(1, int(threads)))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device '{device}': CUDA is not available on this machine")
    return torch.device(device)


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str = "fp32"):
    """Mixed-precision context for training: bf16 on CPU or CUDA, fp16 on CUDA only."""
    if precision == "fp16" and device.type != "cuda":
        raise InputError("precision 'fp16': only on CUDA; use bf16 on a CPU")
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def to_tensor(images: np.ndarray, device) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1] on `device`."""
    t = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounded like an 8-bit output frame."""
    out = batch.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return out.permute(0, 2, 3, 1).cpu().numpy()


@torch.inference_mode()
def super_resolve(model: nn.Module, lr: np.ndarray, device, batch_size: int = 64) -> np.ndarray:
    """SR of (N, h, w, 3) uint8 LR images, each on its own, in batches -> (N, h*s, w*s, 3) uint8."""
    model = model.to(device).eval()
    parts = [to_uint8(model(to_tensor(lr[i:i + batch_size], device)))
             for i in range(0, len(lr), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0,) + lr.shape[1:], np.uint8)
