"""Recipes: every one composes and validates, with the number `fabricx reproduce` checks."""

from __future__ import annotations

import pytest

from fabricx.launch.compose import validate
from fabricx.verbs.recipes import read_recipe, recipe_dataset, recipe_files


@pytest.mark.parametrize("name", sorted(recipe_files()))
def test_every_recipe_composes_with_an_expected_block(name: str):
    # Datasets read from your copy need its folder; validation does not read it.
    path = [] if recipe_dataset(read_recipe(name)) == "digits" else ["data.path=/data/somewhere"]
    cfg = validate("train", [f"recipe={name}", *path])
    assert cfg.expected is not None and cfg.expected.source and cfg.expected.seeds
    assert cfg.experiment == name
