"""Export targets measured end to end: parity, metric change and speed per artifact.

    python benchmarks/export_bench.py                          # digits MLP + tiny BERT on synthetic NER
    python benchmarks/export_bench.py --conll ../shared/data/conll2003 --bert-epochs 1

Runs `fabricx train ... export=[onnx,onnx_fp16,onnx_int8]` as a user would, for the digits
MLP and for a 2-layer BERT built from config on CoNLL data (a copy you point at, with a
whole-word vocabulary made from its train split; else small synthetic files). Prints and
writes benchmarks/results/export_bench.{json,md}. A harness, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = "export=[onnx,onnx_fp16,onnx_int8]"


def fabricx(args: list[str], cwd: Path) -> Path:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "fabricx", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"fabricx {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return max((cwd / "runs" / "default").iterdir(), key=lambda p: p.stat().st_mtime)


def word_vocab(train: Path, out: Path, min_count: int = 2) -> int:
    """A whole-word WordPiece vocabulary from a CoNLL train file (no pretrained tokenizer here)."""
    counts = Counter(line.split()[0] for line in train.read_text().splitlines() if line.split())
    words = sorted(w for w, c in counts.items() if c >= min_count and w != "-DOCSTART-")
    out.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    return 5 + len(words)


def synthetic_conll(folder: Path) -> None:
    rng = random.Random(0)
    names, places, words = (
        ["John", "Mary", "Anna", "Peter"],
        ["Paris", "Tokyo", "Lagos"],
        ["met", "in", "the", "said"],
    )
    folder.mkdir(parents=True)
    for name, count in (("train.txt", 400), ("valid.txt", 100), ("test.txt", 100)):
        lines = []
        for _ in range(count):
            for _ in range(rng.randint(3, 12)):
                kind = rng.random()
                pair = (
                    (rng.choice(names), "B-PER")
                    if kind < 0.25
                    else (rng.choice(places), "B-LOC")
                    if kind < 0.4
                    else (rng.choice(words), "O")
                )
                lines.append(f"{pair[0]} {pair[1]}")
            lines.append("")
        (folder / name).write_text("\n".join(lines))


def summarize(run_dir: Path) -> dict:
    verify = json.loads((run_dir / "export" / "verify.json").read_text())
    bench = json.loads((run_dir / "bench.json").read_text())
    record = json.loads((run_dir / "metrics.json").read_text())
    return {
        "metric": verify["metric"],
        "eager": verify["eager_fp32"],
        "artifacts": {
            t: {"max_abs_diff": max(p["max_abs_diff"] for p in a["parity"]), "metric": a["metric"],
                "metric_change": a["metric_change"], "shapes": [p["shape"] for p in a["parity"]]}
            for t, a in verify["artifacts"].items()
        },
        "bench": bench["rows"],
        "test_metric": record["metric"],
    }  # fmt: skip


def markdown(name: str, s: dict) -> list[str]:
    lines = [f"## {name}", "", f"{s['metric']} eager fp32: {s['eager']:.4f}", "",
             "| artifact | max abs diff | metric | change | shapes checked |", "|---|---:|---:|---:|---|"]  # fmt: skip
    for t, a in s["artifacts"].items():
        lines.append(
            f"| {t} | {a['max_abs_diff']:.2e} | {a['metric']:.4f} | {a['metric_change']:+.4f} | {a['shapes']} |"
        )
    lines += [
        "",
        "| runtime | batch | p50 ms | samples/s | vs eager fp32 |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in s["bench"]:
        lines.append(
            f"| {r['runtime']} | {r['batch_size']} | {r['p50_ms']:.3f} | {r['throughput']:,.0f} | {r['speedup_vs_eager_fp32']:.2f}x |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conll", type=Path, help="a CoNLL-2003 folder (train/valid/test.txt)")
    parser.add_argument("--bert-epochs", type=int, default=3)
    args = parser.parse_args()
    results, lines = {}, ["# fabricx export targets (CPU)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        results["digits_mlp"] = summarize(fabricx(["train", TARGETS, "logger=csv"], cwd))
        data = args.conll.resolve() if args.conll else cwd / "synthetic"
        if not args.conll:
            synthetic_conll(data)
        vocab = cwd / "vocab.txt"
        size = word_vocab(data / "train.txt", vocab)
        bert = (
            "model.config={hidden_size:64,num_hidden_layers:2,num_attention_heads:2,"
            f"intermediate_size:128,vocab_size:{size},max_position_embeddings:256}}"
        )
        run = fabricx([
            "train", "data=conll2003", f"data.path={data}", f"data.tokenizer={vocab}",
            "model=hf_token_classifier", bert, "task=token_classification",
            f"trainer.max_epochs={args.bert_epochs}", TARGETS, "logger=csv", "bench.batch_sizes=[1,8,64]",
        ], cwd)  # fmt: skip
        results["tiny_bert_ner"] = summarize(run)
        results["tiny_bert_ner"]["data"] = str(data)
    for name, summary in results.items():
        lines += markdown(name, summary)
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export_bench.md").write_text(report)
    (RESULTS / "export_bench.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
