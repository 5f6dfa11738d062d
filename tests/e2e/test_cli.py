"""The `fabricx` command as a user types it, each command in its own process and its own
empty working directory: config errors reported at once without a traceback, `fabricx config`,
an unknown verb, `--help` (which imports neither torch nor lightning), and `train` refused
before a run directory exists."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

NO_HEAVY_IMPORTS = """
import json, sys
import fabricx.cli
codes = [fabricx.cli.main(["--help"]), fabricx.cli.main(["--version"])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "lightning"))
print("RESULT=" + json.dumps({"codes": codes, "heavy": heavy}))
"""

# Each command runs in its own process and its own empty working directory.
CLI_RUNS = {
    "config-errors": ["-m", "fabricx", "config", "optim=adamx", "trainer.max_epochs=x"],
    "config-sgd": ["-m", "fabricx", "config", "optim=sgd"],
    "unknown-verb": ["-m", "fabricx", "trian"],
    "help": ["-m", "fabricx", "--help"],
    "train-refused": ["-m", "fabricx", "train", "optim.lrr=1"],
    "no-heavy-imports": ["-c", NO_HEAVY_IMPORTS],
}


class _Cli:
    """The commands of CLI_RUNS, run one after another on a background thread from the
    module's start; a test waits for its command's result."""

    def __init__(self, root: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._runs: dict[str, tuple[Path, Future[subprocess.CompletedProcess[str]]]] = {}
        for name, args in CLI_RUNS.items():
            cwd = root / name
            cwd.mkdir()
            future = self._pool.submit(
                subprocess.run,
                [sys.executable, *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            self._runs[name] = (cwd, future)

    def __call__(self, name: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        cwd, future = self._runs[name]
        return cwd, future.result(timeout=600)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module", autouse=True)
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Start the CLI processes when this module starts, only when a selected test reads
    them; they run one after another while the tests wait for theirs."""
    if not any(
        "cli" in item.fixturenames and item.module is request.module
        for item in request.session.items
    ):
        yield None
        return
    runs = _Cli(tmp_path_factory.mktemp("cli"))
    yield runs
    runs.close()


def test_cli_config_reports_every_problem_without_traceback(cli: _Cli) -> None:
    _, result = cli("config-errors")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "config errors (2)" in result.stderr
    assert "'optim' has no option 'adamx'" in result.stderr
    assert "Did you mean: adamw?" in result.stderr
    assert "trainer.max_epochs='x': expected int | None" in result.stderr
    assert result.stdout == ""


def test_cli_config_prints_the_valid_config(cli: _Cli) -> None:
    cwd, result = cli("config-sgd")
    assert result.returncode == 0, result.stderr
    assert "torch.optim.SGD" in result.stdout
    printed = OmegaConf.create(result.stdout)
    assert printed.optim._target_ == "torch.optim.SGD"
    assert printed.optim.lr == 0.05
    assert "config is valid" in result.stderr
    assert list(cwd.iterdir()) == []


def test_cli_unknown_verb_suggests_the_closest(cli: _Cli) -> None:
    _, result = cli("unknown-verb")
    assert result.returncode == 2
    assert "'trian' is not a fabricx verb" in result.stderr
    assert "Did you mean: train?" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_help(cli: _Cli) -> None:
    _, result = cli("help")
    assert result.returncode == 0, result.stderr
    assert "usage: fabricx <verb>" in result.stdout
    for verb in ("train", "eval", "config"):
        assert f"  {verb} " in result.stdout


def test_cli_train_refuses_before_creating_a_run_directory(cli: _Cli) -> None:
    cwd, result = cli("train-refused")
    assert result.returncode == 2, result.stderr
    assert "optim.lrr: torch.optim.AdamW has no parameter 'lrr'" in result.stderr
    assert "Did you mean: lr?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (cwd / "runs").exists()
    assert list(cwd.iterdir()) == []


def test_cli_help_does_not_import_torch_or_lightning(cli: _Cli) -> None:
    _, result = cli("no-heavy-imports")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT="))
    outcome = json.loads(line.removeprefix("RESULT="))
    assert outcome == {"codes": [0, 0], "heavy": []}
