"""The BLSTM-CNN-CRF recipe (conll2003_blstm_cnn_crf) end to end on small CoNLL files the
test writes: trained through the CLI as a user types it, exported to ONNX and INT8 with the
CRF's transitions in the files, verified through ONNX Runtime; its test predictions scored by
the CoNLL script's own definition (conlleval) give seqeval's F1; killed mid-epoch and resumed,
it ends with the weights of the run never stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fabricx.data.labels import IGNORE
from tests.helpers.cli import read_json, run_cli
from tests.helpers.conll_files import write_conll
from tests.helpers.resume import kill_and_resume, max_weight_difference

pytestmark = pytest.mark.slow

# The recipe, shrunk to the test's data: 240 training sentences in batches of 10.
SMALL = ["recipe=conll2003_blstm_cnn_crf", "data.vocab_size=64", "model.hidden_size=16",
         "model.word_dim=16", "model.char_filters=8", "optim.lr=0.05"]  # fmt: skip


def test_recipe_trains_exports_with_its_crf_and_scores_as_conlleval(tmp_path: Path):
    data = write_conll(tmp_path / "conll")
    result = run_cli(
        "train", *SMALL, f"data.path={data}", "trainer.max_epochs=3",
        "export=[onnx,onnx_int8]", "logger=csv", "bench.batch_sizes=[1,8]", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs("conll2003_blstm_cnn_crf")
    record = read_json(run_dir / "metrics.json")
    f1 = record["metrics"]["test/f1"]
    assert f1 > 0.5  # it learns the synthetic entities
    assert record["metrics"]["fit/epochs"] == 3

    # The CoNLL script's definition on the file the run wrote agrees with seqeval's F1.
    from conlleval import evaluate

    predictions = run_dir / "test_predictions.conll"
    lines = predictions.read_text().splitlines()
    assert lines[0].split()[1:] and len(lines[0].split()) == 3  # word gold predicted
    assert any(line.split()[1].startswith(("E-", "S-")) for line in lines if line)  # BIOES
    scored = evaluate(lines)["overall"]["chunks"]["evals"]["f1"]
    assert scored == pytest.approx(f1, abs=1e-6)

    # report.html scores the same file per entity type (seqeval's report on it).
    page = (run_dir / "report.html").read_text()
    assert "F1 per entity type" in page and ">PER<" in page and f"{f1:.4f}" in page

    # Verified through ONNX Runtime: the runtime's emissions, decoded by the CRF.
    verify = read_json(run_dir / "export" / "verify.json")
    assert set(verify["artifacts"]) == {"onnx", "onnx_int8"}
    assert all(a["passed"] for a in verify["artifacts"].values()), verify
    assert verify["artifacts"]["onnx"]["metric"] == pytest.approx(f1, abs=1e-6)

    # A user holding only the file decodes it: the transitions travel in its metadata.
    _decoded_f1_from_the_file_alone(run_dir, data, record["metrics"]["test/f1_onnx_int8"])


def _decoded_f1_from_the_file_alone(run_dir: Path, data: Path, expected: float) -> None:
    import json

    import onnxruntime as ort
    from seqeval.metrics import f1_score

    from fabricx.data.conll2003 import CONLL2003_BIOES_LABELS
    from fabricx.data.conll_words import Conll2003WordsDataModule
    from fabricx.tasks.crf import crf_decode, crf_from_metadata

    session = ort.InferenceSession(
        str(run_dir / "export" / "model.int8.onnx"), providers=["CPUExecutionProvider"]
    )
    metadata = session.get_modelmeta().custom_metadata_map
    labels = json.loads(metadata["fabricx.labels"])
    assert labels == list(CONLL2003_BIOES_LABELS)
    crf = crf_from_metadata(metadata)
    checkpoint = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    saved = torch.load(checkpoint, weights_only=False)
    assert torch.equal(crf.transitions, saved["state_dict"]["crf.transitions"])

    dm = Conll2003WordsDataModule(str(data), labels=labels, tag_scheme="bioes", num_classes=17,
                                  vocab_size=64)  # fmt: skip
    dm.load_state_dict(saved["Conll2003WordsDataModule"])
    dm.check_data()
    y_true, y_pred = [], []
    for batch in dm.test_dataloader():
        inputs = {k: batch[k].numpy() for k in ("word_ids", "char_ids", "attention_mask")}
        (emissions,) = session.run(None, inputs)
        scored = torch.where(batch["attention_mask"].bool(), 0, IGNORE)
        tags = crf_decode(crf, torch.from_numpy(np.asarray(emissions)), scored)
        for row, gold in zip(tags.tolist(), batch["labels"].tolist(), strict=True):
            kept = [i for i, g in enumerate(gold) if g != IGNORE]
            y_true.append([labels[gold[i]] for i in kept])
            y_pred.append([labels[row[i]] for i in kept])
    assert f1_score(y_true, y_pred) == pytest.approx(expected, abs=1e-6)


def test_recipe_killed_mid_epoch_and_resumed_ends_with_the_same_weights(tmp_path: Path):
    # 240 sentences in batches of 10: 24 steps an epoch; a checkpoint every 5 steps.
    data = write_conll(tmp_path / "conll")
    args = [*SMALL, "experiment=default", f"data.path={data}", "trainer.max_epochs=2",
            "callbacks.checkpoint.every_n_train_steps=5", "stages=[fit]", "export=none",
            "logger=csv"]  # fmt: skip
    runs = kill_and_resume(tmp_path, args, steps_per_epoch=24, threads=1)
    diff = max_weight_difference(runs.uninterrupted, runs.resumed)
    print(f"BLSTM-CNN-CRF: killed at step {runs.killed_at_step}, max |weight diff| = {diff:.3g}")
    assert diff == 0.0
