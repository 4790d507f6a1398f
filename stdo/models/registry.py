"""The model registry and checkpoint format shared by every architecture.

A checkpoint is a plain `state_dict` file (`*.pt`) plus a JSON sidecar (`*.json`) that says how
to rebuild the model (arch, scale, arch_kwargs) and how it was made (steps, seed, losses ...)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import archs, resample
from ..errors import InputError
from ..io import atomic_path, load_json, save_json
from .cafm import CaFM

_ARCHS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    """Add an architecture; its constructor must take exactly the arguments `stdo.archs` lists."""
    def add(builder):
        takes = tuple(p for p in inspect.signature(builder).parameters if p != "scale")
        if name in _ARCHS:
            raise TypeError(f"model '{name}' is registered twice")
        if name not in archs.ARGS or set(takes) != set(archs.ARGS[name]):
            raise TypeError(f"model '{name}' takes {takes}; stdo/archs.py lists {archs.ARGS.get(name)}")
        _ARCHS[name] = builder
        return builder
    return add


def names() -> list[str]:
    return sorted(_ARCHS)


def build(arch: str, scale: int, **arch_kwargs) -> nn.Module:
    if arch not in _ARCHS:
        raise InputError(f"arch '{arch}': unknown model; registered: {', '.join(names())}")
    return _ARCHS[arch](scale=scale, **arch_kwargs)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def upsample(x: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    """Interpolate (N, C, h, w) by `scale`; the global skip that small SR nets predict a residual on.

    Bicubic runs as a fixed convolution (`stdo.resample`) of every channel on its own, in fp32 even
    under autocast: in bf16 the skip, which carries most of the image, would be off by up to one
    8-bit level."""
    if mode != "bicubic":
        return F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    n, c, h, w = x.shape
    with torch.autocast(x.device.type, enabled=False):
        planes = F.pad(x.float().reshape(n * c, 1, h, w), (resample.PAD,) * 4, mode="replicate")
        phases = F.conv2d(planes, _bicubic_kernel(scale, x.device))
        return F.pixel_shuffle(phases.reshape(n, c * scale * scale, h, w), scale)


@functools.lru_cache(maxsize=16)
def _bicubic_kernel(scale: int, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(resample.bicubic_kernel(scale, 1)).to(device)


def sidecar(path) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(model: nn.Module, path, meta: dict) -> None:
    """Write the weights and the sidecar; each appears only when complete."""
    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
    save_json({**meta, "params": count_params(model)}, sidecar(path))


def build_from_meta(meta: dict) -> nn.Module:
    """The (untrained) model a sidecar describes: a backbone, wrapped in CaFM if it says so."""
    model = build(meta["arch"], meta["scale"], **meta.get("arch_kwargs", {}))
    return CaFM(model, meta["cafm_chunks"]) if meta.get("cafm_chunks") else model


def load_checkpoint(path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a model from its sidecar and load its weights (tensors only: weights_only=True)."""
    path = Path(path)
    if not sidecar(path).exists():
        raise InputError(f"{path}: checkpoint has no JSON sidecar {sidecar(path).name} naming its arch")
    meta = load_json(sidecar(path))
    model = build_from_meta(meta)
    load_weights(model, path, device)
    return model.to(device).eval(), meta


def load_weights(model: nn.Module, path, device="cpu") -> None:
    """Load a state_dict file into `model`; tensors only (weights_only=True), never pickled code."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many types here (pickle, zip, EOF, OS ...)
        raise InputError(f"{path}: not a state_dict file torch can load safely ({type(err).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: not a state_dict (a mapping of names to tensors)")
    misfit = state_dict_misfit(model.state_dict(), state)
    if misfit:
        raise InputError(f"{path}: weights do not fit {type(model).__name__}: {misfit}")
    model.load_state_dict(state)


def state_dict_misfit(expected: dict, given: dict, shown: int = 3) -> str:
    """What keeps `given` weights out of a model with `expected` ones: missing and unexpected names and
    shape mismatches, the first `shown` of each ('' if they fit)."""
    def first(items) -> str:
        items = list(items)
        return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [f"{k} {tuple(given[k].shape)} for {tuple(v.shape)}" for k, v in expected.items()
              if k in given and given[k].shape != v.shape]
    parts = [f"{label} {first(items)}" for label, items in
             (("missing", missing), ("unexpected", unexpected), ("shape", shapes)) if items]
    return "; ".join(parts)
