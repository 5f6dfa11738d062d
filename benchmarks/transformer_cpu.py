"""Transformer-grade inference on CPU: eager against ONNX Runtime, its transformer optimizer
and dynamic INT8, on a BERT-base-shaped token classifier.

Speed: BERT-base's shape (12 layers, hidden 768, 12 heads, intermediate 3072, vocabulary
30522), random weights (speed does not depend on them), sequence 128, batch 1 and 8, built
with fabricx's model=hf_token_classifier and exported by fabricx's own export functions, as
the export stage does for a transformer: model.onnx (portable), model.optimized.onnx (ONNX
Runtime's transformer optimizer), model.int8.onnx (dynamic INT8 of the optimized graph).
torch and ONNX Runtime get the same number of threads (intra-op; inter-op 1); the runtimes
are called round robin, so a neighbour's load on a shared machine falls on all alike.

Accuracy: a small BERT (2 layers, hidden 128) trained by `fabricx train ...
export=[onnx,onnx_int8]` on CoNLL-2003 (the copy in ../shared/data/conll2003 when there is
one, with a whole-word vocabulary of its train split; else synthetic files); the test F1
drop of INT8 (and of the optimized fp32 graph) is verify.json's own.

    python -m benchmarks --only transformer
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import fabricx_env
from benchmarks.export_bench import word_vocab
from benchmarks.synthetic import write_conll

BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512}  # fmt: skip
SEQUENCE = 128
BATCH_SIZES = [1, 8]
CONLL = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"
SMALL_BERT = ("model.config={hidden_size:128,num_hidden_layers:2,num_attention_heads:2,"
              "intermediate_size:512,vocab_size:%d,max_position_embeddings:256}")  # fmt: skip


def run(quick: bool, device: str = "cpu") -> dict[str, Any]:
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows, build = speed(tmp_path / "base", quick, threads)
        accuracy = metric_drop(tmp_path, quick)
    notes = (
        f"BERT-base shape, random weights, sequence {SEQUENCE}; torch threads = ONNX Runtime "
        f"intra-op threads = {threads}; export {build['export_s']:.0f} s, optimize "
        f"{build['optimize_s']:.0f} s, quantize {build['quantize_s']:.0f} s; fused ops "
        f"{build['fused_ops']}. Small BERT on {accuracy['data']}: test F1 eager "
        f"{accuracy['eager']:.4f}, ORT optimized {accuracy['onnx_optimized']:+.4f}, "
        f"INT8 (dynamic) {accuracy['onnx_int8']:+.4f} (change vs eager)"
    )
    return {"rows": rows, "build": build, "accuracy": accuracy, "threads": threads, "notes": notes}


def speed(folder: Path, quick: bool, threads: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """p50 latency of eager and the three ONNX files at each batch size; the build's times."""
    import onnxruntime as ort

    from fabricx.export.family import detect_family
    from fabricx.export.onnx import export_onnx
    from fabricx.export.quantize import quantize_int8_dynamic
    from fabricx.export.transformer import optimize_transformer, prepare_for_fusion
    from fabricx.models.hf import HFTokenClassifier

    torch.manual_seed(0)
    model = HFTokenClassifier(9, config=BERT_BASE).eval()
    family = detect_family(model)
    build: dict[str, Any] = {"family": family.as_dict()}
    traced = copy.deepcopy(model)
    prepare_for_fusion(traced, family)  # as the export stage does for an optimized target
    example = inputs(2)
    start = time.perf_counter()
    export_onnx(traced, example, folder / "model.onnx", dynamic_axes={0: "batch", 1: "sequence"})
    build["export_s"] = time.perf_counter() - start
    del traced
    start = time.perf_counter()
    optimized = folder / "model.optimized.onnx"
    build["fused_ops"] = optimize_transformer(folder / "model.onnx", optimized, family)
    build["optimize_s"] = time.perf_counter() - start
    start = time.perf_counter()
    quantize_int8_dynamic(optimized, folder / "model.int8.onnx")
    build["quantize_s"] = time.perf_counter() - start

    def session(name: str) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])

    runtimes = {"eager_fp32": None, "ort_cpu_fp32": "model.onnx",
                "ort_cpu_fp32_optimized": "model.optimized.onnx",
                "ort_cpu_int8_dynamic": "model.int8.onnx"}  # fmt: skip
    sessions = {runtime: session(file) for runtime, file in runtimes.items() if file}
    # Round robin: each round calls every runtime once, so a neighbour's load on a shared
    # machine falls on all of them alike and the ratios stay fair. BERT-base at batch 8
    # takes seconds a call on 2 cores: few rounds.
    rounds = 5 if quick else 15
    rows = []
    for size in BATCH_SIZES:
        batch = inputs(size)
        feed = {name: t.numpy() for name, t in batch.items()}
        calls = {"eager_fp32": lambda batch=batch: model(**batch)}
        calls.update({r: (lambda s=s, f=feed: s.run(None, f)) for r, s in sessions.items()})
        times: dict[str, list[float]] = {runtime: [] for runtime in calls}
        with torch.inference_mode():
            for call in calls.values():  # warm-up
                call()
            for _ in range(rounds):
                for runtime, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[runtime].append((time.perf_counter() - start) * 1e3)
        for runtime, ms in times.items():
            rows.append({"model": "bert_base_tokens", "runtime": runtime, "batch_size": size,
                         "p50_ms": float(np.median(ms)), "min_ms": min(ms), "iters": len(ms)})  # fmt: skip
    p50 = {(r["runtime"], r["batch_size"]): r["p50_ms"] for r in rows}
    for r in rows:
        size = r["batch_size"]
        r["vs_eager_fp32"] = p50["eager_fp32", size] / r["p50_ms"]
        r["vs_ort_fp32"] = p50["ort_cpu_fp32", size] / r["p50_ms"]
        r["vs_ort_optimized"] = p50["ort_cpu_fp32_optimized", size] / r["p50_ms"]
    return rows, build


