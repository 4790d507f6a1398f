"""VDSR: Kim et al., "Accurate Image Super-Resolution Using Very Deep Convolutional Networks",
CVPR 2016.

`depth` 3x3 convolutions (20 in the paper) of `features` channels (64) with ReLU between them, on
the bicubic-upsampled RGB image (interpolated inside the model), predicting the residual over
it: 668,227 parameters at any scale. Hidden layers get He initialisation as in the paper; the
last layer starts at zero, so an untrained model is exactly bicubic (as in ESPCN here).
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register, upsample


@register("vdsr")
class VDSR(nn.Module):
    def __init__(self, scale: int, depth: int = 20, features: int = 64):
        super().__init__()
        widths = [3, *[features] * (depth - 1), 3]
        layers = []
        for c_in, c_out in zip(widths[:-2], widths[1:-1]):
            conv = nn.Conv2d(c_in, c_out, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU(inplace=True)]
        tail = nn.Conv2d(features, 3, 3, padding=1)
        nn.init.zeros_(tail.weight)
        nn.init.zeros_(tail.bias)
        self.body = nn.Sequential(*layers, tail)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = upsample(x, self.scale, "bicubic")
        return x + self.body(x)
