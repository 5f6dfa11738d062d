"""Shared by every test: the SLURM and PostgreSQL session fixtures, and the catalogue's tally.

The tests import their helpers as `tests.helpers.X` (pyproject.toml puts the repository root
on sys.path); the end-to-end fixtures are in tests/e2e/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# The helpers' asserts report their values as a test's own do.
pytest.register_assert_rewrite("tests.helpers")

# Session fixtures: `slurm_cluster` (a real single-node SLURM cluster) and `postgres_url` (a
# throwaway PostgreSQL server); each skips without its packages.
pytest_plugins = ["tests.helpers.slurm_cluster", "tests.helpers.postgres_server"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The catalogue of bad inputs and faults (tests/e2e/catalogue/), held / total by
    family, whenever its cases ran."""
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
