"""EDSR: Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution",
CVPRW 2017.

EDSR-baseline by default (`blocks=16, features=64, res_scale=1.0`): a head conv, residual blocks
of conv-ReLU-conv whose output is scaled by `res_scale` before the skip, a body-tail conv, a
global skip over the body, a sub-pixel upsampler (one conv to features*s^2 + PixelShuffle(s) for
x3, one such x2 stage per factor of 2 otherwise) and a last conv to RGB. The DIV2K RGB mean is
subtracted at the input and added back at the output; it is a buffer, not a parameter, so the
counts are the published baseline ones: 1,369,859 at x2, 1,554,499 at x3, 1,517,571 at x4.
The paper's large EDSR is `blocks=32, features=256, res_scale=0.1`; smaller variants by the same
arguments.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError
from .registry import register

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


def upsampler(scale: int, features: int) -> nn.Sequential:
    """EDSR's sub-pixel upsampler, shared with RCAN: one stage for x3, log2(scale) x2 stages for
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


class ResBlock(nn.Module):
    def __init__(self, features: int, res_scale: float):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(features, features), conv3x3(features, features)
        self.act = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x))) * self.res_scale


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


@register("edsr")
class EDSR(ResidualSR):
    def __init__(self, scale: int, blocks: int = 16, features: int = 64, res_scale: float = 1.0):
        super().__init__(scale, features, [ResBlock(features, res_scale) for _ in range(blocks)])

    def cafm_convs(self) -> list[nn.Conv2d]:
        return [conv for block in self.body[:-1] for conv in (block.conv1, block.conv2)]
