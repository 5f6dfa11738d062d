"""Fixtures of the end-to-end tests: `fabricx` run as a user types it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.catalogue import Outcome, fabricx_in_process
from tests.helpers.cli import CliResult, run_cli


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
    start a job (tests/helpers/catalogue.py); for the catalogue's config and CLI cases."""

    def run(*argv: str, cwd: Path | None = None) -> Outcome:
        return fabricx_in_process(list(argv), cwd or tmp_path, monkeypatch, capsys)

    return run
