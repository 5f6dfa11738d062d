"""A user's own code through the CLI, as a user types it: a package and a config folder of
their own beside fabricx (tests/helpers/user_package.py), named by `_target_`, checked against its
signatures, trained end to end, exported and verified, in a multirun, on two DDP ranks,
killed and resumed, swept, re-scored and re-exported; and refused, before any run directory
exists, when a key, a type, a required argument or an import is wrong.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.cli import CliResult, assert_refused_before_a_run, cli_env, read_json, run_cli
from tests.helpers.resume import kill_and_resume, max_weight_difference
from tests.helpers.user_package import USER_ARGS, write_user_project


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's project folder: mylab/ and conf/ (not a [tool.fabricx] project)."""
    root = tmp_path_factory.mktemp("lab")
    write_user_project(root)
    return root


def user_env(lab: Path, cwd: Path) -> dict[str, str]:
    """The user's package on PYTHONPATH, as they would put it (or pip install -e it)."""
    return {**cli_env(cwd), "PYTHONPATH": str(lab)}


def user_cli(lab: Path, cwd: Path, verb: str, *args: str, timeout: float = 600) -> CliResult:
    cwd.mkdir(parents=True, exist_ok=True)
    return run_cli(
        verb, "--config-dir", str(lab / "conf"), *args, cwd=cwd, env=user_env(lab, cwd),
        timeout=timeout,
    )  # fmt: skip


# --- refused before any work -----------------------------------------------------------------

# Several bad arguments in one command line: every one is reported, each with its fix.
AT_ONCE = {
    "model.widht=8": "model.widht: mylab.nets.WaveNet has no parameter 'widht' (from "
    "command-line override 'model.widht=8'). Did you mean: widths?",
    "model.activation=swish": "model.activation='swish': expected Literal['relu', 'gelu', 'tanh']",
    "model.widths=[16,x]": "model.widths=[16, 'x']: expected list[int], got [16, 'x'] at [1]",
    "model.dropout=high": "model.dropout='high': expected float",
    "callbacks.extra.counter.every=often": "callbacks.extra.counter.every='often': expected int",
}


@pytest.mark.slow
def test_every_bad_user_argument_is_refused_at_once_before_a_run(lab: Path, tmp_path: Path):
    result = user_cli(lab, tmp_path, "train", *USER_ARGS, *AT_ONCE)
    assert_refused_before_a_run(result, f"config errors ({len(AT_ONCE)})")
    for override, message in AT_ONCE.items():
        assert message in result.stderr
        assert f"(from command-line override '{override}')" in result.stderr


REFUSALS = [
    pytest.param(
        ["~model.widths"],
        "model.widths is required: mylab.nets.WaveNet(widths: list[int]) has no default",
        id="missing-required",
    ),
    pytest.param(
        ["model=broken"],
        "model._target_=mylab.broken.Net: importing mylab.broken failed: "
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'",
        id="failing-import",
    ),
    pytest.param(
        ["scheduler=cosine"],
        "scheduler: task._target_=mylab.tasks.GaussianRegression takes no 'scheduler' argument",
        id="unused-group",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "message"), REFUSALS)
def test_a_bad_user_config_is_refused_before_a_run(
    lab: Path, tmp_path: Path, overrides: list[str], message: str
) -> None:
    result = user_cli(lab, tmp_path, "train", *USER_ARGS, *overrides)
    assert_refused_before_a_run(result, message)


@pytest.mark.slow
def test_a_user_target_outside_the_allowed_modules_is_refused(lab: Path, tmp_path: Path) -> None:
    args = [a for a in USER_ARGS if not a.startswith("extra_target_prefixes")]
    result = user_cli(lab, tmp_path, "train", *args)
    assert_refused_before_a_run(result, "data._target_='mylab.data.WaveData' is outside")
    assert "extra_target_prefixes=[mylab]" in result.stderr


# --- one run end to end ----------------------------------------------------------------------

END_TO_END = [
    *USER_ARGS, "trainer.max_epochs=4", "logger=[csv,tensorboard,mlflow]",
    "trainer.val_check_interval=0.5", "export=[onnx,onnx_int8]",
]  # fmt: skip


