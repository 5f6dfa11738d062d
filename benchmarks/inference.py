"""Inference: eager PyTorch against ONNX Runtime and INT8 ONNX Runtime, by batch size.

For the digits MLP, LeNet-5 and a small BERT token classifier (2 layers, hidden 128, built
from config with a vocabulary the harness writes), each trained briefly with `fabricx train
... stages=[fit,export,bench] export=[onnx,onnx_int8]` as a user runs it. The numbers are
the bench stage's own (bench.json): p50 latency per call on one real test batch repeated to
each size. On a GPU the same runs add eager at the training precision and ONNX Runtime's CUDA
provider where it is installed.

    python -m benchmarks --only inference
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import run_fabricx
from benchmarks.synthetic import write_conll, write_mnist, write_vocab

BATCH_SIZES = [1, 8, 64]


def cases(tmp: Path) -> dict[str, list[str]]:
    """name -> overrides for the three models."""
    mnist = write_mnist(tmp / "mnist", n_train=2048, n_test=512)
    conll = write_conll(tmp / "conll")
    size = write_vocab(conll, tmp / "vocab.txt")
    bert = ("model.config={hidden_size:128,num_hidden_layers:2,num_attention_heads:2,"
            f"intermediate_size:512,vocab_size:{size},max_position_embeddings:128}}")  # fmt: skip
    return {
        "digits_mlp": ["data=digits", "model=mlp"],
        "lenet5": ["data=mnist", f"data.path={mnist}", "data.val_size=512", "model=lenet5"],
        "bert_tiny_ner": ["data=conll2003", f"data.path={conll}", f"data.tokenizer={tmp / 'vocab.txt'}",
                          "model=hf_token_classifier", bert, "task=token_classification"],
    }  # fmt: skip


def run(quick: bool, device: str = "cpu") -> dict[str, Any]:
    steps = 20 if quick else 100
    seconds = 0.3 if quick else 1.0
    accelerator = "gpu" if device == "cuda" else "cpu"
    precision = ["precision=bf16-mixed"] if device == "cuda" else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for name, overrides in cases(tmp_path).items():
            args = ["train", *overrides, *precision, "stages=[fit,export,bench]",
                    "export=[onnx,onnx_int8]", f"trainer.max_steps={steps}",
                    "trainer.max_epochs=-1", f"trainer.accelerator={accelerator}",
                    f"bench.batch_sizes={BATCH_SIZES}".replace(" ", ""),
                    f"bench.seconds_per_case={seconds}", "logger=none"]  # fmt: skip
            _, run_dir = run_fabricx(args, tmp_path)
            bench = json.loads((run_dir / "bench.json").read_text())
            for r in bench["rows"]:
                rows.append({
                    "model": name, "runtime": r["runtime"], "batch_size": r["batch_size"],
                    "p50_ms": r["p50_ms"], "throughput": r["throughput"],
                    "vs_eager_fp32": r["speedup_vs_eager_fp32"],
                    "vs_ort_fp32": r.get("speedup_vs_ort_cpu_fp32"), "device": bench["device"],
                })  # fmt: skip
    return {"rows": rows}
