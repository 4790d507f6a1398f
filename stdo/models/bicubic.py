"""Bicubic interpolation as a parameter-free "model" (Keys cubic, a = -0.75 as in PyTorch), so
the bicubic reference row and a `general: bicubic` labeller go through the same code as the
learned models."""
from __future__ import annotations

import torch
from torch import nn

from .registry import register, upsample


@register("bicubic")
class Bicubic(nn.Module):
    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample(x, self.scale, "bicubic")