@pytest.fixture(scope="module")
def user_run(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    cwd = tmp_path_factory.mktemp("user-run")
    result = user_cli(lab, cwd, "train", *END_TO_END)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    return result, run_dir


@pytest.mark.slow
def test_user_code_trains_exports_and_verifies(user_run: tuple[CliResult, Path]) -> None:
    _, run_dir = user_run
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok", record
    assert record["stages"] == {"fit": "ok", "test": "ok", "export": "ok", "verify": "ok",
                                "bench": "ok"}  # fmt: skip
    assert record["metric"]["name"] == "test/rmse" and record["metric"]["value"] < 1.0
    # No split_batch/build_metric: outputs compared only, and the record says so.
    assert "outputs compared only" in record["notes"]["verify"]
    verify = read_json(run_dir / "export" / "verify.json")
    assert verify["metric_recomputed"] is False
    for target in ("onnx", "onnx_int8"):
        parity = verify["artifacts"][target]["parity"]
        assert all(p["outputs"] == 2 for p in parity)  # mean and log-variance
        assert verify["artifacts"][target]["passed"]
    import onnx

    graph = onnx.load(str(run_dir / "export" / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["mean", "log_var"]  # export_output_names


@pytest.mark.slow
def test_user_arguments_and_defaults_are_recorded(user_run: tuple[CliResult, Path]) -> None:
    _, run_dir = user_run
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"] == {
        "_target_": "mylab.nets.WaveNet", "in_features": 4, "widths": [16, 16], "dropout": 0.1,
        "activation": "gelu",
    }  # fmt: skip
    assert config["data"]["noise"] == 0.1 and config["data"]["num_samples"] == 320  # default
    assert config["metric"] == {"name": "rmse", "mode": "min"}  # from the task's class
    assert config["callbacks"]["checkpoint"]["monitor"] == "val/rmse"
    assert config["trainer"]["val_check_interval"] == 0.5
    # The extra callback ran, with its argument: 192 training samples / 32 = 6 batches an
    # epoch, every 2nd counted, for 4 epochs.
    counted = read_json(run_dir / "batches.json")
    assert counted == {"batches": 3 * 4, "every": 2}


@pytest.mark.slow
def test_tensorboard_run_read_back_with_its_reader(user_run: tuple[CliResult, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = user_run
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"val/rmse", "train/rmse", "test/rmse", "val/loss"} <= tags
    # val_check_interval=0.5: validation twice an epoch, for 4 epochs.
    assert len(events.Scalars("val/rmse")) == 8


@pytest.mark.slow
def test_mlflow_run_read_back_with_its_client(user_run: tuple[CliResult, Path]) -> None:
    from mlflow.tracking import MlflowClient

    result, run_dir = user_run
    run_id = (run_dir / "mlflow_run_id.txt").read_text().strip()
    store = result.cwd / "runs" / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    run = client.get_run(run_id)
    assert run.info.run_name == f"default/{run_dir.name}"
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["test/rmse"] == pytest.approx(
        read_json(run_dir / "metrics.json")["metric"]["value"]
    )
    assert "verify/onnx_max_abs_diff" in metrics  # fabricx's own, logged at the end
    assert len(client.get_metric_history(run_id, "val/rmse")) == 8
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "default"


@pytest.mark.slow
def test_eval_and_export_of_the_finished_user_run(
    lab: Path, user_run: tuple[CliResult, Path]
) -> None:
    _, run_dir = user_run
    allow = "extra_target_prefixes=[mylab]"  # a run directory's own list is never trusted
    result = user_cli(lab, run_dir.parent, "eval", f"run={run_dir}", allow)
    assert result.returncode == 0, result.output
    (eval_dir,) = (run_dir / "eval").iterdir()
    scored = read_json(eval_dir / "metrics.json")
    trained = read_json(run_dir / "metrics.json")
    assert scored["metrics"]["test/rmse"] == pytest.approx(
        trained["metrics"]["test/rmse"], abs=1e-6
    )
    refused = user_cli(lab, run_dir.parent, "export", f"run={run_dir}", "export=[onnx_fp16]")
    assert refused.returncode == 2 and "outside the allowed modules" in refused.stderr
    result = user_cli(lab, run_dir.parent, "export", f"run={run_dir}", "export=[onnx_fp16]", allow)
    assert result.returncode == 0, result.output
    assert (run_dir / "export" / "model.fp16.onnx").is_file()
    assert read_json(run_dir / "export" / "verify.json")["artifacts"]["onnx_fp16"]["passed"]


# --- multirun, DDP, sweep ---------------------------------------------------------------------

SHORT = [*USER_ARGS, "trainer.max_epochs=2", "logger=csv", "stages=[fit,test]"]


@pytest.mark.slow
def test_user_code_in_a_multirun(lab: Path, tmp_path: Path) -> None:
    result = user_cli(lab, tmp_path, "train", "-m", *SHORT, "model.activation=relu,tanh")
    assert result.returncode == 0, result.output
    runs = result.run_dirs()
    assert len(runs) == 2
    activations = sorted(yaml.safe_load((r / "config.yaml").read_text())["model"]["activation"]
                         for r in runs)  # fmt: skip
    assert activations == ["relu", "tanh"]
    assert all(read_json(r / "metrics.json")["status"] == "ok" for r in runs)


@pytest.mark.slow
def test_user_code_on_two_ddp_ranks(lab: Path, tmp_path: Path) -> None:
    args = [*SHORT, "strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu"]
    result = user_cli(lab, tmp_path, "train", *args)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok" and "test/rmse" in record["metrics"]
    digests = {line.split("sha256 ")[1][:16] for line in result.output.splitlines()
               if "runs config sha256" in line}  # fmt: skip
    assert len(digests) == 1  # both ranks ran the same config


@pytest.mark.slow
def test_sweep_over_the_user_models_own_arguments(lab: Path, tmp_path: Path) -> None:
    result = user_cli(
        lab, tmp_path, "sweep", *USER_ARGS, "search_space=waves", "trainer.max_epochs=2",
        "logger=csv", "sweep.n_trials=2", "sweep.sampler.name=random", "sweep.pruner.name=none",
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (best,) = (tmp_path / "runs").rglob("best.json")
    chosen = read_json(best)
    assert chosen["objectives"][0]["metric"] == "val/rmse"
    assert chosen["objectives"][0]["direction"] == "minimize"
    trials = [p for p in (best.parent / "trials").iterdir() if (p / "config.yaml").is_file()]
    assert len(trials) == 2
    for trial in trials:
        model = yaml.safe_load((trial / "config.yaml").read_text())["model"]
        assert 0.0 <= model["dropout"] <= 0.3 and model["activation"] in ("relu", "tanh")


# --- kill and resume --------------------------------------------------------------------------

# 192 training samples / 16 = 12 steps an epoch; a last.ckpt every 5 steps lands mid-epoch.
RESUMABLE = [
    "--config-dir", "CONF", *USER_ARGS, "data.batch_size=16", "trainer.max_epochs=3",
    "callbacks.checkpoint.every_n_train_steps=5", "stages=[fit]", "export=none", "logger=csv",
]  # fmt: skip


def _resumable(lab: Path, *extra: str) -> list[str]:
    return [str(lab / "conf") if a == "CONF" else a for a in [*RESUMABLE, *extra]]


@pytest.mark.slow
def test_killed_user_run_with_a_stateful_loader_resumes_exactly(lab: Path, tmp_path: Path) -> None:
    outcome = kill_and_resume(
        tmp_path, _resumable(lab), steps_per_epoch=12, extra_env={"PYTHONPATH": str(lab)}
    )
    assert max_weight_difference(outcome.uninterrupted, outcome.resumed) == 0.0
    assert "cannot restore its position" not in outcome.resume_result.output


@pytest.mark.slow
def test_killed_user_run_with_a_plain_loader_resumes_at_the_next_epoch(
    lab: Path, tmp_path: Path
) -> None:
    """A plain DataLoader cannot restore its position: the resumed run skips the rest of
    the interrupted epoch, with one warning that says so, and goes on from the next."""
    args = _resumable(lab, "data.stateful=false")
    killed = tmp_path / "killed"
    killed.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fabricx", "train", *args], cwd=killed,
        env=user_env(lab, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(killed.glob("runs/*/*/checkpoints/last.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (run_dir,) = [p.parents[1] for p in killed.glob("runs/*/*/checkpoints/last.ckpt")]
    step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert step % 12 != 0, step
    resumed = run_cli("train", *args, "resume=auto", cwd=killed, env=user_env(lab, killed))
    assert resumed.returncode == 0, resumed.output
    assert resumed.output.count("cannot restore its position") == 1
    assert "not resumable" not in resumed.output  # Lightning's own warning: replaced by ours
    final = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    # The rest of the interrupted epoch was skipped: every later epoch ran whole.
    epochs_after = 3 - (step // 12 + 1)
    assert final["global_step"] == step + 12 * epochs_after
    assert read_json(run_dir / "metrics.json")["status"] == "ok"


# --- a project of one's own: fabricx init ------------------------------------------------------


@pytest.mark.slow
def test_fabricx_init_writes_a_project_that_runs_with_no_flags(tmp_path: Path) -> None:
    created = run_cli("init", "my-lab", cwd=tmp_path)
    assert created.returncode == 0, created.output
    project = tmp_path / "my-lab"
    assert (project / "my_lab" / "task.py").is_file()
    assert "[tool.fabricx]" in (project / "pyproject.toml").read_text()
    again = run_cli("init", "my-lab", cwd=tmp_path)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr

    # Plain `fabricx train`, from a folder inside the project: no --config-dir, no
    # extra_target_prefixes, no PYTHONPATH.
    inside = project / "notebooks"
    inside.mkdir()
    result = run_cli("train", "trainer.max_epochs=5", cwd=inside, env=cli_env(inside))
    assert result.returncode == 0, result.output
    (run_dir,) = [p.parent for p in (inside / "runs" / "my_lab").glob("*/config.yaml")]
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok"
    assert record["metric"]["name"] == "test/mae"
    assert record["metrics"]["test/mae_onnx"] == pytest.approx(record["metric"]["value"], abs=1e-4)

    # Its own test, through fabricx's Python API.
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=cli_env(project), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
