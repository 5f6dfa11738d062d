"""A tiny BERT token classifier built from config, end to end through the CLI: CoNLL data,
entity F1, and ONNX/fp16/INT8 exports verified at two sequence lengths."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import read_json, run_cli
from conll_files import TINY_BERT, write_conll

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
