"""strategy=ddp and strategy=fsdp through the CLI: what a CPU machine refuses before a run
directory exists, and FSDP training a tiny BERT on one CUDA GPU (skipped without one)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.cli import assert_refused_before_a_run, read_json, run_cli
from tests.helpers.conll_files import TINY_BERT, write_conll
from tests.helpers.run_if import RunIf


@pytest.mark.slow
@RunIf(no_gpu=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["strategy=fsdp"], "use strategy=ddp on the CPU"),
        (
            ["strategy=ddp", "strategy.process_group_backend=nccl", "trainer.devices=2"],
            "strategy.process_group_backend=nccl needs CUDA GPUs",
        ),
    ],
)
def test_cli_refuses_before_a_run_directory_exists(tmp_path: Path, args, message):
    assert_refused_before_a_run(run_cli("train", *args, cwd=tmp_path), message)


@pytest.mark.slow
@RunIf(gpu=True)
def test_fsdp_trains_tiny_bert_on_one_gpu_and_eval_scores_it(tmp_path: Path):
    """FSDP through the CLI on one GPU (BertLayer units, activation checkpointing, fp16
    autocast); the best checkpoint is one full state dict that `fabricx eval` scores."""
    from fabricx.runs.checkpoints import find_checkpoint

    data = write_conll(tmp_path / "conll")
    result = run_cli(
        "train", "data=conll2003", f"data.path={data}", f"data.tokenizer={data / 'vocab.txt'}",
        "data.eval_batch_size=16", "model=hf_token_classifier", TINY_BERT,
        "task=token_classification", "strategy=fsdp", "strategy.auto_wrap=[BertLayer]",
        "strategy.activation_checkpointing=[BertLayer]", "precision=16-mixed",
        "trainer.devices=1", "trainer.max_epochs=2", "stages=[fit]", "logger=csv", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    assert read_json(run_dir / "metrics.json")["stages"] == {"fit": "ok"}
    best = find_checkpoint(run_dir)
    assert best is not None and best.is_file()
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    assert "model.model.bert.encoder.layer.0.attention.self.query.weight" in state
    assert not [k for k in state if "_fsdp_wrapped_module" in k or "_checkpoint_wrapped" in k]

    scored = run_cli("eval", f"run={run_dir}", cwd=tmp_path)
    assert scored.returncode == 0, scored.output
    (eval_dir,) = sorted((run_dir / "eval").iterdir())
    assert read_json(eval_dir / "metrics.json")["metrics"]["test/f1"] >= 0.0
