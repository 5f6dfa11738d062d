"""Proves tests/helpers/wandb_offline.py against a real ``WANDB_MODE=offline`` run (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("wandb")

from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

BIG = "x" * 100_000  # > 32 KiB: forces a FIRST/MIDDLE/LAST chunk chain across blocks


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep wandb offline, quiet and inside tmp_path (dir, config, cache, artifact staging)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    for var, sub in [
        ("WANDB_CONFIG_DIR", "cfg"),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_DATA_DIR", "data"),
    ]:
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_reads_real_offline_run(offline_env: Path) -> None:
    import wandb

    # The big value goes in with init (the run record), as fabricx passes its config: a later
    # run.config.update is debounced by wandb-core and, under load, may not be written
    # before finish, which made this test flaky.
    config = {"a": 1, "nested": {"b": 2.5}, "big": BIG}
    run = wandb.init(mode="offline", dir=offline_env, project="p", config=config)
    for loss in (0.5, 0.4, 0.3):
        run.log({"loss": loss})
    run.summary["final/acc"] = 0.97
    weights = offline_env / "weights.txt"
    weights.write_text("w")
    artifact = wandb.Artifact("model-x", type="model", metadata={"k": "v"})
    artifact.add_file(str(weights))
    run.log_artifact(artifact)
    run_id = run.id
    run.finish()

    [path] = find_offline_runs(offline_env)
    assert path.name == f"run-{run_id}.wandb" and path.parent.name.startswith("offline-run-")
    assert path.stat().st_size > 32768
    out = read_offline_run(path.parent)

    assert (out.run_id, out.project) == (run_id, "p")
    assert out.config == {"a": 1, "nested": {"b": 2.5}, "big": BIG}
    assert [row["loss"] for row in out.history] == [0.5, 0.4, 0.3]
    assert [row["_step"] for row in out.history] == [0, 1, 2]
    assert out.summary["final/acc"] == 0.97
    assert out.summary["loss"] == 0.3 and "_wandb" not in out.summary
    assert len(out.artifacts) == 1
    art = out.artifacts[0]
    assert (art["name"], art["type"], art["metadata"]) == ("model-x", "model", {"k": "v"})
    assert art["files"] == ["weights.txt"]
    kinds = [r.WhichOneof("record_type") for r in out.records]
    assert kinds[0] == "header" and kinds[-1] == "exit"
    assert read_offline_run(path).history == out.history

    # A run still being written (or killed) ends mid-record: the partial tail is dropped.
    partial = offline_env / "partial" / path.name
    partial.parent.mkdir()
    partial.write_bytes(path.read_bytes()[:-5])
    assert len(read_offline_run(partial, wait_s=0).records) == len(out.records) - 1
    corrupt = bytearray(path.read_bytes())
    corrupt[20] ^= 0xFF
    partial.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="checksum"):
        read_offline_run(partial, wait_s=0)
