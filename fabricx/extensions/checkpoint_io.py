"""Checkpoints written atomically: a crash mid-write never leaves a truncated .ckpt behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from fabricx.atomic import atomic_open


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the same directory, then renames it over the target.

    Lightning's own save writes the final path directly; a run killed during that write (OOM,
    preemption) leaves a half-written `last.ckpt` that the next resume then fails to load.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        with atomic_open(Path(path), "wb") as f:
            torch.save(checkpoint, f)
