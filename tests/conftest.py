"""Shared fixtures: the `fabricx` command run as a user types it, in a subprocess.

W&B runs for real in offline mode; every directory it writes (runs, cache, config) lives
under pytest's temporary directory, and no test needs a network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Session fixtures: `slurm_cluster` (a real single-node SLURM cluster) and `postgres_url` (a
# throwaway PostgreSQL server); each skips without its packages.
pytest_plugins = ["slurm_cluster", "postgres_server"]


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


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> CliResult:
    """`fabricx train` with no arguments: the embedded default, end to end, once per session."""
    cwd = tmp_path_factory.mktemp("default-run")
    result = run_cli("train", cwd=cwd)
    assert result.returncode == 0, result.output
    return result


@pytest.fixture
def fabricx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Any:
    """`fabricx(*argv)` in-process in a fresh working directory, stopped where Hydra would
    start a job (tests/catalogue.py); for the catalogue's config and CLI cases."""

    from catalogue import Outcome, fabricx_in_process

    def run(*argv: str, cwd: Path | None = None) -> Outcome:
        return fabricx_in_process(list(argv), cwd or tmp_path, monkeypatch, capsys)

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The catalogue of bad inputs and faults (tests/test_catalogue_*.py), held / total by
    family, whenever its cases ran: the number issue 16 asks to keep."""
    counts: dict[str, list[int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            path = getattr(report, "nodeid", "").split("::", 1)[0]
            name = Path(path).stem
            if not name.startswith("test_catalogue_") or report.when not in ("call", "setup"):
                continue
            if report.when == "setup" and outcome == "passed":
                continue  # counted at its call
            held_total = counts.setdefault(name.removeprefix("test_catalogue_"), [0, 0])
            held_total[0] += outcome == "passed"
            held_total[1] += 1
    if counts:
        rows = ", ".join(f"{family} {held}/{total}" for family, (held, total) in counts.items())
        held = sum(h for h, _ in counts.values())
        total = sum(t for _, t in counts.values())
        terminalreporter.write_line(f"catalogue (held/total): {rows}; all {held}/{total}")
