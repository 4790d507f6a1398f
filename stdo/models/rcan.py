"""RCAN: Zhang et al., "Image Super-Resolution Using Very Deep Residual Channel Attention
Networks", ECCV 2018.

Residual in residual: `groups` residual groups, each of `blocks` residual channel-attention
blocks (conv-ReLU-conv, then channel attention: global average pool, 1x1 conv down by
`reduction`, ReLU, 1x1 conv up, sigmoid, rescale the channels) and a closing conv with a skip
over the group; a conv and a long skip over all groups; head conv, RGB mean shift (a buffer),
upsampler and last conv as in EDSR. The default is a small configuration fit for a CPU
(groups=2, blocks=4, features=32, reduction=8). The paper's is groups=10, blocks=20,
features=64, reduction=16: 15,592,355 parameters at x4, 24 fewer than the published 15,592,379,
which also counts the two fixed 1x1 mean-shift convs (9 weights + 3 biases each) of the
reference code; here the mean is a buffer.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import ResidualSR, conv3x3
from .registry import register


class ChannelAttention(nn.Module):
    def __init__(self, features: int, reduction: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                  nn.Conv2d(features, features // reduction, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(features // reduction, features, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class RCAB(nn.Module):
    def __init__(self, features: int, reduction: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(features, features), conv3x3(features, features)
        self.act = nn.ReLU(inplace=True)
        self.attention = ChannelAttention(features, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attention(self.conv2(self.act(self.conv1(x))))


class ResidualGroup(nn.Module):
    def __init__(self, blocks: int, features: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(features, reduction) for _ in range(blocks)],
                                  conv3x3(features, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("rcan")
class RCAN(ResidualSR):
    def __init__(self, scale: int, groups: int = 2, blocks: int = 4, features: int = 32,
                 reduction: int = 8):
        super().__init__(scale, features, [ResidualGroup(blocks, features, reduction) for _ in range(groups)])

    def cafm_convs(self) -> list[nn.Conv2d]:
        """The two 3x3 convs of every RCAB; the attention's 1x1 convs act on pooled channel
        statistics, not on feature maps, so they are left out."""
        return [conv for group in self.body[:-1] for block in group.body[:-1]
                for conv in (block.conv1, block.conv2)]
