"""Helpers for the catalogue of bad inputs and faults (tests/e2e/catalogue/).

Each catalogue case is one test that fails if a promise breaks: a config error exits 2
before Hydra creates a run directory, a payload never touches its marker file, a data error
names its file, a fault leaves an honest run directory. Config cases run `fabricx.cli.main`
in-process, as the `fabricx` command does, with Hydra's job start replaced by a sentinel: a
case that reaches it was not refused before work, which is exactly what it checks. Cases
that need a real process (signals, launchers, a job that runs) use `tests.helpers.cli.run_cli`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

REACHED_A_JOB = 97  # the sentinel's exit status: Hydra would have started a job


@dataclass
class Outcome:
    """What one in-process `fabricx` command line did."""

    returncode: int
    stderr: str
    cwd: Path
    reached_a_job: bool

    def assert_refused(self, *fragments: str) -> None:
        """Exit 2, no traceback, before any run directory, every fragment on stderr."""
        assert not self.reached_a_job, f"not refused: Hydra would start a job\n{self.stderr}"
        assert self.returncode == 2, self.stderr
        assert "Traceback" not in self.stderr, self.stderr
        for fragment in fragments:
            assert fragment in self.stderr, f"{fragment!r} not in:\n{self.stderr}"
        assert not (self.cwd / "runs").exists(), "a run directory was created"


def fabricx_in_process(
    argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> Outcome:
    """Run `fabricx ARGV...` in this process from `cwd`, stopping where Hydra would start a job.

    An exception that escapes `main` fails the test: the user would have seen a traceback.
    """
    from fabricx import cli

    reached: list[str] = []

    def sentinel(config_name: str, rest: list[str], job: str) -> int:
        reached.append(job)
        return REACHED_A_JOB

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(cli, "run_hydra", sentinel)
    capsys.readouterr()
    code = cli.main(list(argv))
    return Outcome(code, capsys.readouterr().err, cwd, bool(reached))


def marker_payload(marker: Path) -> str:
    """Python source that touches `marker`: the only effect a payload in these tests has."""
    return f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"
