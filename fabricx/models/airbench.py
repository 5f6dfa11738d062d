"""An airbench-style fast CIFAR-10 network (after Jordan, 2024, arXiv 2404.00498).

airbench94's shape: a small 2x2 stem, then three conv groups (conv, max-pool, batch norm,
GELU, conv, batch norm, GELU) of widths 64, 256, 256, a final max-pool and a bias-free
linear head whose logits are scaled down. Its data-dependent tricks (patch-whitening stem
init, lookahead, test-time flipping, the tuned schedule) are not reproduced here: this is the
architecture, trained by fabricx's ordinary loop.
"""

from __future__ import annotations

import torch
from torch import nn

from fabricx.config.constraints import PositiveInt


class ConvGroup(nn.Module):
    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.MaxPool2d(2),
            nn.BatchNorm2d(channels), nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.GELU(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AirbenchNet(nn.Module):
    """Args:
    num_classes: output logits.
    widths: channels of the three conv groups (airbench94: 64, 256, 256).
    stem_width: channels of the 2x2 stem (airbench94: 24).
    logit_scale: the head's output scale (airbench94: 1/9).
    """

    def __init__(
        self,
        num_classes: PositiveInt = 10,
        widths: tuple[PositiveInt, PositiveInt, PositiveInt] = (64, 256, 256),
        stem_width: PositiveInt = 24,
        logit_scale: float = 1 / 9,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stem_width, 2, bias=True), nn.GELU())  # 32 -> 31
        groups, channels = [], stem_width
        for width in widths:
            groups.append(ConvGroup(channels, width))
            channels = width
        self.groups = nn.Sequential(*groups)  # 31 -> 15 -> 7 -> 3
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(channels, num_classes, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.groups(self.stem(x)))  # (B, widths[-1], 1, 1)
        return self.head(torch.flatten(x, 1)) * self.logit_scale
