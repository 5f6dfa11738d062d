"""The run directory: the files a run leaves besides checkpoints, and how verbs find them.

    runs/<experiment>/<timestamp>-<id>/
      config.yaml  overrides.yaml  command.txt  provenance.json
      checkpoints/ (best-*.ckpt, last.ckpt)  metrics.csv  metrics.json  export/
      job.json (the process running it)  report.html (fabricx.pages.run_page)

Every file is written atomically (fabricx.atomic). Checkpoints: fabricx.runs.checkpoints.
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
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from fabricx.atomic import atomic_open

PACKAGES = (
    "fabricx", "torch", "lightning", "hydra-core", "omegaconf", "torchmetrics", "wandb",
    "onnx", "onnxscript", "onnxruntime", "transformers", "numpy", "scikit-learn",
)  # fmt: skip


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (fabricx.atomic)."""
    with atomic_open(path) as f:
        f.write(text)
    return path


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


# A token tagger's test predictions, `word gold predicted` per line (conlleval's input): the
# task writes it (write_test_predictions), report.html reads it.
TEST_PREDICTIONS_FILE = "test_predictions.conll"


def read_json_object(path: Path) -> dict[str, Any]:
    """A run file's JSON object (metrics.json, provenance.json, ...); {} when the file is
    missing, unreadable, cut short by a kill, or not an object: readers of many runs skip
    what a run never wrote."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_process(run_dir: Path) -> Path:
    """job.json: the process running the run now (pid, host, time), rewritten by a resume.

    `fabricx runs` reads it to tell a run still going (no newer metrics.json, the process
    alive) from one killed without a record (fabricx.runs.table.run_status).
    """
    import datetime

    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return write_json(
        run_dir / "job.json", {"pid": os.getpid(), "host": socket.gethostname(), "started": now}
    )


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
        "git": _git_state(Path.cwd()),  # the project the run was launched from
        "fabricx_git": _git_state(Path(__file__).resolve().parent),  # fabricx's own checkout
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


def _git_state(where: Path) -> dict[str, Any]:
    """sha, dirty flag and a hash of the uncommitted diff of the repository holding `where`.

    All None when `where` is in no git repository (an installed wheel, a plain directory).
    """

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(where), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
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
