"""The run directory: the files a run leaves besides checkpoints, and how verbs find them.

    runs/<experiment>/<timestamp>-<id>/
      config.yaml  overrides.yaml  command.txt  provenance.json
      checkpoints/ (best-*.ckpt, last.ckpt)  metrics.csv  metrics.json  export/

Every file is written to a temporary name and renamed, so a killed run never leaves half a
JSON file that a later `fabricx eval` would choke on.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from fabricx.errors import FabricxError

PACKAGES = (
    "fabricx", "torch", "lightning", "hydra-core", "omegaconf", "torchmetrics", "wandb",
    "onnx", "onnxscript", "onnxruntime", "transformers", "numpy", "scikit-learn",
)  # fmt: skip


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (temporary file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600; others may read run files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (0644 under 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def record_start(
    run_dir: Path,
    config: dict[str, Any],
    overrides: list[str],
    command: list[str],
    seed: int,
    launched_by: list[str] | None = None,
) -> None:
    """The files that say what ran: resolved config, overrides, command line, provenance.

    Args:
        command: the command that reruns this run (for a multirun job: just this job).
        launched_by: for a multirun job, the sweep command that started it.
    """
    write_text(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    write_text(run_dir / "overrides.yaml", yaml.safe_dump(list(overrides)))
    lines = [shlex.join(command)]
    if launched_by:
        lines.append(f"# one job of: {shlex.join(launched_by)}")
    write_text(run_dir / "command.txt", "\n".join(lines) + "\n")
    write_json(run_dir / "provenance.json", provenance(seed))


def provenance(seed: int) -> dict[str, Any]:
    """Where and with what a run ran: enough to tell two runs' environments apart."""
    import torch

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "git": _git_state(),
        "packages": versions,
        "python": sys.version.split()[0],
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device": {
            "cuda_available": torch.cuda.is_available(),
            "gpus": devices,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "seed": seed,
    }


def _git_state() -> dict[str, Any]:
    """sha, dirty flag and a hash of the uncommitted diff of the repository the run ran in."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None, "diff_sha256": None}
    diff = git("diff", "HEAD") or ""
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    return {
        "sha": sha.strip(),
        "dirty": bool(status.strip()),
        "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None,
    }


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
    """
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means the same thing to the user
        raise FabricxError(f"could not load checkpoint {path}: {err}") from None
    module.load_state_dict(checkpoint["state_dict"])
    return checkpoint


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}
