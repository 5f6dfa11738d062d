"""The package's layering, as pyproject.toml's [tool.importlinter] contracts state it.

A module imports only from the layers below it (cli -> launch -> verbs -> stages ->
builders -> extensions/export -> sweep -> tasks/models -> data -> runs -> config -> errors),
only the Hydra layer imports Hydra, and no two modules import each other, directly or not.
"""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_are_kept(monkeypatch) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_import_cycles_between_modules() -> None:
    """Function-level imports count too: a cycle hidden inside a function is still a cycle."""
    graph = grimp.build_graph("fabricx")
    cycles = sorted(
        f"{module} <-> {imported}"
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if module < imported and graph.chain_exists(importer=imported, imported=module)
    )
    assert not cycles, cycles
