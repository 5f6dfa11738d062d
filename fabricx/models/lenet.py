"""LeNet-5 (LeCun et al., 1998): the classic MNIST convolutional network."""

from __future__ import annotations

import torch
from torch import nn

from fabricx.config.constraints import PositiveInt


class LeNet5(nn.Module):
    """C1 conv 6@5x5 -> S2 pool -> C3 conv 16@5x5 -> S4 pool -> C5 120 -> F6 84 -> classes.

    The paper's tanh units and average ("sub-sampling") pooling; 28x28 inputs are padded by 2
    to the paper's 32x32 field.

    Args:
        num_classes: output logits.
        in_channels: 1 for MNIST / Fashion-MNIST.
    """

    def __init__(self, num_classes: PositiveInt = 10, in_channels: PositiveInt = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),  # (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),  # (B, 16, 5, 5)
            nn.Conv2d(16, 120, 5), nn.Tanh(),  # (B, 120, 1, 1)
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, 28, 28) -> (B, num_classes)
