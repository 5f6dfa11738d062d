"""`init_from=`: a new run whose weights start from another run's checkpoint (fine-tuning).

    fabricx train init_from=runs/default/<run>                  # that run's best checkpoint
    fabricx train init_from=runs/default/<run>/checkpoints/last.ckpt init_strict=false

With `init_strict=true` (the default) every weight of the task must be in the checkpoint
with the same shape, and nothing else may be. With `init_strict=false` the weights that
match are loaded and the rest is reported: missing ones keep their fresh initialisation,
unexpected and differently shaped ones (a new head) are skipped. Which file, and what was
skipped, goes to the new run's provenance.json and metrics.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from fabricx.errors import ConfigError, FabricxError

log = logging.getLogger(__name__)


def init_checkpoint(init_from: str) -> Path:
    """The checkpoint `init_from` names: a .ckpt file, or a run directory's best one.

    Raises:
        ConfigError: no such file, or a directory without checkpoints.
    """
    from fabricx.runs.checkpoints import find_checkpoint

    path = Path(init_from).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        found = find_checkpoint(path, "best")
        if found is not None:
            return found
        raise ConfigError(
            f"init_from={init_from}: {path} has no checkpoints/best-*.ckpt or last.ckpt; give "
            "a run directory that trained, or a .ckpt file."
        )
    raise ConfigError(
        f"init_from={init_from}: no such file or directory; give a run directory (its best "
        "checkpoint) or a .ckpt file."
    )


def init_weights(task: Any, cfg: Any, run_dir: Path) -> str:
    """Load `cfg.init_from`'s weights into `task`; record what happened; return a summary.

    Raises:
        FabricxError: the checkpoint cannot be read, or (strict) does not match the task.
    """
    import torch
    from lightning.pytorch.utilities import rank_zero_only

    path = init_checkpoint(cfg.init_from)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as err:  # any unpickling failure means the same to the user
        raise FabricxError(f"init_from: could not read the weights in {path}: {err}") from None
    own = task.state_dict()
    mismatched = sorted(
        k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)
    )
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    if cfg.init_strict and (missing or unexpected or mismatched):
        raise FabricxError(
            f"init_from={cfg.init_from}: {path.name} does not match {type(task).__qualname__}: "
            f"{_list('missing', missing)}{_list('unexpected', unexpected)}"
            f"{_list('of another shape', mismatched)}Set init_strict=false to load the weights "
            "that match and keep the rest as initialised."
        )
    loadable = {k: v for k, v in state.items() if k in own and k not in mismatched}
    task.load_state_dict(loadable, strict=False)
    record = {
        "checkpoint": str(path.resolve()),
        "sha256": _sha256(path),
        "strict": cfg.init_strict,
        "loaded": len(loadable),
        "missing": missing,
        "unexpected": unexpected,
        "mismatched": mismatched,
    }
    if rank_zero_only.rank == 0:
        _add_to_provenance(run_dir, record)
    summary = f"{len(loadable)} tensors from {path}"
    skipped = len(missing) + len(unexpected) + len(mismatched)
    if skipped:
        summary += (
            f"; missing {len(missing)}, unexpected {len(unexpected)}, other shape "
            f"{len(mismatched)} (provenance.json lists them)"
        )
        log.warning("init_from: loaded %s", summary)
    else:
        log.info("init_from: loaded %s", summary)
    return summary


def _list(what: str, keys: list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return f"{len(keys)} {what} ({shown}). "


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _add_to_provenance(run_dir: Path, record: dict[str, Any]) -> None:
    from fabricx.runs.directory import write_json

    path = run_dir / "provenance.json"
    provenance = json.loads(path.read_text()) if path.is_file() else {}
    provenance["init_from"] = record
    write_json(path, provenance)
