"""ResNet-18 for 32x32 images (the CIFAR variant of He et al., 2016).

As in the widely used CIFAR recipes (e.g. kuangliu/pytorch-cifar): a 3x3 stem without the
ImageNet 7x7 stride-2 conv and max-pool, so 32x32 inputs keep their resolution early on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fabricx.config.constraints import PositiveInt


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:  # match the residual's shape
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """Four stages of two BasicBlocks (64, 128, 256, 512 channels), global pool, linear head.

    Args:
        num_classes: output logits.
        in_channels: 3 for CIFAR.
        width: channels of the first stage (64 in the paper); smaller for quick tests.
    """

    def __init__(
        self, num_classes: PositiveInt = 10, in_channels: PositiveInt = 3, width: PositiveInt = 64
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        stages, planes = [], width
        for i, channels in enumerate((width, width * 2, width * 4, width * 8)):
            stride = 1 if i == 0 else 2
            stages += [BasicBlock(planes, channels, stride), BasicBlock(channels, channels, 1)]
            planes = channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))  # (B, 8w, H/8, W/8)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
