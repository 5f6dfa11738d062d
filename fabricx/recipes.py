"""The recipes in conf/recipe/: published setups with the number they should reach.

A recipe is a Hydra config of the `recipe` group (`fabricx train recipe=NAME`): it selects
groups, overrides values, and carries an `expected:` block (metric, value, tolerance, seeds,
source, hardware, time budget). Listing them reads the files; nothing is composed or run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from fabricx.config.paths import conf_dir
from fabricx.errors import ConfigError, did_you_mean


def recipe_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted((conf_dir() / "recipe").glob("*.yaml"))}


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


def list_recipes(console: Console | None = None) -> int:
    table = Table(title="recipes (conf/recipe/)", title_justify="left", show_edge=False)
    for column in ("recipe", "dataset", "expected", "seeds", "source", "hardware", "min/seed"):
        table.add_column(column, overflow="fold")
    for name in recipe_files():
        recipe = read_recipe(name)
        exp = recipe.get("expected") or {}
        number = f"{exp.get('metric', '?')} {exp.get('value', '?')} ± {exp.get('tolerance', '?')}"
        source, hardware = str(exp.get("source", "")), str(exp.get("hardware", ""))
        seeds, budget = str(len(exp.get("seeds", []))), str(exp.get("time_budget_min", ""))
        table.add_row(name, recipe_dataset(recipe), number, seeds, source, hardware, budget)
    (console or Console()).print(table)
    return 0


def show_recipe(name: str) -> int:
    """The recipe's file as it is (YAML, unwrapped, so it can be copied into your own)."""
    read_recipe(name)  # refuses unknown names, with the closest
    path = recipe_files()[name]
    print(f"# {path}\n{path.read_text()}", end="")
    return 0
