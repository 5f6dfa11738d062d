"""`fabricx train` end to end through the CLI, as a user runs it: run directory, W&B, stages."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.cli import assert_refused_before_a_run, read_json, run_cli
from tests.helpers.run_if import RunIf
from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

pytestmark = pytest.mark.slow


def test_default_run_reaches_95_percent_and_verifies_onnx(default_run):
    (run_dir,) = default_run.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok"
    assert record["stages"] == {
        "fit": "ok",
        "test": "ok",
        "export": "ok",
        "verify": "ok",
        "bench": "ok",
    }
    assert record["metric"]["name"] == "test/acc"
    assert record["metric"]["value"] >= 0.95
    # The metric recomputed through ONNX Runtime sits beside the eager one.
    assert abs(record["metrics"]["test/acc_onnx"] - record["metrics"]["test/acc"]) <= 0.005
    # Each stage's wall time, and the whole job's: within the command's own wall time.
    times = {k: v for k, v in record["metrics"].items() if k.startswith("time/")}
    stages = ("setup", "fit", "test", "export", "verify", "bench", "close_trackers", "report")
    assert set(times) == {f"time/{s}_s" for s in (*stages, "total")}
    assert sum(times[f"time/{s}_s"] for s in stages) <= times["time/total_s"] + 1e-6
    assert times["time/total_s"] < default_run.seconds
    print(f"fabricx train: {default_run.seconds:.1f} s, test/acc {record['metric']['value']:.4f}")


def test_default_run_prints_summary_table(default_run):
    out = default_run.stdout
    for text in (
        "test/acc",
        "test/acc_onnx",
        "run directory",
        "export/model.onnx",
        "checkpoints/best-",
    ):
        assert text in out, f"{text!r} missing from the summary:\n{out[-3000:]}"
    (run_dir,) = default_run.run_dirs()
    assert str(run_dir) in out
    assert "Traceback" not in default_run.output


def test_run_directory_layout(default_run):
    (run_dir,) = default_run.run_dirs()
    assert run_dir.parent == default_run.cwd / "runs" / "default"
    assert run_dir.name.count("-") == 2  # <date>-<time>-<short id>
    for name in (
        "config.yaml",
        "overrides.yaml",
        "command.txt",
        "provenance.json",
        "metrics.csv",
        "metrics.json",
        "report.html",  # the page (tests/e2e/test_report.py opens it in a browser)
        "curves.png",  # its curves as a picture too
        "confusion.json",  # the test split's, for the page
        "job.json",  # the process that ran it: `fabricx runs` tells a running run
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "command.txt").read_text().startswith("fabricx train")
    assert yaml.safe_load((run_dir / "overrides.yaml").read_text()) == []

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["data"]["_target_"] == "fabricx.data.digits.DigitsDataModule"
    assert config["model"]["in_features"] == 64  # resolved, not "${data.num_features}"

    provenance = read_json(run_dir / "provenance.json")
    assert set(provenance["git"]) == {"sha", "dirty", "diff_sha256"}
    assert provenance["fabricx_git"]["sha"], "fabricx runs from its git checkout in the tests"
    assert provenance["packages"]["torch"].startswith("2.")
    assert provenance["seed"] == 0
    assert provenance["host"] and "cuda_available" in provenance["device"]

    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints
    assert any(n.startswith("best-") for n in checkpoints)
    assert not [n for n in checkpoints if n.startswith(".")], "temporary checkpoint left behind"

    with (run_dir / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    assert {"val/acc", "train/loss_step", "test/acc"} <= set(header)

    verify = read_json(run_dir / "export" / "verify.json")
    assert verify["passed"] is True
    onnx = verify["artifacts"]["onnx"]
    assert [p["batch_size"] for p in onnx["parity"]] == [1, 16, 64]
    assert max(p["max_abs_diff"] for p in onnx["parity"]) < 1e-4
    tolerance = {"precision": "fp32", "atol": 1e-4, "rtol": 1e-3, "max_metric_drop": 0.005}
    assert onnx["tolerance"] == tolerance
    assert onnx["metric"] == pytest.approx(verify["eager_fp32"], abs=0.005)


def test_checkpoints_load_with_weights_only(default_run):
    (run_dir,) = default_run.run_dirs()
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    config = checkpoint["fabricx"]["config"]
    assert type(config) is dict and type(config["model"]["hidden_sizes"]) is list
    assert config["optim"]["_target_"] == "torch.optim.AdamW"


def test_wandb_offline_run_holds_config_metrics_summary_artifacts(default_run):
    (run_dir,) = default_run.run_dirs()
    (path,) = find_offline_runs(run_dir / "wandb")
    run = read_offline_run(path)
    record = read_json(run_dir / "metrics.json")

    assert run.project == "fabricx"
    assert run.config["model"]["_target_"] == "fabricx.models.mlp.MLP"
    assert run.config["optim"]["lr"] == pytest.approx(3e-3)
    steps = [row for row in run.history if "train/loss_step" in row]
    assert len(steps) >= 20  # logged per step, every log_every_n_steps
    assert any("val/acc" in row for row in run.history)
    assert run.summary["test/acc"] == pytest.approx(record["metrics"]["test/acc"])
    assert run.summary["test/acc_onnx"] == pytest.approx(record["metrics"]["test/acc_onnx"])
    by_type = {a["name"].split("-")[0]: a for a in run.artifacts}
    assert by_type["model"]["type"] == "model"
    assert any(f.startswith("checkpoints/best-") for f in by_type["model"]["files"])
    assert "export/model.onnx" in by_type["onnx"]["files"]
    assert by_type["onnx"]["metadata"]["verify"]["passed"] is True


def test_bench_times_every_runtime_and_logs_a_wandb_table(default_run):
    (run_dir,) = default_run.run_dirs()
    bench = read_json(run_dir / "bench.json")
    cases = {(r["runtime"], r["batch_size"]) for r in bench["rows"]}
    assert cases == {(rt, b) for rt in ("eager_fp32", "ort_cpu_fp32") for b in (1, 8, 64)}
    for row in bench["rows"]:
        assert row["iters"] >= 20 and row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
    assert (run_dir / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bench: median latency" in default_run.stdout
    record = read_json(run_dir / "metrics.json")
    assert record["metrics"]["bench/ort_cpu_fp32_speedup_bs64"] > 0
    (path,) = find_offline_runs(run_dir / "wandb")
    tables = [row["bench"] for row in read_offline_run(path).history if "bench" in row]
    assert tables and tables[0]["_type"] == "table-file" and tables[0]["nrows"] == 6


def test_stage_subset_and_no_logger(tmp_path: Path):
    result = run_cli(
        "train", "stages=[fit,test]", "trainer.max_epochs=1", "logger=none", cwd=tmp_path
    )
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["stages"] == {"fit": "ok", "test": "ok"}
    assert not (run_dir / "export").exists()
    assert not (run_dir / "metrics.csv").exists() and not (run_dir / "wandb").exists()
    assert "test/acc" in record["metrics"]
    assert f"run directory: {run_dir}" in result.stdout  # the summary reports a subset too


def test_export_none_skips_export_and_verify(tmp_path: Path):
    result = run_cli("train", "export=none", "trainer.max_epochs=1", "logger=csv", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    assert read_json(run_dir / "metrics.json")["stages"] == {
        "fit": "ok",
        "test": "ok",
        "bench": "ok",
    }
    assert not (run_dir / "export").exists()
    assert (run_dir / "metrics.csv").is_file()


def test_bf16_mixed_and_sgd_cosine_train_on_cpu(tmp_path: Path):
    result = run_cli(
        "train", "precision=bf16-mixed", "optim=sgd", "scheduler=cosine", "trainer.max_epochs=2",
        "logger=csv", "export=none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    assert (
        yaml.safe_load((run_dir / "config.yaml").read_text())["precision"]["name"] == "bf16-mixed"
    )
    assert read_json(run_dir / "metrics.json")["metrics"]["test/acc"] > 0.5


def test_debug_trainer_runs_every_stage_on_a_few_batches(tmp_path: Path):
    result = run_cli("train", "trainer=debug", "logger=none", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    # fast_dev_run monitors nothing, so there is no best-*.ckpt: "best" falls back to last.ckpt.
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["last.ckpt"]
    assert record["weights"].endswith("last.ckpt")
    assert record["stages"] == {
        "fit": "ok",
        "test": "ok",
        "export": "ok",
        "verify": "ok",
        "bench": "ok",
    }


def test_without_checkpoints_later_stages_say_which_weights(tmp_path: Path):
    """Checkpointing off: test/export/verify use the weights in memory, and say so. The run
    also comes from a --config-dir option, which command.txt keeps so it can be rerun."""
    user = tmp_path / "myconf" / "optim"
    user.mkdir(parents=True)
    (user / "fast.yaml").write_text("_target_: torch.optim.SGD\n_partial_: true\nlr: 0.1\n")
    result = run_cli(
        "train", "--config-dir", str(tmp_path / "myconf"), "optim=fast",
        "callbacks.checkpoint.enabled=false", "trainer.max_epochs=2", "logger=csv", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["weights"] == "in memory after fit"
    assert "No best checkpoint" in result.output
    assert not (run_dir / "checkpoints").exists()
    command = (run_dir / "command.txt").read_text()
    assert "--config-dir" in command and "optim=fast" in command
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["optim"]["lr"] == 0.1


def test_fp16_and_int8_targets_are_verified_at_their_precision(tmp_path: Path):
    result = run_cli("train", "export=[onnx,onnx_fp16,onnx_int8]", "logger=csv", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    for name in ("model.onnx", "model.fp16.onnx", "model.int8.onnx"):
        assert (run_dir / "export" / name).is_file(), name
    verify = read_json(run_dir / "export" / "verify.json")
    assert set(verify["artifacts"]) == {"onnx", "onnx_fp16", "onnx_int8"}
    fp16, int8 = verify["artifacts"]["onnx_fp16"], verify["artifacts"]["onnx_int8"]
    assert fp16["tolerance"]["precision"] == "fp16" and int8["tolerance"]["atol"] == 0.5
    assert 0 < max(p["max_abs_diff"] for p in fp16["parity"]) < 1e-2  # really fp16: not exact
    assert int8["passed"] and abs(int8["metric_change"]) <= 0.02
    assert (int8["method"], int8["family"]) == ("static", "dense")  # an MLP: Q/DQ, calibrated
    assert "onnx_optimized" not in verify["artifacts"]  # not a transformer: no optimized file
    assert (
        "metric_change_vs_onnx" in int8
        and verify["artifacts"]["onnx"]["metric_change_vs_onnx"] == 0
    )
    metrics = read_json(run_dir / "metrics.json")["metrics"]
    assert {"test/acc_onnx_fp16", "test/acc_onnx_int8", "verify/onnx_int8_max_abs_diff"} <= set(
        metrics
    )
    assert metrics["export/onnx_int8_calibration_batches"] == 16
    bench = read_json(run_dir / "bench.json")["rows"]
    assert all("speedup_vs_ort_cpu_fp32" in r for r in bench if r["runtime"] == "ort_cpu_int8")


def test_every_exported_file_is_its_own_wandb_artifact(tmp_path: Path):
    result = run_cli("train", "export=[onnx,onnx_int8]", "trainer.max_epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    (path,) = find_offline_runs(run_dir / "wandb")
    logged = read_offline_run(path).artifacts
    artifacts = {a["name"].rsplit("-", 1)[0]: a for a in logged if a["type"] == "model"}
    assert set(artifacts) == {"model", "onnx", "onnx_int8"}
    assert any(a["type"] == "run_table" for a in logged)  # the bench table
    int8 = artifacts["onnx_int8"]
    # the file and how it was made (<file>.json: the INT8 method and the model's family)
    assert int8["files"] == ["export/model.int8.onnx", "export/model.int8.onnx.json"]
    assert int8["metadata"]["verify"]["tolerance"]["precision"] == "int8"
    assert int8["metadata"]["sidecar"]["method"] == "static"


def test_a_parity_failure_fails_the_stage_and_keeps_every_file(tmp_path: Path):
    result = run_cli(
        "train", "export=[onnx,onnx_int8]", "export.onnx_int8.atol=0", "export.onnx_int8.rtol=0",
        "trainer.max_epochs=2", "logger=csv", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Export verification failed: model.int8.onnx at batch 1" in result.stderr
    assert "Traceback" not in result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "failed" and record["stages"]["verify"] == "failed"
    assert (run_dir / "export" / "model.int8.onnx").is_file()
    assert read_json(run_dir / "export" / "verify.json")["artifacts"]["onnx"]["passed"] is True


@RunIf(no_tensorrt=True)
def test_tensorrt_without_a_gpu_is_skipped_with_exit_status_3(tmp_path: Path):
    """Without tensorrt or a GPU the target is skipped, said in one line, and the exit status
    (3) tells scripts so; every other artifact is kept and verified."""
    result = run_cli(
        "train", "export=[onnx,tensorrt]", "trainer.max_epochs=1", "logger=none", cwd=tmp_path
    )
    assert result.returncode == 3, result.output
    assert "fabricx: skipped: tensorrt" in result.stderr
    assert "Traceback" not in result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok" and record["stages"]["verify"] == "ok"
    reason = record["skipped"]["tensorrt"]
    assert reason.startswith("TensorRT target skipped:")
    assert "no CUDA GPU" in reason or "not installed" in reason
    assert f"skipped tensorrt: {reason}" in result.stdout
    assert (run_dir / "export" / "model.onnx").is_file()
    assert not (run_dir / "export" / "model.plan").exists()


def test_multirun_gives_one_run_directory_and_wandb_run_per_job(tmp_path: Path):
    result = run_cli("train", "-m", "optim.lr=0.01,0.001", "trainer.max_epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.output
    jobs = result.run_dirs()
    assert len(jobs) == 2
    lrs, run_ids = set(), set()
    for job in jobs:
        assert read_json(job / "metrics.json")["status"] == "ok"
        lrs.add(yaml.safe_load((job / "config.yaml").read_text())["optim"]["lr"])
        (path,) = find_offline_runs(job / "wandb")
        run = read_offline_run(path)
        run_ids.add(run.run_id)
        assert "test/acc" in run.summary
        assert "# one job of: fabricx train -m" in (job / "command.txt").read_text()
    assert lrs == {0.01, 0.001}
    assert len(run_ids) == 2
    # Each job's times start at its own start, not at the process's.
    totals = [read_json(job / "metrics.json")["metrics"]["time/total_s"] for job in jobs]
    assert sum(totals) < result.seconds


def test_ddp_two_cpu_ranks_share_one_run_directory(tmp_path: Path):
    result = run_cli(
        "train", "strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
        "trainer.max_epochs=1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    assert (run_dir / "train_ddp_process_1.log").is_file()  # rank 1 ran, in the same directory
    assert len(find_offline_runs(run_dir / "wandb")) == 1  # only rank 0 logs to W&B
    assert read_json(run_dir / "metrics.json")["stages"]["verify"] == "ok"
    # The test confusion matrix counts the digits test split once (every rank reads it whole).
    assert sum(map(sum, read_json(run_dir / "confusion.json")["matrix"])) == 270


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["precision=16-mixed"], "precision=16-mixed needs a CUDA GPU", marks=RunIf(no_gpu=True)
        ),
        (["model._target_=os.system"], "model._target_=os.system is refused"),
        (["model._target_=collections.OrderedDict"], "outside the allowed modules"),
        (["optim.lrr=0.1", "trainer.max_epochs=x"], "Did you mean: lr"),
    ],
)
def test_config_errors_stop_before_a_run_directory_exists(tmp_path: Path, args, message):
    assert_refused_before_a_run(run_cli("train", *args, cwd=tmp_path), message)


def test_hydra_inspection_flags_print_without_running(tmp_path: Path):
    """--cfg job prints the composed config (validated first); --info describes the search
    path; neither runs a job nor creates a run directory."""
    result = run_cli("train", "--cfg", "job", "optim=sgd", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "_target_: torch.optim.SGD" in result.stdout
    result = run_cli("train", "--info", "searchpath", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "fabricx" in result.stdout or "conf" in result.stdout
    bad = run_cli("train", "--cfg", "job", "optim.lrr=1", cwd=tmp_path)
    assert bad.returncode == 2 and "Did you mean: lr?" in bad.stderr
    assert not (tmp_path / "runs").exists()
