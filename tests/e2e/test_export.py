"""`fabricx export run=<dir> export=[...]`: a finished run exported again, without training."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import read_json, run_cli

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
    # The run's page, written again: the new artifacts' parity is on it.
    page = (unexported_run / "report.html").read_text()
    assert "model.int8.onnx" in page and "test/acc_onnx_int8" in page


def test_eval_verifies_what_was_exported_later_and_a_subset_export_drops_the_rest(
    tmp_path: Path,
):
    run = run_cli("train", "export=[onnx]", "trainer.max_epochs=1", "logger=none", cwd=tmp_path)
    assert run.returncode == 0, run.output
    (run_dir,) = run.run_dirs()
    added = run_cli("export", f"run={run_dir}", "export=[onnx,onnx_fp16,onnx_int8]", cwd=tmp_path)
    assert added.returncode == 0, added.output
    evaluated = run_cli("eval", f"run={run_dir}", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.output
    (eval_dir,) = (run_dir / "eval").iterdir()
    assert set(read_json(eval_dir / "export" / "verify.json")["artifacts"]) == {
        "onnx", "onnx_fp16", "onnx_int8"
    }  # fmt: skip
    subset = run_cli("export", f"run={run_dir}", "export=[onnx_fp16]", cwd=tmp_path)
    assert subset.returncode == 0, subset.output
    assert sorted(p.name for p in (run_dir / "export").iterdir()) == [
        "model.fp16.onnx", "model.onnx", "verify.json"
    ]  # fmt: skip
    record = read_json(run_dir / "metrics.json")
    assert "onnx_int8" not in record["artifacts"]
    assert not [k for k in record["metrics"] if "int8" in k]
    assert set(read_json(run_dir / "export" / "verify.json")["artifacts"]) == {"onnx", "onnx_fp16"}


def test_verbs_log_their_own_wandb_run_next_to_the_training_run(tmp_path: Path):
    from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

    run = run_cli("train", "export=none", "trainer.max_epochs=1", cwd=tmp_path)
    assert run.returncode == 0, run.output
    (run_dir,) = run.run_dirs()
    result = run_cli("export", f"run={run_dir}", "export=[onnx_int8]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    runs = [read_offline_run(p) for p in find_offline_runs(run_dir / "wandb")]
    assert len(runs) == 2
    export_run = next(
        r for r in runs if any(a["name"].startswith("onnx_int8-") for a in r.artifacts)
    )
    assert "test/acc_onnx_int8" in export_run.summary
    assert export_run.summary["test/acc"] == pytest.approx(
        read_json(run_dir / "metrics.json")["metrics"]["test/acc"]
    )


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
