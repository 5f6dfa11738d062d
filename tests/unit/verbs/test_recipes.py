"""Recipes: every one composes and validates, with the number `fabricx reproduce` checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabricx.launch.compose import validate
from fabricx.verbs.recipes import latest_verdict, read_recipe, recipe_dataset, recipe_files


@pytest.mark.parametrize("name", sorted(recipe_files()))
def test_every_recipe_composes_with_an_expected_block(name: str):
    # Datasets read from your copy need its folder; validation does not read it.
    path = [] if recipe_dataset(read_recipe(name)) == "digits" else ["data.path=/data/somewhere"]
    cfg = validate("train", [f"recipe={name}", *path])
    assert cfg.expected is not None and cfg.expected.source and cfg.expected.seeds
    assert cfg.experiment == name


@pytest.mark.parametrize("name", sorted(recipe_files()))
def test_every_recipe_folder_names_its_source_and_its_verdict(name: str):
    """recipes/NAME/README.md carries the published source the recipe cites, and a verdict
    line: the committed reproduce.json's, or why there is none."""
    folder = recipe_files()[name].parent
    readme = (folder / "README.md").read_text()
    assert read_recipe(name)["expected"]["source"] in readme
    verdict = next(line for line in readme.splitlines() if line.startswith("| latest verdict"))
    if (folder / "reproduce.json").is_file():
        reproduced = json.loads((folder / "reproduce.json").read_text())["reproduced"]
        assert ("[reproduced]" if reproduced else "[not reproduced]") in verdict
    else:
        assert "](reproduce.md)" not in verdict and len(verdict) > len("| latest verdict |  |")


def test_latest_verdict_reads_the_committed_report(tmp_path: Path):
    assert latest_verdict(tmp_path) == "-"
    (tmp_path / "reproduce.json").write_text("{not json")
    assert latest_verdict(tmp_path) == "-"
    (tmp_path / "reproduce.json").write_text('{"reproduced": false, "mean": 0.5}')
    assert latest_verdict(tmp_path) == "not reproduced: 0.5000"
    digits = recipe_files()["digits_mlp"].parent
    assert latest_verdict(digits).startswith("reproduced: 0.96")


def test_a_recipe_of_your_own_config_folder_joins_the_shipped_ones(tmp_path: Path):
    """recipes/ is served as the `recipe` group beside conf/; a `recipe/` folder of the
    user's --config-dir adds to it, and both compose."""
    (tmp_path / "recipe").mkdir()
    (tmp_path / "recipe" / "mine.yaml").write_text(
        "# @package _global_\nexperiment: mine\ntrainer:\n  max_epochs: 3\n"
    )
    cfg = validate("train", ["recipe=mine"], config_dir=str(tmp_path))
    assert (cfg.experiment, cfg.trainer["max_epochs"]) == ("mine", 3)
    shipped = validate("train", ["recipe=digits_mlp"], config_dir=str(tmp_path))
    assert shipped.experiment == "digits_mlp"


def test_reproduce_reads_one_result_per_seed_and_skips_the_launchers_folders(tmp_path: Path):
    """hydra/launcher=local (submitit) keeps its own .submitit/ beside the seeds' jobs: it is
    no seed, so it is no failed seed either."""
    from fabricx.verbs.reproduce import _results

    for seed, value in ((0, 0.8), (1, 0.9)):
        job = tmp_path / str(seed)
        job.mkdir()
        (job / "config.yaml").write_text(f"seed: {seed}\n")
        record = {"status": "ok", "metrics": {"test/f1": value, "time/total_s": 60.0 * (seed + 1)}}
        (job / "metrics.json").write_text(json.dumps(record))
    (tmp_path / ".submitit" / "123_0").mkdir(parents=True)
    results = _results(tmp_path, "test/f1")
    assert [(r["seed"], r["value"], r["seconds"]) for r in results] == [
        (0, 0.8, 60.0),
        (1, 0.9, 120.0),
    ]
