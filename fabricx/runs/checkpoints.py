"""Finding a run's checkpoints and loading their weights safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabricx.errors import ArtifactError


def find_checkpoint(run_dir: Path, which: str = "best") -> Path | None:
    """`best`, `last`, or an explicit file path; None when there is no such checkpoint.

    `best` is the one ModelCheckpoint ranked best. With save_top_k > 1 several best-*.ckpt
    exist; the newest one carries the callback's ranking (best_model_path is updated before
    each save). With none, `best` falls back to last.ckpt (fast_dev_run, no monitor).
    """
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if which == "last":
        return last if last.is_file() else None
    if which != "best":
        path = Path(which)
        return path if path.is_file() else None
    candidates = sorted(ckpt_dir.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if len(candidates) > 1:
        ranked = _best_model_name(candidates[-1])
        candidates = [p for p in candidates if p.name == ranked] or candidates
    if candidates:
        return candidates[-1]
    return last if last.is_file() else None


def _best_model_name(checkpoint: Path) -> str | None:
    """File name of ModelCheckpoint's best_model_path saved in `checkpoint` (weights mmapped)."""
    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # an unreadable file only means "no ranking": fall back to the newest
        return None
    for key, value in state.get("callbacks", {}).items():
        if str(key).startswith("ModelCheckpoint") and value.get("best_model_path"):
            return Path(value["best_model_path"]).name
    return None


def load_weights(module: Any, path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint's state_dict into `module`, with `weights_only=True`.

    weights_only refuses pickled code, so a checkpoint from elsewhere cannot run anything;
    fabricx keeps its checkpoints to tensors and plain containers so this always works.

    Raises:
        ArtifactError: the file is not a checkpoint torch can load with weights_only.
    """
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means the same thing to the user
        raise ArtifactError(f"could not load checkpoint {path}: {err}") from None
    module.load_state_dict(checkpoint["state_dict"])
    return checkpoint
