"""A project of the user's own: found by walking up from the working directory to the first
pyproject.toml with a `[tool.fabricx]` table.

    [tool.fabricx]
    config-dir = "conf"              # searched beside fabricx's conf/, like --config-dir
    target-prefixes = ["mylab"]      # modules its configs may name, like extra_target_prefixes
    python-path = ["."]              # folders put on sys.path, so the package imports uninstalled

Inside such a project, `fabricx train` finds the project's configs, trusts its package and
imports it with no flag on the command line. `fabricx init DIR` writes one. The project file
is the user's own, like the command line: it may widen the trusted modules; a config read
back from a run directory never may.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabricx.errors import ConfigError

TABLE = "fabricx"


@dataclass(frozen=True)
class Project:
    """A `[tool.fabricx]` project: where it is, its configs, its trusted modules."""

    root: Path
    config_dir: Path | None
    target_prefixes: tuple[str, ...]
    python_path: tuple[Path, ...]

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"


def find_project(start: Path | None = None) -> Project | None:
    """The nearest project at or above `start` (the working directory), or None.

    Raises:
        ConfigError: a `[tool.fabricx]` table with unknown keys or wrong types.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = _table(pyproject)
            if table is not None:
                return _project(folder, table)
    return None


@functools.cache
def active_project() -> Project | None:
    """The project of this process's working directory, its python path applied once."""
    project = find_project()
    if project is not None:
        _apply_python_path(project)
    return project


def _table(pyproject: Path) -> dict[str, Any] | None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{pyproject}: not readable TOML ({err}); fix or remove it.") from None
    table = data.get("tool", {}).get(TABLE)
    return table if isinstance(table, dict) else None


_KEYS = {"config-dir": str, "target-prefixes": list, "python-path": list}


def _project(root: Path, table: dict[str, Any]) -> Project:
    where = f"{root / 'pyproject.toml'} [tool.{TABLE}]"
    problems = [
        f"{where}: unknown key {key!r}; the keys are {', '.join(_KEYS)}."
        for key in table
        if key not in _KEYS
    ]
    for key, kind in _KEYS.items():
        if key in table and not isinstance(table[key], kind):
            problems.append(f"{where}: {key} must be a {kind.__name__}, got {table[key]!r}.")
        elif kind is list and not all(isinstance(v, str) for v in table.get(key, [])):
            problems.append(f"{where}: {key} must list strings, got {table[key]!r}.")
    if problems:
        raise ConfigError(problems)
    config_dir = root / table.get("config-dir", "conf")
    if "config-dir" in table and not config_dir.is_dir():
        raise ConfigError(f"{where}: config-dir {config_dir} is not a directory.")
    return Project(
        root=root,
        config_dir=config_dir if config_dir.is_dir() else None,
        target_prefixes=tuple(table.get("target-prefixes", [])),
        python_path=tuple(root / p for p in table.get("python-path", ["."])),
    )


def _apply_python_path(project: Project) -> None:
    """Put the project's folders first on sys.path, and on PYTHONPATH for the processes a
    run starts (DDP ranks, sweep trials, SLURM jobs)."""
    entries = [str(p) for p in project.python_path]
    for entry in reversed(entries):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [*entries, *(p for p in current if p not in entries)]
    )
