"""The checks behind this recipe's verdict, on the seeds' finished runs (no training):

1. Evaluation: conlleval's F1 (the CoNLL script's definition, PyPI `conlleval`) on each run's
   test_predictions.conll against seqeval's test/f1 in its metrics.json, on the BIOES tags
   as written and after converting them back to IOB2.
2. Vocabulary: test F1 with fabricx's word vocabulary (train.txt's words, lower-cased,
   digits folded to 0, one shared unknown vector) against the vocabulary of the paper's
   code (LasagneNLP, `--embedding random --oov embedding`: case-sensitive word forms of
   train, dev and test, each with its own random vector uniform in +-sqrt(3/dim), so a
   word seen only in dev or test keeps a vector training never touched). The second is
   emulated on the trained weights: every test token whose exact form is not in train.txt
   gets a fresh random vector.

    python recipes/conll2003_blstm_cnn_crf/check_verdict.py RUN_DIR [RUN_DIR ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import torch


def conlleval_agreement(run_dir: Path) -> dict[str, float]:
    from conlleval import evaluate

    lines = (run_dir / "test_predictions.conll").read_text().splitlines()
    seqeval_f1 = json.loads((run_dir / "metrics.json").read_text())["metrics"]["test/f1"]
    bioes = evaluate(lines)["overall"]["chunks"]["evals"]["f1"]
    iob2 = evaluate([_to_iob2(line) for line in lines])["overall"]["chunks"]["evals"]["f1"]
    return {"seqeval": seqeval_f1, "conlleval_bioes": bioes, "conlleval_iob2": iob2}


def _to_iob2(line: str) -> str:
    if not line.strip():
        return line
    word, *tags = line.split()
    swap = {"E": "I", "S": "B"}
    return " ".join([word, *(swap.get(t[0], t[0]) + t[1:] if t != "O" else t for t in tags)])


@torch.no_grad()
def vocabulary_effect(run_dir: Path, seed: int = 0) -> dict[str, Any]:
    from seqeval.metrics import f1_score

    from fabricx.data.conll_words import UNK
    from fabricx.data.labels import IGNORE
    from fabricx.tasks.crf import crf_decode
    from fabricx.verbs.finished_run import open_run

    with tempfile.TemporaryDirectory() as out:
        ctx = open_run(run_dir, Path(out), accelerator="cpu")
        ctx.use_checkpoint()
    dm, task = ctx.datamodule, ctx.task.eval()
    dm.setup("test")
    train_forms = {w for s in dm.sentences["train"] for w in s.tokens}
    test = dm.sentences["test"]
    unseen = sorted({w for s in test for w in s.tokens} - train_forms)
    embed = task.model.word_embed
    bound = math.sqrt(3.0 / embed.embedding_dim)
    generator = torch.Generator().manual_seed(seed)
    fresh = (torch.rand(len(unseen), embed.embedding_dim, generator=generator) * 2 - 1) * bound
    paper_ids = {w: embed.num_embeddings + i for i, w in enumerate(unseen)}

    def f1(remap: bool) -> float:
        y_true, y_pred, start = [], [], 0
        for batch in dm.test_dataloader():
            size = batch["labels"].shape[0]
            if remap:
                for row, sentence in enumerate(test[start : start + size]):
                    for col, word in enumerate(sentence.tokens):
                        if word in paper_ids:
                            batch["word_ids"][row, col] = paper_ids[word]
            start += size
            inputs, target = task.split_batch(batch)
            tags = crf_decode(task.crf, task.model(**inputs), target)
            for pred, gold in zip(tags.tolist(), target.tolist(), strict=True):
                kept = [i for i, g in enumerate(gold) if g != IGNORE]
                y_true.append([task.labels[gold[i]] for i in kept])
                y_pred.append([task.labels[pred[i]] for i in kept])
        return float(f1_score(y_true, y_pred))

    fabricx_f1 = f1(remap=False)
    trained = embed.weight.data
    task.model.word_embed = torch.nn.Embedding.from_pretrained(torch.cat([trained, fresh]))
    paper_f1 = f1(remap=True)
    tokens = [w for s in test for w in s.tokens]
    return {
        "fabricx_vocabulary_f1": fabricx_f1,
        "paper_vocabulary_f1": paper_f1,
        "test_tokens": len(tokens),
        "test_tokens_unseen_exact_form": sum(w in paper_ids for w in tokens),
        "test_tokens_unseen_normalized": sum(
            row["word_ids"].count(UNK) for row in dm.samples("test")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {}
    for run_dir in args.runs:
        report[str(run_dir)] = {**conlleval_agreement(run_dir), **vocabulary_effect(run_dir)}
        print(run_dir, json.dumps(report[str(run_dir)], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