def inputs(batch: int) -> dict[str, torch.Tensor]:
    """Token ids and a full mask, (batch, SEQUENCE): BERT at its usual fine-tuning length."""
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(1000, BERT_BASE["vocab_size"], (batch, SEQUENCE), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def metric_drop(tmp: Path, quick: bool) -> dict[str, Any]:
    """Train the small BERT with export=[onnx,onnx_int8] and the default tolerances; the
    test F1 per file from verify.json (written before verify fails, if it does)."""
    real = (CONLL / "train.txt").is_file()
    data = CONLL if real else write_conll(tmp / "conll")
    vocab = tmp / "vocab.txt"
    size = word_vocab(data / "train.txt", vocab)
    steps = (["trainer.max_steps=300", "trainer.max_epochs=-1"] if quick
             else ["trainer.max_epochs=3"])  # fmt: skip
    args = ["train", "data=conll2003", f"data.path={data}", f"data.tokenizer={vocab}",
            "model=hf_token_classifier", SMALL_BERT % size, "task=token_classification",
            *steps, "optim.lr=1e-3", "stages=[fit,export,verify]",
            "export=[onnx,onnx_int8]", "logger=none"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fabricx", *args], cwd=tmp, env=fabricx_env(),
                          capture_output=True, text=True)  # fmt: skip
    found = sorted((tmp / "runs").glob("*/*/export/verify.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"fabricx {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    verify = json.loads(found[-1].read_text())
    artifacts = verify["artifacts"]
    int8 = artifacts["onnx_int8"]
    return {
        "data": f"CoNLL-2003 ({data})" if real else "synthetic CoNLL files",
        "seconds": time.perf_counter() - start,
        "metric": verify["metric"],
        "eager": verify["eager_fp32"],
        **{t: a["metric_change"] for t, a in artifacts.items()},
        "int8_method": int8["method"],
        "int8_max_abs_diff": max(p["max_abs_diff"] for p in int8["parity"]),
        "verify_passed_default_tolerances": {t: a["passed"] for t, a in artifacts.items()},
    }


def targets(section: dict[str, Any]) -> list[str]:
    """Issue 18's CPU targets: ORT optimized >= 2x eager, INT8 >= 1.5x ORT optimized fp32 (at
    each batch size), and INT8's test F1 within 1 point of eager on the trained small BERT."""
    out = []
    for r in section["rows"]:
        size = r["batch_size"]
        if r["runtime"] == "ort_cpu_fp32_optimized":
            ratio = r["vs_eager_fp32"]
            out.append(f"BERT-base batch {size}: ORT optimized >= 2x eager: {ratio:.2f}x -> "
                       f"{'met' if ratio >= 2.0 else 'NOT met'}")  # fmt: skip
        if r["runtime"] == "ort_cpu_int8_dynamic":
            ratio = r["vs_ort_optimized"]
            out.append(f"BERT-base batch {size}: INT8 >= 1.5x ORT optimized fp32: {ratio:.2f}x "
                       f"-> {'met' if ratio >= 1.5 else 'NOT met'}")  # fmt: skip
    accuracy = section.get("accuracy")
    if accuracy and "onnx_int8" in accuracy:
        drop = -accuracy["onnx_int8"] * 100
        out.append(f"small BERT INT8 test F1 drop within 1 point: {drop:.2f} points -> "
                   f"{'met' if drop <= 1.0 else 'NOT met'}")  # fmt: skip
    return out
