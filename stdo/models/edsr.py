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

import torch
from torch import nn

from .blocks import ResidualSR, conv3x3
from .registry import register


class ResBlock(nn.Module):
    def __init__(self, features: int, res_scale: float):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(features, features), conv3x3(features, features)
        self.act = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x))) * self.res_scale


@register("edsr")
class EDSR(ResidualSR):
    def __init__(self, scale: int, blocks: int = 16, features: int = 64, res_scale: float = 1.0):
        super().__init__(scale, features, [ResBlock(features, res_scale) for _ in range(blocks)])

    def cafm_convs(self) -> list[nn.Conv2d]:
        return [conv for block in self.body[:-1] for conv in (block.conv1, block.conv2)]
