"""Catalogue, config family: every bad value is refused before any work.

Each case types one command line and expects exit 2, no traceback, no run directory, and a
message that names the key, where its value came from and the fix (tests/helpers/catalogue.py runs
`fabricx.cli.main` in-process and stops where Hydra would start a job).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.run_if import RunIf

UNSET = "FABRICX_CATALOGUE_UNSET"


@pytest.fixture(autouse=True)
def _no_such_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)


def test_config_env_variable_unset(fabricx) -> None:
    out = fabricx("train", f"optim.lr=${{oc.env:{UNSET}}}")
    out.assert_refused("optim.lr", UNSET, f"command-line override 'optim.lr=${{oc.env:{UNSET}}}'")
    assert "config errors" not in out.stderr  # one problem: no echo, no phantom behind it


def test_config_env_variable_names_the_fix(fabricx) -> None:
    out = fabricx("train", f"optim.lr=${{oc.env:{UNSET}}}")
    out.assert_refused(f"export {UNSET}=", f"${{oc.env:{UNSET},")


def test_config_self_reference(fabricx) -> None:
    out = fabricx("train", "optim.lr=${optim.lr}")
    out.assert_refused("optim.lr", "refers to itself")
    assert "(from config)" not in out.stderr


def test_config_unknown_resolver(fabricx) -> None:
    out = fabricx("train", "optim.lr=${nope:1}")
    out.assert_refused("optim.lr", "nope", "resolver")
    assert "optim=none" not in out.stderr


def test_config_interpolation_to_a_missing_key(fabricx) -> None:
    out = fabricx("train", "optim.lr=${optim.no_such_key}")
    out.assert_refused("optim.lr", "optim.no_such_key")


def test_config_interpolation_error_hides_no_other_problem(fabricx) -> None:
    out = fabricx("train", f"trainer.devices=${{oc.env:{UNSET}}}", "trainer.max_epochs=0")
    out.assert_refused("trainer.devices", "trainer.max_epochs=0")


def test_config_source_is_the_command_line(fabricx) -> None:
    fabricx("train", "trainer.max_epochs=0").assert_refused(
        "trainer.max_epochs=0", "command-line override 'trainer.max_epochs=0'"
    )


def test_config_source_is_the_users_file(fabricx, tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "optim"
    conf.mkdir(parents=True)
    (conf / "shaky.yaml").write_text(
        "_target_: torch.optim.SGD\n_partial_: true\nlr: -0.5\nmomentum: 0.9\n"
    )
    out = fabricx("train", "--config-dir", str(tmp_path / "conf"), "optim=shaky")
    out.assert_refused("optim.lr=-0.5", "optim/shaky.yaml")
    assert "command-line override" not in out.stderr


def test_config_experiment_name_too_long(fabricx) -> None:
    fabricx("train", "experiment=" + "x" * 300).assert_refused("experiment", "shorten it")


def test_config_experiment_name_escapes_runs(fabricx) -> None:
    fabricx("train", "experiment=../escape").assert_refused("experiment", "without '/'")


def test_config_experiment_name_empty(fabricx) -> None:
    fabricx("train", "experiment=''").assert_refused("experiment")


def test_config_run_dir_under_a_file(fabricx, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = fabricx("train", f"hydra.run.dir={blocker}/run")
    out.assert_refused("hydra.run.dir", str(blocker))
    assert blocker.read_text() == "not a folder"


def test_config_run_dir_impossible(fabricx) -> None:
    out = fabricx("train", "hydra.run.dir=/proc/fabricx-catalogue/run")
    out.assert_refused("hydra.run.dir", "/proc/fabricx-catalogue")


def test_config_run_dir_name_too_long(fabricx, tmp_path: Path) -> None:
    out = fabricx("train", f"hydra.run.dir={tmp_path}/{'y' * 300}")
    out.assert_refused("hydra.run.dir", "too long")


def test_config_run_dir_holds_another_run(fabricx, tmp_path: Path) -> None:
    run = tmp_path / "taken"
    run.mkdir()
    (run / "config.yaml").write_text("experiment: default\n")
    (run / "metrics.json").write_text('{"status": "ok"}')
    out = fabricx("train", f"hydra.run.dir={run}")
    out.assert_refused("hydra.run.dir", "already holds a run", "resume=")
    assert (run / "metrics.json").read_text() == '{"status": "ok"}'


@pytest.mark.parametrize(
    "accelerator", ["tpu", "mps", pytest.param("cuda", marks=RunIf(no_gpu=True)), "hpu"]
)
def test_config_accelerator_absent(fabricx, accelerator: str) -> None:
    fabricx("train", f"trainer.accelerator={accelerator}").assert_refused(
        f"trainer.accelerator={accelerator}"
    )


def test_config_accelerator_unknown(fabricx) -> None:
    fabricx("train", "trainer.accelerator=cpux").assert_refused(
        "trainer.accelerator='cpux'", "Did you mean: cpu"
    )


def test_config_devices_zero(fabricx) -> None:
    fabricx("train", "trainer.devices=0").assert_refused("trainer.devices=0")


def test_config_devices_beyond_the_cores(fabricx) -> None:
    fabricx("train", "trainer.devices=99", "trainer.accelerator=cpu").assert_refused(
        "trainer.devices=99"
    )


def test_config_num_nodes_without_nodes(fabricx) -> None:
    fabricx("train", "trainer.num_nodes=2").assert_refused("trainer.num_nodes=2")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_config_learning_rate_not_finite(fabricx, value: str) -> None:
    fabricx("train", f"optim.lr={value}").assert_refused("optim.lr", "finite")


def test_config_learning_rate_negative(fabricx) -> None:
    fabricx("train", "optim.lr=-0.1").assert_refused("optim.lr=-0.1", "> 0")


def test_config_export_tolerance_nan(fabricx) -> None:
    fabricx("train", "export.onnx.atol=nan").assert_refused("export.onnx", "atol")


def test_config_max_epochs_negative(fabricx) -> None:
    fabricx("train", "trainer.max_epochs=-5").assert_refused("trainer.max_epochs=-5")


def test_config_unknown_group_option(fabricx) -> None:
    fabricx("train", "model=mpl").assert_refused("model=mpl", "mlp")


def test_config_unknown_trainer_key(fabricx) -> None:
    fabricx("train", "trainer.max_epoch=3").assert_refused("max_epoch", "max_epochs")


def test_config_wrong_type(fabricx) -> None:
    fabricx("train", "trainer.max_epochs=abc").assert_refused("trainer.max_epochs", "abc")


def test_config_batch_size_zero(fabricx) -> None:
    fabricx("train", "data.batch_size=0").assert_refused("data.batch_size")


def test_config_fp16_on_cpu(fabricx) -> None:
    fabricx("train", "precision=16-mixed", "trainer.accelerator=cpu").assert_refused("16-mixed")


def test_config_seed_out_of_range(fabricx) -> None:
    fabricx("train", "seed=-1").assert_refused("seed")


def test_config_unknown_logger(fabricx) -> None:
    fabricx("train", "logger=[wandb,tensorbord]").assert_refused("tensorbord", "tensorboard")


def test_config_monitor_not_logged(fabricx) -> None:
    fabricx("train", "callbacks.checkpoint.monitor=val/accuracy").assert_refused(
        "callbacks.checkpoint.monitor", "val/acc"
    )


def test_config_val_check_interval_above_one(fabricx) -> None:
    fabricx("train", "trainer.val_check_interval=2.5").assert_refused("trainer.val_check_interval")


def test_config_resume_missing_run(fabricx, tmp_path: Path) -> None:
    fabricx("train", f"resume={tmp_path}/nope").assert_refused("resume=")


def test_config_init_from_missing_checkpoint(fabricx, tmp_path: Path) -> None:
    fabricx("train", f"init_from={tmp_path}/nope.ckpt").assert_refused("init_from")


def test_config_all_problems_at_once(fabricx) -> None:
    out = fabricx("train", "optim.lr=nan", "trainer.devices=0", "data.batch_size=0")
    out.assert_refused("optim.lr", "trainer.devices", "data.batch_size")


def test_config_cpu_count_is_this_machines(fabricx) -> None:
    """The devices limit is the machine's, so the refusal names what it has."""
    out = fabricx(
        "train", f"trainer.devices={(os.cpu_count() or 1) + 1}", "trainer.accelerator=cpu"
    )
    out.assert_refused("trainer.devices")


def test_config_bad_data_target_is_one_problem(fabricx) -> None:
    """A mistyped datamodule is one problem, not echoes in every key that refers to it."""
    out = fabricx("train", "data._target_=fabricx.data.digits.DigitsDataModul")
    out.assert_refused("Did you mean: DigitsDataModule")
    assert "config errors" not in out.stderr, out.stderr


def test_config_sweep_dir_holds_runs(fabricx, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / "config.yaml").write_text("experiment: default\n")
    out = fabricx("train", "-m", f"hydra.sweep.dir={sweep}", "seed=1,2")
    out.assert_refused("hydra.sweep.dir", "already holds a run")
