"""SRCNN: Dong et al., "Learning a Deep Convolutional Network for Image Super-Resolution",
ECCV 2014.

The 9-5-5 network with 64 and 32 features, on RGB. SRCNN works on a bicubic-upsampled image;
that interpolation happens inside the model, so it takes LR and returns HR like every other
model here. Zero padding keeps the size (the paper used valid convolutions and a smaller output).
69,251 parameters at any scale.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register, upsample


@register("srcnn")
class SRCNN(nn.Module):
    def __init__(self, scale: int, features=(64, 32), kernels=(9, 5, 5)):
        super().__init__()
        widths = [3, *features, 3]
        convs = [nn.Conv2d(c_in, c_out, k, padding=k // 2)
                 for c_in, c_out, k in zip(widths[:-1], widths[1:], kernels)]
        layers = []
        for conv in convs[:-1]:
            layers += [conv, nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers, convs[-1])
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(upsample(x, self.scale, "bicubic"))
