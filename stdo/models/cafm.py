"""CaFM: content-aware feature modulation, Liu et al., "Overfitting the Data: Compact Neural Video
Delivery via Content-aware Feature Modulation", ICCV 2021.

One shared backbone; per video chunk, after each modulated convolution of the backbone, a
depthwise 1x1 convolution scaled by a scalar gate initialised to 0:
`y = x + gamma_c * (w_c * x + b_c)` (per channel). The wrapper is the identity map of the
backbone at initialisation. Each sample is routed through the modules of its own chunk, so a
mixed batch trains every chunk at once (the joint training of the paper; the mean L1 over a
batch drawn uniformly over patches is the chunk-size-weighted mean of the per-chunk L1s).

Works with any backbone that has convolutions: those listed by its `cafm_convs()` (EDSR: the
two convs of every residual block, 4,128 parameters per chunk on EDSR-baseline), else every
convolution but the last. Chunk c adds sum over modulated convs of (2 * channels + 1) params.
"""
from __future__ import annotations

import torch
from torch import nn


def modulated_convs(backbone: nn.Module) -> list[nn.Conv2d]:
    if hasattr(backbone, "cafm_convs"):
        return list(backbone.cafm_convs())
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    return convs[:-1]


class ChunkModulation(nn.Module):
    """The CaFM parameters of one chunk: per modulated conv, a per-channel weight and bias and a gate."""

    def __init__(self, channels: list[int]):
        super().__init__()
        self.weight = nn.ParameterList(nn.Parameter(torch.empty(c).uniform_(-1, 1)) for c in channels)
        self.bias = nn.ParameterList(nn.Parameter(torch.empty(c).uniform_(-1, 1)) for c in channels)
        self.gamma = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in channels)


def _modulate(conv: nn.Conv2d, inputs, out: torch.Tensor) -> torch.Tensor:
    """Forward hook of a modulated conv: its chunk's per-channel affine map, scaled by the gate."""
    cafm, i = conv._cafm
    if cafm._route is None:  # the backbone called on its own
        return out
    w, b, g = (torch.stack([getattr(m, name)[i] for m in cafm.per_chunk])[cafm._route]
               for name in ("weight", "bias", "gamma"))
    return out + g.view(-1, 1, 1, 1) * (w[:, :, None, None] * out + b[:, :, None, None])


class CaFM(nn.Module):
    def __init__(self, backbone: nn.Module, chunks: int):
        super().__init__()
        self.backbone, self.scale = backbone, backbone.scale
        convs = modulated_convs(backbone)
        if not convs:
            raise ValueError(f"{type(backbone).__name__} has no convolution to modulate")
        self.channels = [c.out_channels for c in convs]
        self.per_chunk = nn.ModuleList(ChunkModulation(self.channels) for _ in range(chunks))
        self._route = None
        for i, conv in enumerate(convs):
            # plain attributes, not submodules: a deepcopy then points the copy's convs at the copy
            object.__setattr__(conv, "_cafm", (self, i))
            conv.register_forward_hook(_modulate)

    @property
    def chunks(self) -> int:
        return len(self.per_chunk)

    def forward(self, x: torch.Tensor, chunk) -> torch.Tensor:
        """SR of x; `chunk` is one chunk index for the batch or a (B,) tensor of indices."""
        route = torch.as_tensor(chunk, device=x.device).long()
        self._route = route.expand(len(x)) if route.dim() == 0 else route
        try:
            return self.backbone(x)
        finally:
            self._route = None

    def params_per_chunk(self) -> int:
        return sum(p.numel() for p in self.per_chunk[0].parameters())


class ChunkView(nn.Module):
    """One chunk's view of a CaFM model: a plain `x -> SR(x)` module, as evaluation expects."""

    def __init__(self, cafm: CaFM, chunk: int):
        super().__init__()
        self.cafm, self.chunk, self.scale = cafm, chunk, cafm.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cafm(x, self.chunk)
