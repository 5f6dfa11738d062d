"""Checkpoints written atomically: a crash mid-write never leaves a truncated .ckpt behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from fabricx.runs import default_file_mode


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the same directory, fsyncs, then renames over the target.

    Lightning's own save writes the final path directly; a run killed during that write (OOM,
    preemption) leaves a half-written `last.ckpt` that the next resume then fails to load.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, default_file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
