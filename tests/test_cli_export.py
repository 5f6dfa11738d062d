"""`fabricx export run=<dir> export=[...]`: a finished run exported again, without training."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import read_json, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unexported_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained with export=none and a model that differs from conf/'s default."""
    cwd = tmp_path_factory.mktemp("unexported")
    result = run_cli(
        "train", "export=none", "model.hidden_sizes=[32]", "trainer.max_epochs=3", "logger=none",
        cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    return run_dir


def test_export_verb_adds_every_target_to_the_run(unexported_run: Path, tmp_path: Path):
    checkpoint = next((unexported_run / "checkpoints").glob("best-*.ckpt"))
    before = checkpoint.stat().st_mtime
    result = run_cli(
        "export", f"run={unexported_run}", "export=[onnx,onnx_fp16,onnx_int8]", cwd=tmp_path
    )
    assert result.returncode == 0, result.output
    for name in ("model.onnx", "model.fp16.onnx", "model.int8.onnx", "verify.json"):
        assert (unexported_run / "export" / name).is_file(), name
    record = read_json(unexported_run / "metrics.json")
    # The training run's stages and metrics stay; export and verify are added.
    assert record["stages"] == {
        "fit": "ok", "test": "ok", "bench": "ok", "export": "ok", "verify": "ok"
    }  # fmt: skip
    assert {"val/acc", "test/acc", "test/acc_onnx_int8"} <= set(record["metrics"])
    assert checkpoint.stat().st_mtime == before  # nothing was trained or saved again
    assert not (tmp_path / "runs").exists()


def test_export_verb_needs_a_target_and_a_run(unexported_run: Path, tmp_path: Path):
    result = run_cli("export", f"run={unexported_run}", "export=none", cwd=tmp_path)
    assert result.returncode == 2
    assert "export names no target" in result.stderr
    result = run_cli("export", f"run={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a fabricx run directory" in result.stderr


def test_bench_verb_times_what_the_run_has(unexported_run: Path, tmp_path: Path):
    result = run_cli("bench", f"run={unexported_run}", "bench.batch_sizes=[1,4]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    bench = read_json(unexported_run / "bench.json")
    assert {r["batch_size"] for r in bench["rows"]} == {1, 4}
    metrics = read_json(unexported_run / "metrics.json")["metrics"]
    assert not [k for k in metrics if k.endswith("_bs64")], "stale results of the earlier bench"
    assert "val/acc" in metrics  # the training run's metrics stay


def test_doctor_reports_versions_and_the_tensorrt_check(tmp_path: Path):
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.output
    for name in ("torch", "lightning", "onnxruntime", "tensorrt"):
        assert name in result.stdout
    assert "TensorRT self-check:" in result.stdout
