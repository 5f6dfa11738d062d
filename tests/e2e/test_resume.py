"""Exact resume end to end: a run killed with SIGKILL mid-epoch and resumed with `resume=auto`
ends with the weights of the uninterrupted run (shuffled batches, dropout, random crops and
flips on).

The end-to-end tests kill the real `fabricx train` process as soon as its first mid-epoch
last.ckpt exists, then resume it in the same working directory with the same overrides
(tests/helpers/resume.py). The pieces in process: tests/unit/runs/test_resume.py.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch
import yaml

from fabricx.runs import resume
from tests.helpers.cli import read_json, run_cli
from tests.helpers.image_files import write_cifar
from tests.helpers.resume import KilledAndResumed, kill_and_resume, max_weight_difference
from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

# digits: 1257 training samples, batches of 64 -> 20 steps per epoch. A checkpoint every 3
# steps: the first six are mid-epoch, so the kill lands mid-epoch.
DIGITS = ["trainer.max_epochs=3", "callbacks.checkpoint.every_n_train_steps=3", "stages=[fit]",
          "export=none", "model.dropout=0.2"]  # fmt: skip


@pytest.fixture(scope="module")
def digits_resumed(tmp_path_factory: pytest.TempPathFactory) -> KilledAndResumed:
    return kill_and_resume(tmp_path_factory.mktemp("resume-digits"), DIGITS, steps_per_epoch=20)


@pytest.mark.slow
def test_killed_and_resumed_digits_run_ends_with_the_same_weights(digits_resumed):
    diff = max_weight_difference(digits_resumed.uninterrupted, digits_resumed.resumed)
    print(f"digits MLP (dropout, shuffling): killed at step {digits_resumed.killed_at_step}, "
          f"max |weight difference| = {diff:.3g}")  # fmt: skip
    assert diff == 0.0
    record = read_json(digits_resumed.resumed / "metrics.json")
    assert record["status"] == "ok" and record["stages"]["fit"] == "ok"


@pytest.mark.slow
def test_resume_keeps_the_run_records_and_appends_to_them(digits_resumed):
    run_dir = digits_resumed.resumed
    assert (run_dir / "config.yaml").read_bytes() == digits_resumed.config_before
    assert "resume=auto" not in (run_dir / "command.txt").read_text()  # the first command
    (entry,) = read_json(run_dir / resume.RESUMES_FILE)
    assert entry["checkpoint"]["global_step"] == digits_resumed.killed_at_step
    assert entry["checkpoint"]["file"] == "checkpoints/last.ckpt"
    assert "resume=auto" in entry["command"] and entry["changed"] == {}
    assert entry["provenance"]["packages"]["torch"].startswith("2.")
    # metrics.csv: the resumed run appends; its steps run on from the checkpoint's.
    with (run_dir / "metrics.csv").open(newline="") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert max(steps) == 59  # 60 optimizer steps, logged from 0
    assert (run_dir / ".hydra" / "overrides.yaml").is_file()  # the first launch's, kept
    assert "Resuming" in digits_resumed.resume_result.output


@pytest.mark.slow
def test_resume_continues_the_same_wandb_run(digits_resumed):
    run_dir = digits_resumed.resumed
    saved_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    runs = [read_offline_run(p) for p in find_offline_runs(run_dir / "wandb")]
    assert len(runs) == 2, "the killed part and the resumed part"
    assert {r.run_id for r in runs} == {saved_id}
    offline_dirs = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))
    assert all(name.endswith(f"-{saved_id}") for name in offline_dirs)
    # The resumed part logs the steps after the checkpoint, up to the last one.
    logged = [h["trainer/global_step"] for h in runs[-1].history if "trainer/global_step" in h]
    assert min(logged) >= digits_resumed.killed_at_step and max(logged) >= 59


@pytest.mark.slow
def test_resume_refuses_a_changed_model(digits_resumed):
    copy = digits_resumed.killed_copy
    result = run_cli("train", *DIGITS, f"resume={copy}", "model.hidden_sizes=[32]",
                     cwd=copy.parent)  # fmt: skip
    assert result.returncode == 2, result.output
    assert "resume: model.hidden_sizes=[32] but" in result.stderr
    assert "[128, 64]" in result.stderr and "Traceback" not in result.output
    assert not (copy / "metrics.json").exists() and not (copy / resume.RESUMES_FILE).exists()


@pytest.mark.slow
def test_killed_and_resumed_cifar_run_with_crops_and_flips_is_exact(tmp_path: Path):
    # 5 x 64 training images, 64 held out: 256 / 16 = 16 steps per epoch; random crop and
    # flip per batch from TensorBatches' generator, whose state the checkpoint carries.
    data = write_cifar(tmp_path / "cifar", per_batch=64)
    args = [
        "data=cifar10", f"data.path={data}", "data.val_size=64", "data.batch_size=16",
        "data.augment=true", "model=resnet18", "model.width=4", "trainer.max_epochs=3",
        "callbacks.checkpoint.every_n_train_steps=3", "stages=[fit]", "export=none",
        "logger=csv",
    ]  # fmt: skip
    # One thread: a ResNet's OpenMP threads crawl when another process shares the 2 cores.
    runs = kill_and_resume(tmp_path, args, steps_per_epoch=16, threads=1)
    diff = max_weight_difference(runs.uninterrupted, runs.resumed)
    print(f"CIFAR ResNet-18 (crop+flip): killed at step {runs.killed_at_step}, "
          f"max |weight difference| = {diff:.3g}")  # fmt: skip
    assert diff == 0.0


@pytest.mark.slow
def test_resume_auto_with_nothing_to_resume_starts_a_new_run(tmp_path: Path):
    args = ["trainer.max_epochs=1", "stages=[fit]", "export=none", "logger=csv", "resume=auto"]
    first = run_cli("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.output
    assert "resume=auto: no run of experiment 'default'" in first.stderr
    assert "starting a new run" in first.stderr
    (run_dir,) = first.run_dirs()
    assert not (run_dir / resume.RESUMES_FILE).exists()
    # The newest run finished: resume=auto starts another one rather than redo it.
    second = run_cli("train", *args, cwd=tmp_path)
    assert second.returncode == 0, second.output
    assert f"{run_dir.name}, finished; starting a new run" in second.stderr
    assert len(second.run_dirs()) == 2


@pytest.mark.slow
def test_resume_of_a_path_that_is_no_run_exits_2(tmp_path: Path):
    result = run_cli("train", "resume=/not/a/run", cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert "resume=/not/a/run: no such directory" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()

    plain_dir = tmp_path / "somewhere"
    plain_dir.mkdir()
    result = run_cli("train", f"resume={plain_dir}", cwd=tmp_path)
    assert result.returncode == 2 and "not a fabricx run directory" in result.stderr

    (plain_dir / "config.yaml").write_text(yaml.safe_dump({"seed": 0}))
    result = run_cli("train", f"resume={plain_dir}", cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert "checkpoints/last.ckpt does not exist, so there is nothing to resume" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_resumed_sweep_skips_finished_jobs_and_resumes_the_others(tmp_path: Path):
    args = ["-m", "seed=0,1", "trainer.max_epochs=1", "stages=[fit]", "export=none",
            "logger=csv", "resume=auto"]  # fmt: skip
    first = run_cli("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.output
    (sweep,) = (tmp_path / "runs" / "default").glob("*-multirun")
    (sweep / "1" / "metrics.json").unlink()  # as if job 1 had been killed after its checkpoint
    second = run_cli("train", *args, cwd=tmp_path)
    assert second.returncode == 0, second.output
    assert list((tmp_path / "runs" / "default").glob("*-multirun")) == [sweep]
    assert "0 already finished; nothing to do" in second.output
    assert not (sweep / "0" / resume.RESUMES_FILE).exists()
    assert len(read_json(sweep / "1" / resume.RESUMES_FILE)) == 1
    assert read_json(sweep / "1" / "metrics.json")["status"] == "ok"


# --- a finished run, trained for longer; a new run from another's weights -------------------


@pytest.mark.slow
def test_a_finished_run_trains_longer_in_its_own_directory_and_tracker_runs(tmp_path: Path):
    """resume=<finished run> with a higher trainer.max_epochs continues it: same directory,
    same checkpoint chain, same W&B, MLflow and TensorBoard runs."""
    args = ["logger=[csv,wandb,mlflow,tensorboard]", "stages=[fit,test]", "export=none"]
    first = run_cli("train", "trainer.max_epochs=2", *args, cwd=tmp_path)
    assert first.returncode == 0, first.output
    (run_dir,) = first.run_dirs()
    mlflow_id = (run_dir / "mlflow_run_id.txt").read_text().strip()

    again = run_cli("train", "trainer.max_epochs=2", *args, f"resume={run_dir}", cwd=tmp_path)
    assert again.returncode == 2, again.output
    assert "that run finished" in again.stderr and "raise trainer.max_epochs" in again.stderr

    longer = run_cli("train", "trainer.max_epochs=4", *args, f"resume={run_dir}", cwd=tmp_path)
    assert longer.returncode == 0, longer.output
    assert longer.run_dirs() == [run_dir]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4 * 20  # 20 digits batches an epoch
    assert read_json(run_dir / "metrics.json")["status"] == "ok"
    (entry,) = read_json(run_dir / resume.RESUMES_FILE)
    assert entry["changed"]["trainer.max_epochs"] == [2, 4]
    # Trained to 4 epochs now: asking for 4 again (or 3) has nothing left to train.
    for epochs in (4, 3):
        again = run_cli(
            "train", f"trainer.max_epochs={epochs}", *args, f"resume={run_dir}", cwd=tmp_path
        )
        assert again.returncode == 2 and "after 4 epochs (80 steps)" in again.stderr

    wandb_runs = [read_offline_run(p) for p in find_offline_runs(run_dir / "wandb")]
    assert len({r.run_id for r in wandb_runs}) == 1 and len(wandb_runs) == 2
    assert (run_dir / "mlflow_run_id.txt").read_text().strip() == mlflow_id
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    assert [m.step for m in client.get_metric_history(mlflow_id, "val/acc")] == [19, 39, 59, 79]
    assert len(client.search_runs([client.get_run(mlflow_id).info.experiment_id])) == 1
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("val/acc")] == [19, 39, 59, 79]


@pytest.mark.slow
def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path: Path):
    args = ["logger=csv", "stages=[fit]", "export=none"]
    base = run_cli("train", "trainer.max_epochs=3", *args, cwd=tmp_path)
    assert base.returncode == 0, base.output
    (source,) = base.run_dirs()

    tuned = run_cli("train", "trainer.max_epochs=1", f"init_from={source}", *args, cwd=tmp_path)
    assert tuned.returncode == 0, tuned.output
    new_dir = next(p for p in tuned.run_dirs() if p != source)
    record = read_json(new_dir / "provenance.json")["init_from"]
    assert record["checkpoint"].startswith(str(source)) and record["strict"] is True
    assert record["missing"] == record["unexpected"] == record["mismatched"] == []

    # Started from trained weights: its first epoch validates better than the source's first.
    def first_val_acc(run_dir: Path) -> float:
        rows = csv.DictReader(io.StringIO((run_dir / "metrics.csv").read_text()))
        return float(next(r["val/acc"] for r in rows if r.get("val/acc")))

    assert first_val_acc(new_dir) > first_val_acc(source) + 0.05
    assert "init_from" in read_json(new_dir / "metrics.json")["notes"]

    head = ["model.hidden_sizes=[128,32]", f"init_from={source}", "trainer.max_epochs=1", *args]
    refused = run_cli("train", *head, cwd=tmp_path)
    assert refused.returncode == 1 and "does not match" in refused.stderr
    assert "init_strict=false" in refused.stderr and "Traceback" not in refused.output
    loose = run_cli("train", *head, "init_strict=false", cwd=tmp_path)
    assert loose.returncode == 0, loose.output
    newest = sorted(loose.run_dirs())[-1]
    record = read_json(newest / "provenance.json")["init_from"]
    assert record["mismatched"] == [
        "model.net.3.bias", "model.net.3.weight", "model.net.6.weight"
    ] and record["loaded"] == 3  # fmt: skip

    (tmp_path / "empty").mkdir()
    missing = run_cli("train", "init_from=runs/nowhere", *args, cwd=tmp_path / "empty")
    assert missing.returncode == 2 and "init_from=runs/nowhere: no such file" in missing.stderr
