"""Building blocks shared by several architectures: the 3x3 conv, EDSR's sub-pixel upsampler, the
DIV2K RGB mean and EDSR's residual skeleton (used by EDSR and RCAN)."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


def upsampler(scale: int, features: int) -> nn.Sequential:
    """EDSR's sub-pixel upsampler (EDSR, RCAN): one stage for x3, log2(scale) x2 stages for
    powers of two."""
    if scale == 3:
        factors = [3]
    elif scale >= 2 and scale & (scale - 1) == 0:
        factors = [2] * int(math.log2(scale))
    else:
        raise InputError(f"scale {scale}: the sub-pixel upsampler supports 3 and powers of 2")
    layers = []
    for f in factors:
        layers += [conv3x3(features, features * f * f), nn.PixelShuffle(f)]
    return nn.Sequential(*layers)


class ResidualSR(nn.Module):
    """EDSR's skeleton, shared with RCAN: mean shift, head conv, residual body closed by a conv
    with a global skip, sub-pixel upsampler, last conv to RGB."""

    def __init__(self, scale: int, features: int, blocks: list[nn.Module]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1))
        self.head = conv3x3(3, features)
        self.body = nn.Sequential(*blocks, conv3x3(features, features))
        self.tail = nn.Sequential(upsampler(scale, features), conv3x3(features, 3))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x - self.mean)
        x = x + self.body(x)
        return self.tail(x) + self.mean
