"""Catalogue, CLI-misuse family: a command typed wrong gets exit 2 and a line that says how
to type it, never a traceback, never a run directory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.cli import CliResult, assert_refused_before_a_run, run_cli
from tests.helpers.run_if import RunIf


@pytest.fixture
def copied_run(default_run: CliResult, tmp_path: Path) -> Path:
    (source,) = default_run.run_dirs()
    return Path(shutil.copytree(source, tmp_path / "copied-run"))


def test_cli_unknown_verb(fabricx) -> None:
    fabricx("trian").assert_refused("'trian' is not a fabricx verb", "train")


def test_cli_no_verb(fabricx) -> None:
    out = fabricx()
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_cli_eval_without_run(fabricx) -> None:
    fabricx("eval").assert_refused("run")


def test_cli_eval_of_no_run(fabricx, tmp_path: Path) -> None:
    fabricx("eval", f"run={tmp_path}/nope").assert_refused("no config.yaml there")


def test_cli_eval_of_invalid_yaml(fabricx, copied_run: Path) -> None:
    (copied_run / "config.yaml").write_text("model: [unclosed\n  lr: : :\n")
    out = fabricx("eval", f"run={copied_run}")
    out.assert_refused(str(copied_run / "config.yaml"))


def test_cli_eval_of_config_that_is_not_a_mapping(fabricx, copied_run: Path) -> None:
    (copied_run / "config.yaml").write_text("- just\n- a list\n")
    fabricx("eval", f"run={copied_run}").assert_refused(str(copied_run / "config.yaml"))


@RunIf(no_gpu=True)
def test_cli_eval_with_an_absent_accelerator(fabricx, copied_run: Path) -> None:
    fabricx("eval", f"run={copied_run}", "accelerator=cuda").assert_refused("accelerator")


def test_cli_eval_with_an_unknown_accelerator(fabricx, copied_run: Path) -> None:
    fabricx("eval", f"run={copied_run}", "accelerator=tpu").assert_refused("accelerator")


def test_cli_eval_missing_checkpoint(fabricx, copied_run: Path) -> None:
    out = fabricx("eval", f"run={copied_run}", "checkpoint=nope.ckpt")
    out.assert_refused("checkpoint=nope.ckpt")


def test_cli_export_unknown_target(fabricx, copied_run: Path) -> None:
    fabricx("export", f"run={copied_run}", "export=[onnx,onxx]").assert_refused("onxx")


def test_cli_sweep_with_multirun(fabricx) -> None:
    fabricx("sweep", "-m", "recipe=digits_mlp").assert_refused("drop -m")


def test_cli_sweep_values_without_multirun(fabricx) -> None:
    fabricx("train", "optim.lr=0.1,0.01").assert_refused("add -m")


def test_cli_malformed_override(fabricx) -> None:
    fabricx("train", "optim.lr=[1").assert_refused("malformed override")


def test_cli_missing_config_dir(fabricx, tmp_path: Path) -> None:
    fabricx("train", "--config-dir", str(tmp_path / "nope")).assert_refused("--config-dir")


def test_cli_init_without_dir(fabricx) -> None:
    fabricx("init").assert_refused("usage: fabricx init DIR")


def test_cli_init_into_a_non_empty_dir(fabricx, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    out = fabricx("init", str(tmp_path / "taken"))
    assert out.returncode == 2, out.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_cli_reproduce_without_name(fabricx) -> None:
    fabricx("reproduce").assert_refused("usage: fabricx reproduce NAME")


def test_cli_recipes_show_unknown(fabricx) -> None:
    out = fabricx("recipes", "show", "digits_mpl")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr


def test_cli_interpolation_error_real_process(tmp_path: Path) -> None:
    """The real entry point: an unset variable is a config error, not a traceback."""
    result = run_cli("train", "optim.lr=${oc.env:FABRICX_CATALOGUE_UNSET}", cwd=tmp_path)
    assert_refused_before_a_run(result, "FABRICX_CATALOGUE_UNSET")


def test_cli_devices_beyond_the_machine_real_process(tmp_path: Path) -> None:
    """trainer.devices=99 on CPU is refused at once instead of starting 99 processes."""
    start = time.monotonic()
    result = run_cli("train", "trainer.devices=99", "trainer.accelerator=cpu", cwd=tmp_path,
                     timeout=180)  # fmt: skip
    assert_refused_before_a_run(result, "trainer.devices=99")
    assert time.monotonic() - start < 120


def test_cli_num_nodes_on_one_machine_real_process(tmp_path: Path) -> None:
    """trainer.num_nodes=2 without a launcher is refused instead of waiting forever."""
    result = run_cli("train", "trainer.num_nodes=2", cwd=tmp_path, timeout=180)
    assert_refused_before_a_run(result, "trainer.num_nodes=2")
