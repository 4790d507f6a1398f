"""WDSR-A: Yu et al., "Wide Activation for Efficient and Accurate Image Super-Resolution", 2018.

STDO's default `blocks=16, features=32, expansion=4, res_scale=1.0`. Body: a head 3x3 conv, then
residual blocks of conv3x3 (features -> features*expansion), ReLU, conv3x3 back to features
(scaled by `res_scale` before the skip), then a tail 3x3 conv to 3*s^2 and PixelShuffle(s). A
skip branch, a 5x5 conv to 3*s^2 and PixelShuffle(s) on the same input, is added to it. Both
branches see the input minus the DIV2K RGB mean (a buffer), which is added back at the end.
Every conv is weight-normalised (`torch.nn.utils.parametrizations.weight_norm`), which adds one
gain g per output channel. Without those gains the count is exactly the published one:
1,187,484 at x2 and 1,200,624 at x4; `count_params` also counts the gains (1,190,100 and
1,203,312).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .blocks import DIV2K_MEAN
from .registry import register


def wn_conv(c_in: int, c_out: int, k: int = 3) -> nn.Conv2d:
    return weight_norm(nn.Conv2d(c_in, c_out, k, padding=k // 2))


class WideBlock(nn.Module):
    def __init__(self, features: int, expansion: int, res_scale: float):
        super().__init__()
        self.conv1 = wn_conv(features, features * expansion)
        self.conv2 = wn_conv(features * expansion, features)
        self.act = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x))) * self.res_scale


@register("wdsr")
class WDSR(nn.Module):
    def __init__(self, scale: int, blocks: int = 16, features: int = 32, expansion: int = 4,
                 res_scale: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1))
        out = 3 * scale * scale
        self.head = wn_conv(3, features)
        self.body = nn.Sequential(*[WideBlock(features, expansion, res_scale) for _ in range(blocks)])
        self.tail = nn.Sequential(wn_conv(features, out), nn.PixelShuffle(scale))
        self.skip = nn.Sequential(wn_conv(3, out, 5), nn.PixelShuffle(scale))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - self.mean
        return self.tail(self.body(self.head(x))) + self.skip(x) + self.mean

    def cafm_convs(self) -> list[nn.Conv2d]:
        return [conv for block in self.body for conv in (block.conv1, block.conv2)]
