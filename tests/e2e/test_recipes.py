"""`fabricx recipes` lists and shows the recipes; `fabricx reproduce` checks one's number.
That every recipe composes: tests/unit/verbs/test_recipes.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers.cli import read_json, run_cli


def test_recipes_lists_and_shows(tmp_path: Path):
    listed = run_cli("recipes", cwd=tmp_path)
    assert listed.returncode == 0 and "digits_mlp" in listed.stdout
    shown = run_cli("recipes", "show", "digits_mlp", cwd=tmp_path)
    assert shown.returncode == 0
    assert yaml.safe_load(shown.stdout)["expected"]["metric"] == "test/acc"
    unknown = run_cli("recipes", "show", "digit", cwd=tmp_path)
    assert unknown.returncode == 2 and "Did you mean: digits_mlp" in unknown.stderr


@pytest.mark.slow
def test_reproduce_digits_mlp_end_to_end(tmp_path: Path):
    result = run_cli("reproduce", "digits_mlp", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (sweep,) = (tmp_path / "runs" / "digits_mlp").iterdir()
    report = read_json(sweep / "reproduce.json")
    assert report["reproduced"] is True and report["failed_seeds"] == []
    assert [r["seed"] for r in report["results"]] == [0, 1, 2]
    assert abs(report["mean"] - report["expected"]) <= report["tolerance"]
    assert "# digits_mlp: REPRODUCED" in (sweep / "reproduce.md").read_text()
    for r in report["results"]:  # each seed is a whole run: exported and verified
        assert read_json(Path(r["run_dir"]) / "metrics.json")["stages"]["verify"] == "ok"


@pytest.mark.slow
def test_reproduce_fails_when_the_number_is_missed(tmp_path: Path):
    result = run_cli(
        "reproduce", "digits_mlp", "trainer.max_epochs=1", "stages=[fit,test]", "logger=none",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 4, result.output
    assert "NOT REPRODUCED" in result.stdout
    (sweep,) = (tmp_path / "runs" / "digits_mlp").iterdir()
    assert read_json(sweep / "reproduce.json")["reproduced"] is False


def test_reproduce_refuses_an_unknown_recipe(tmp_path: Path):
    result = run_cli("reproduce", "mnist_lenet", cwd=tmp_path)
    assert result.returncode == 2
    assert "recipe=mnist_lenet" in result.stderr and "digits_mlp" in result.stderr
