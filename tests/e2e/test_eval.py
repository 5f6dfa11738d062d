"""`fabricx eval run=<dir>`: a finished run re-scored from its own config and checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import read_json, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def narrow_run(tmp_path_factory: pytest.TempPathFactory):
    """A run whose model differs from conf/'s default: recomposing from conf/ would not fit
    its checkpoint, so a passing eval proves it used the run's own saved config. Its optimizer
    `_target_` differs from its option's default too, which eval must still read."""
    cwd = tmp_path_factory.mktemp("narrow-run")
    result = run_cli(
        "train", "model.hidden_sizes=[24]", "trainer.max_epochs=3", "logger=csv", "seed=7",
        "optim._target_=torch.optim.Adam", cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    return run_dir


def test_eval_rescoring_matches_the_run(narrow_run: Path):
    result = run_cli("eval", f"run={narrow_run}", cwd=narrow_run.parent.parent.parent)
    assert result.returncode == 0, result.output
    (eval_dir,) = sorted((narrow_run / "eval").iterdir())
    record = read_json(eval_dir / "metrics.json")
    trained = read_json(narrow_run / "metrics.json")["metrics"]
    assert record["stages"] == {"test": "ok", "verify": "ok"}
    assert record["metrics"]["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert record["metrics"]["test/acc_onnx"] == pytest.approx(trained["test/acc_onnx"], abs=1e-6)
    assert record["weights"].endswith(".ckpt") and "/best-" in record["weights"]
    assert (eval_dir / "export" / "verify.json").is_file()


def test_eval_last_checkpoint(narrow_run: Path, tmp_path: Path):
    result = run_cli(
        "eval", f"run={narrow_run}", "checkpoint=last", "verify_onnx=false", cwd=tmp_path
    )
    assert result.returncode == 0, result.output
    newest = sorted((narrow_run / "eval").iterdir())[-1]
    record = read_json(newest / "metrics.json")
    assert record["weights"].endswith("last.ckpt")
    assert record["stages"] == {"test": "ok"}


def test_eval_refuses_a_directory_that_is_no_run(tmp_path: Path):
    result = run_cli("eval", f"run={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a fabricx run directory" in result.stderr
    assert not (tmp_path / "eval").exists()


def test_eval_refuses_a_missing_checkpoint(narrow_run: Path, tmp_path: Path):
    result = run_cli("eval", f"run={narrow_run}", "checkpoint=nope.ckpt", cwd=tmp_path)
    assert result.returncode == 2
    assert "checkpoint=nope.ckpt" in result.stderr


def test_eval_needs_run(tmp_path: Path):
    result = run_cli("eval", cwd=tmp_path)
    assert result.returncode == 2
    assert "run is required" in result.stderr


def test_eval_refuses_a_tampered_target(narrow_run: Path, tmp_path: Path):
    """A run directory's config is data: adding "os" to its own allowed modules does not make
    `os.system` buildable; the refusal comes before any eval directory exists."""
    import shutil

    import yaml

    tampered = tmp_path / "tampered"
    shutil.copytree(narrow_run, tampered, ignore=shutil.ignore_patterns("eval"))
    config = yaml.safe_load((tampered / "config.yaml").read_text())
    config["allowed_target_prefixes"].append("os")
    config["optim"]["_target_"] = "os.system"  # AdamW's keys still fit a schema: only the
    (tampered / "config.yaml").write_text(yaml.safe_dump(config))  # allow-list refuses it
    result = run_cli("eval", f"run={tampered}", cwd=tmp_path)
    assert result.returncode == 2, result.output
    # Refused as unsafe (os runs commands) even where a list allows os; never built.
    assert "optim._target_=os.system is refused" in result.stderr
    assert not (tampered / "eval").exists()


def test_eval_of_a_broken_artifact_exits_7_not_2(narrow_run: Path, tmp_path: Path):
    """A corrupt model.onnx (or checkpoint) found while the run works is an artifact error,
    exit status 7: not a config error (2), which promises that nothing ran."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(narrow_run, broken, ignore=shutil.ignore_patterns("eval"))
    (broken / "export" / "model.onnx").write_bytes(b"\x08\x07 not a protobuf")
    result = run_cli("eval", f"run={broken}", cwd=tmp_path)
    assert result.returncode == 7, result.output
    assert "fabricx: artifact error: ONNX Runtime cannot load" in result.stderr
    assert "Traceback" not in result.output
    (eval_dir,) = sorted((broken / "eval").iterdir())
    record = read_json(eval_dir / "metrics.json")
    assert record["status"] == "failed" and record["stages"]["verify"] == "failed"

    (broken / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    result = run_cli("eval", f"run={broken}", "checkpoint=last", "verify_onnx=false", cwd=tmp_path)
    assert result.returncode == 7, result.output
    assert "artifact error: could not load checkpoint" in result.stderr
