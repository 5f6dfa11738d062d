"""`fabricx recipes`: the recipes in recipes/, published setups with the number they should reach.

A recipe is a Hydra config of the `recipe` group (`fabricx train recipe=NAME`): it selects
groups, overrides values, and carries an `expected:` block (metric, value, tolerance, seeds,
source, hardware, time budget). Listing them reads the files; nothing is composed or run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from fabricx.config.paths import recipe_files
from fabricx.errors import ConfigError, did_you_mean


def read_recipe(name: str) -> dict[str, Any]:
    files = recipe_files()
    if name not in files:
        raise ConfigError(
            f"no recipe {name!r}.{did_you_mean(name, files)} Recipes: {', '.join(files)} "
            "(fabricx recipes)."
        )
    return yaml.safe_load(files[name].read_text()) or {}


def recipe_dataset(recipe: dict[str, Any]) -> str:
    for entry in recipe.get("defaults", []):
        if isinstance(entry, dict):
            for key, value in entry.items():
                if key.endswith("/data"):
                    return str(value)
    return "-"


def run(argv: list[str]) -> int:
    """`fabricx recipes` lists them; `fabricx recipes show NAME` prints one."""
    if not argv:
        return list_recipes()
    if argv[0] == "show" and len(argv) == 2:
        return show_recipe(argv[1])
    raise ConfigError("usage: fabricx recipes, or fabricx recipes show NAME.")


def list_recipes(console: Console | None = None) -> int:
    table = Table(title="recipes (recipes/)", title_justify="left", show_edge=False)
    columns = ("recipe", "dataset", "expected", "seeds", "source", "hardware", "min/seed")
    for column in (*columns, "verdict"):
        table.add_column(column, overflow="fold")
    for name, path in recipe_files().items():
        recipe = read_recipe(name)
        exp = recipe.get("expected") or {}
        number = f"{exp.get('metric', '?')} {exp.get('value', '?')} ± {exp.get('tolerance', '?')}"
        source, hardware = str(exp.get("source", "")), str(exp.get("hardware", ""))
        seeds, budget = str(len(exp.get("seeds", []))), str(exp.get("time_budget_min", ""))
        verdict = latest_verdict(path.parent)
        row = (name, recipe_dataset(recipe), number, seeds, source, hardware, budget, verdict)
        table.add_row(*row)
    (console or Console()).print(table)
    return 0


def latest_verdict(folder: Path) -> str:
    """The verdict committed beside a recipe (its reproduce.json): mean and whether it was
    reproduced; "-" when it has not been run where the recipe was published."""
    try:
        report = json.loads((folder / "reproduce.json").read_text())
    except (OSError, ValueError):
        return "-"
    word = "reproduced" if report.get("reproduced") else "not reproduced"
    return f"{word}: {report.get('mean', float('nan')):.4f}"


def show_recipe(name: str) -> int:
    """The recipe's file as it is (YAML, unwrapped, so it can be copied into your own)."""
    read_recipe(name)  # refuses unknown names, with the closest
    path = recipe_files()[name]
    print(f"# {path}\n{path.read_text()}", end="")
    return 0
