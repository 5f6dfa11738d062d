"""The `fabricx` command run as a user types it, in a subprocess, and what it left behind.

W&B runs for real in offline mode; every directory it writes (runs, cache, config) lives
under the command's working directory, and no test needs a network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cwd: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def run_dirs(self, experiment: str = "default") -> list[Path]:
        """Every run directory (one with a config.yaml) under cwd/runs/<experiment>/."""
        root = self.cwd / "runs" / experiment
        return sorted(p.parent for p in root.rglob("config.yaml") if ".hydra" not in p.parts)


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CONFIG_DIR=str(home / "wandb-config"),
        WANDB_CACHE_DIR=str(home / "wandb-cache"),
        WANDB_DATA_DIR=str(home / "wandb-data"),
        PYTHONUNBUFFERED="1",
        COLUMNS="160",  # rich wraps the summary table to the terminal width
    )
    return env


def run_cli(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> CliResult:
    """`fabricx ARGS...` in `cwd`, through the installed entry point's module."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fabricx", *args],
        cwd=cwd,
        env=env or cli_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start, cwd)


def assert_refused_before_a_run(result: CliResult, message: str) -> None:
    """A config error: exit 2, `message` on stderr, no traceback, no run directory."""
    assert result.returncode == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (result.cwd / "runs").exists()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
