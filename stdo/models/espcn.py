"""ESPCN: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network", CVPR 2016.

The 3x3 64-64-32 variant used by the CaFM and EMT code (60,652 parameters at x2, 71,056 at x4),
plus a global interpolation skip so the network predicts only the residual over bicubic
(essential for small overfitted models). The last layer starts at zero, so an untrained model
is exactly its skip. Activations are leaky ReLU (slope 0.01) instead of the paper's tanh: with
plain ReLU, Adam at lr 1e-3 drove the last hidden layer dead in our runs and the model never left
bicubic; leaky ReLU adds no parameters, so the published counts hold.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register, upsample


@register("espcn")
class ESPCN(nn.Module):
    def __init__(self, scale: int, features=(64, 64, 32), skip: str = "bicubic"):
        super().__init__()
        widths = [3, *features]
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.01, inplace=True)]
        tail = nn.Conv2d(widths[-1], 3 * scale * scale, 3, padding=1)
        nn.init.zeros_(tail.weight)
        nn.init.zeros_(tail.bias)
        self.body = nn.Sequential(*layers, tail, nn.PixelShuffle(scale))
        self.scale, self.skip = scale, skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.body(x)
        if self.skip == "none":
            return residual
        return residual + upsample(x, self.scale, self.skip)
