"""fabricx.config.reference: the config reference is read from conf/ and from the code."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from fabricx.config.paths import conf_dir, recipe_files
from fabricx.config.reference import config_reference
from fabricx.models.mlp import MLP


@pytest.fixture(scope="module")
def reference() -> str:
    return config_reference()


def _section(page: str, heading: str) -> str:
    """The text under a `#### heading`, up to the next heading of any level."""
    start = page.index(f"#### {heading}\n")
    rest = page[start + len(heading) + 6 :]
    ends = [i for i in (rest.find("\n#### "), rest.find("\n### "), rest.find("\n## ")) if i >= 0]
    return rest[: min(ends)] if ends else rest


def test_every_option_of_every_group_is_listed(reference: str) -> None:
    conf = conf_dir()
    for path in conf.glob("*.yaml"):
        assert f"#### `{path.name}`\n" in reference
    groups = [d for d in conf.iterdir() if d.is_dir() and d.name != "hydra"]
    assert {"data", "model", "task", "optim", "trainer", "logger", "export"} <= {
        d.name for d in groups
    }
    for group in groups:
        for option in group.glob("*.yaml"):
            assert f"#### `{group.name}={option.stem}`\n" in reference, option
    for recipe in recipe_files():  # recipes/NAME/recipe.yaml, the `recipe` group
        assert f"#### `recipe={recipe}`\n\n`recipes/{recipe}/recipe.yaml`" in reference
    assert "### `hydra`" not in reference  # Hydra's own settings: Hydra documents them


def test_a_parameter_the_yaml_leaves_out_comes_from_the_signature(reference: str) -> None:
    mlp = _section(reference, "`model=mlp`")
    assert "`model` builds `fabricx.models.mlp.MLP`." in mlp
    dropout = inspect.signature(MLP).parameters["dropout"].default
    assert f"| `dropout` | `float` | `{dropout!r}` |  |" in mlp  # not in conf/model/mlp.yaml
    assert "| `in_features` | `int` | *required* | `${data.num_features}` |" in mlp


def test_arguments_fabricx_passes_itself_are_marked(reference: str) -> None:
    adamw = _section(reference, "`optim=adamw`")
    assert "(a partial)" in adamw
    assert "| `params` |" in adamw and "*fabricx: completes the partial*" in adamw
    trainer = _section(reference, "`trainer=default`")
    assert "| `max_epochs` |" in trainer
    assert "| `precision` |" in trainer and "*fabricx: the precision group" in trainer


def test_the_schemas_list_every_field_with_its_help(reference: str) -> None:
    schemas = reference.split("## Schemas", 1)[1]
    train = schemas.split("### `TrainConfig`", 1)[1].split("\n### ", 1)[0]
    assert "| `seed` | `int` | `0` |" in train
    assert "| `precision` | [`PrecisionConfig`](#schema-precisionconfig) |" in train
    assert "Your own modules to allow" in train  # the field's metadata help
    for nested in ("PrecisionConfig", "CallbacksConfig", "ExportConfig", "SweepConfig"):
        assert f"### `{nested}` {{ #schema-{nested.lower()} }}" in schemas


def test_a_target_that_does_not_import_shows_the_yaml_keys(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "train.yaml").write_text("# fabricx train: a test tree.\nseed: 0\n")
    (tmp_path / "model" / "gone.yaml").write_text(
        "# model=gone: names a module that is not installed.\n"
        "_target_: no_such_package_xyz.Net\nwidth: 8\n"
    )
    page = config_reference(tmp_path)
    assert "#### `recipe=" not in page  # a tree of its own: fabricx's recipes are not added
    gone = _section(page, "`model=gone`")
    assert "model=gone: names a module that is not installed." in gone
    assert "could not be read here" in gone and "no_such_package_xyz" in gone
    assert "| `width` | `8` |" in gone
