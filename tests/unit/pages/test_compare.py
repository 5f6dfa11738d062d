"""`fabricx runs compare`: what differs in config and metrics, aligned; curves overlaid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.synthetic import write_run_dirs
from fabricx.errors import ConfigError
from fabricx.pages.compare import compare_runs, flatten, write_compare_page


def test_config_and_metric_differences_are_aligned(tmp_path: Path):
    a, b = write_run_dirs(tmp_path / "runs", 2, epochs=3)
    saved = yaml.safe_load((b / "config.yaml").read_text())
    saved["optim"]["lr"] = 0.5
    (b / "config.yaml").write_text(yaml.safe_dump(saved))
    comparison = compare_runs([a, b])
    config = dict(comparison.config)
    assert set(config) == {"experiment", "seed", "data.seed", "optim.lr"}
    assert config["seed"] == [0, 1] and config["optim.lr"][1] == 0.5
    metrics = dict(comparison.metrics)
    assert len(metrics["test/acc"]) == 2 and comparison.metric_name == "test/acc"
    html = write_compare_page(comparison, tmp_path / "compare.html").read_text()
    assert "val/acc" in html and "optim" in html
    assert html.count("<svg") == 1 and html.count('<g id="axes_') == 2  # val loss, val acc


def test_flatten_and_refusal():
    assert flatten({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "seed": 1}) == {
        "optim.lr": 0.1, "optim.betas": [0.9, 0.99], "seed": 1}  # fmt: skip
    with pytest.raises(ConfigError, match="not a run directory"):
        compare_runs([Path("/nonexistent/a"), Path("/nonexistent/b")])


def test_a_torn_config_is_refused_by_name(tmp_path: Path):
    a, b = write_run_dirs(tmp_path / "runs", 2, epochs=1)
    (b / "config.yaml").write_text("optim: {lr: [0.1\n")  # cut off mid-write by hand
    with pytest.raises(ConfigError, match=rf"{b.name}/config.yaml: cannot be read \(Parser"):
        compare_runs([a, b])
