"""Text models end to end through the CLI: a tiny BERT token classifier built from config
(CoNLL data, entity F1, ONNX/fp16/INT8 exports verified at two sequence lengths), the
from-scratch BiLSTM tagger, and a tiny BERT on GLUE SST-2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import read_json, run_cli
from tests.helpers.conll_files import TINY_BERT, write_conll
from tests.helpers.glue_files import TINY_BERT as TINY_BERT_SST2
from tests.helpers.glue_files import write_sst2

pytestmark = pytest.mark.slow


def test_tiny_bert_ner_trains_exports_and_verifies(tmp_path: Path):
    data = write_conll(tmp_path / "conll")
    result = run_cli(
        "train", "data=conll2003", f"data.path={data}", f"data.tokenizer={data / 'vocab.txt'}",
        "data.eval_batch_size=16", "model=hf_token_classifier", TINY_BERT,
        "task=token_classification", "trainer.max_epochs=4", "export=[onnx,onnx_fp16,onnx_int8]",
        "logger=csv", "bench.batch_sizes=[1,8]", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["metric"]["name"] == "test/f1"
    assert record["metric"]["value"] > 0.3  # it learns the synthetic entities
    verify = read_json(run_dir / "export" / "verify.json")
    for target, artifact in verify["artifacts"].items():
        assert artifact["passed"], target
        shapes = {tuple(p["shape"]) for p in artifact["parity"]}
        assert len({s[1] for s in shapes}) == 2, f"{target}: one sequence length only: {shapes}"
        assert len({s[0] for s in shapes}) == 2, f"{target}: one batch size only: {shapes}"
        assert abs(artifact["metric_change"]) <= artifact["tolerance"]["max_metric_drop"]
    bench = read_json(run_dir / "bench.json")
    assert {r["runtime"] for r in bench["rows"]} == {
        "eager_fp32",
        "ort_cpu_fp32",
        "ort_cpu_fp16",
        "ort_cpu_int8",
    }


def test_bilstm_ner_trains_exports_and_eval_uses_the_checkpoint_vocabulary(tmp_path: Path):
    data = write_conll(tmp_path / "conll")
    result = run_cli(
        "train", "data=conll2003_words", f"data.path={data}", "data.vocab_size=64",
        "data.batch_size=8", "data.eval_batch_size=8", "model=bilstm_tagger",
        "model.hidden_size=32", "model.word_dim=16", "task=token_classification",
        "trainer.max_epochs=4", "optim.lr=1e-2",
        "export=[onnx,onnx_int8]", "logger=csv", "bench.batch_sizes=[1,8]", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["metric"]["name"] == "test/f1" and record["metric"]["value"] > 0.5
    verify = read_json(run_dir / "export" / "verify.json")
    for target, artifact in verify["artifacts"].items():
        assert artifact["passed"], target
        assert len({p["shape"][1] for p in artifact["parity"]}) == 2, target  # two lengths

    # The training split changes after the run: eval must still score with the vocabulary
    # the weights were trained with (from the checkpoint), so the F1 stays what it was.
    train = data / "train.txt"
    train.write_text(train.read_text().replace("Paris", "Zanzibar"))
    result = run_cli("eval", f"run={run_dir}", "verify_onnx=false", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (eval_dir,) = sorted((run_dir / "eval").iterdir())
    rescored = read_json(eval_dir / "metrics.json")["metrics"]["test/f1"]
    assert rescored == pytest.approx(record["metric"]["value"], abs=1e-6)


def test_tiny_bert_sst2_trains_exports_and_verifies(tmp_path: Path):
    data = write_sst2(tmp_path / "sst2", sizes=(480, 200))
    result = run_cli(
        "train", "data=glue_sst2", f"data.path={data}", f"data.tokenizer={data / 'vocab.txt'}",
        "data.val_size=80", "data.batch_size=8", "data.eval_batch_size=16",
        "model=hf_sequence_classifier", TINY_BERT_SST2, "task=classification",
        # 150 steps at 2e-3: every one of 16 initializations tried learns the task, where
        # 75 steps at 3e-3 left one in five at chance.
        "optim.lr=2e-3", "scheduler.warmup_fraction=0.1", "trainer.max_epochs=3",
        "export=[onnx,onnx_int8]", "logger=csv",
        "stages=[fit,test,export,verify,summary]", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["metric"]["name"] == "test/acc"
    assert record["metric"]["value"] > 0.9  # the sentiment word gives the label away
    verify = read_json(run_dir / "export" / "verify.json")
    assert verify["passed"] and set(verify["artifacts"]) == {"onnx", "onnx_int8"}
    for target, artifact in verify["artifacts"].items():
        assert artifact["passed"], target
        shapes = {tuple(p["shape"]) for p in artifact["parity"]}
        assert len({s[1] for s in shapes}) == 2, f"{target}: one sequence length only: {shapes}"
        assert len({s[0] for s in shapes}) >= 2, f"{target}: one batch size only: {shapes}"
