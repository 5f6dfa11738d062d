"""callbacks=: fabricx's own Lightning callbacks (checkpoints, early stopping, progress bar,
learning-rate monitor) and any extra ones of yours under `callbacks.extra`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError, check_choice

PROGRESS_BARS = ("rich", "tqdm", "none")
MODES = ("min", "max")


@dataclass
class CheckpointConfig:
    enabled: bool = True
    monitor: str = field(
        default="val/${metric.name}", metadata=help_text("Logged key that picks the best ckpt.")
    )
    mode: str = field(default="${metric.mode}", metadata=help_text("max or min."))
    save_top_k: int = 1
    save_last: bool = field(
        default=True, metadata=help_text("Keep checkpoints/last.ckpt current: what resume= uses.")
    )
    every_n_train_steps: int = field(
        default=0,
        metadata=help_text(
            "Also write last.ckpt every N optimizer steps mid-epoch; 0: epoch ends."
        ),
    )

    def __post_init__(self) -> None:
        check_choice("callbacks.checkpoint.mode", self.mode, MODES)
        if self.every_n_train_steps < 0:
            raise ConfigError(
                f"callbacks.checkpoint.every_n_train_steps={self.every_n_train_steps} must be "
                ">= 0 (0 writes last.ckpt at epoch ends only)."
            )


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = "val/${metric.name}"
    mode: str = "${metric.mode}"
    patience: int = 5
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check_choice("callbacks.early_stopping.mode", self.mode, MODES)


@dataclass
class CallbacksConfig:
    """fabricx's callbacks, and `extra`: your own, by name, each a `_target_` node naming any
    Lightning Callback with its arguments (checked against its signature)."""

    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    progress_bar: str = field(default="rich", metadata=help_text(f"One of {PROGRESS_BARS}."))
    progress_refresh_per_second: float = field(
        default=10.0,
        metadata=help_text(
            "Progress-bar updates and redraws per second: each update reads the metrics off"
            " the device."
        ),
    )
    lr_monitor: bool = True
    extra: dict[str, Any] = field(
        default_factory=dict,
        metadata=help_text(
            "Your callbacks by name: {name: {_target_: pkg.MyCallback, arg: value}}."
        ),
    )

    def __post_init__(self) -> None:
        check_choice("callbacks.progress_bar", self.progress_bar, PROGRESS_BARS)
        if not self.progress_refresh_per_second > 0:
            raise ConfigError(
                f"callbacks.progress_refresh_per_second={self.progress_refresh_per_second} "
                "must be > 0; use callbacks.progress_bar=none for no bar."
            )
