"""FSRCNN: Dong et al., "Accelerating the Super-Resolution Convolutional Neural Network",
ECCV 2016.

FSRCNN(d=56, s=12, m=4) on the LR image: 5x5 feature extraction to d, 1x1 shrinking to s, m 3x3
mapping layers, 1x1 expanding back to d, each followed by a per-channel PReLU, then a 9x9
transposed convolution with stride `scale`. Its padding 4 and output_padding scale-1 make the
output exactly scale x the input. `channels=3` works on RGB; `channels=1` is the paper's Y-only
network, 12,809 parameters at x2 (the published ~12.8K). Initialisation follows the paper: He
(for PReLU) on the convolutions, N(0, 0.001) on the deconvolution.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register


@register("fsrcnn")
class FSRCNN(nn.Module):
    def __init__(self, scale: int, d: int = 56, s: int = 12, m: int = 4, channels: int = 3):
        super().__init__()
        specs = [(channels, d, 5), (d, s, 1), *[(s, s, 3)] * m, (s, d, 1)]
        layers = []
        for c_in, c_out, k in specs:
            conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
            nn.init.kaiming_normal_(conv.weight, a=0.25, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.PReLU(c_out)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.ConvTranspose2d(d, channels, 9, stride=scale, padding=4, output_padding=scale - 1)
        nn.init.normal_(self.tail.weight, std=0.001)
        nn.init.zeros_(self.tail.bias)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(x))

    def cafm_convs(self) -> list[nn.Conv2d]:
        return [m for m in self.body if isinstance(m, nn.Conv2d)]
