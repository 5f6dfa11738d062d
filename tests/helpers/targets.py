"""Small importable targets for the checker and builder tests (named by `_target_`)."""

from __future__ import annotations

import enum
from typing import Any

from torch import nn


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Recorder:
    """Keeps the arguments it was built with, as it received them."""

    def __init__(
        self,
        pair: tuple[int, int] = (0, 0),
        mode: Mode = Mode.FAST,
        layer: nn.Module | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.pair = pair
        self.mode = mode
        self.layer = layer
        self.options = options
