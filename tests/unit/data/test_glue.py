"""GLUE SST-2: the TSV reader, the datamodule, the MD5 download and zip unpacking, the
sequence classifier and its ONNX export (end to end through the CLI: tests/e2e/test_text.py).

Every file is written by the tests in the real GLUE format; downloads go to `file://` URLs.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import torch

from fabricx.data import glue
from fabricx.data.download import extract_zip, fetch
from fabricx.data.glue import GlueSst2DataModule, read_sst2_tsv
from fabricx.errors import ConfigError, DataError, FabricxError
from tests.helpers.glue_files import VOCAB, write_sst2

# --- reading -------------------------------------------------------------------------------


def test_reader_keeps_quotes_and_reads_every_row(tmp_path: Path):
    path = tmp_path / "dev.tsv"
    path.write_text('sentence\tlabel\nit \'s a "good" film \t1\nthe plot is dull \t0\n')
    sentences, labels = read_sst2_tsv(path)
    # Quoting is off: a bare quote is text, not the start of a quoted field.
    assert sentences == ['it \'s a "good" film ', "the plot is dull "]
    assert labels == [1, 0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"bad\.tsv: the file is empty \(no header line\)"),
        ("sentence\tlabel\n", r"bad\.tsv: only a header, no rows"),
        ("index\tsentence\n0\tgood film\n", r"bad\.tsv: line 1: header is \['index', 'sentence'\]"),
        ("sentence\tlabel\na\t1\nb\t0\textra\n", r"bad\.tsv: line 3: 3 tab-separated columns"),
        ("sentence\tlabel\na\t1\nthe film was cut of", r"bad\.tsv: line 3: 1 tab-separated col"),
        ("sentence\tlabel\na\t1\n\nb\t0\n", r"bad\.tsv: line 3: 0 tab-separated columns"),
        ("sentence\tlabel\na\t2\n", r"bad\.tsv: line 2: label '2' is not 0 or 1"),
        ("sentence\tlabel\na\t1\nb\t", r"bad\.tsv: line 3: label '' is not 0 or 1"),
        ("sentence\tlabel\n \t1\n", r"bad\.tsv: line 2: the sentence is empty"),
    ],
    ids=["empty", "header-only", "test-header", "columns", "truncated", "blank", "label",
         "cut-label", "empty-sentence"],
)  # fmt: skip
def test_corrupt_files_name_the_file_line_and_fix(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        read_sst2_tsv(path)
    assert any(fix in str(err.value) for fix in ("download it again", "fix", "data.path"))


def test_reader_refuses_bytes_that_are_not_utf8(tmp_path: Path):
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"sentence\tlabel\nok\t1\n\xff\xfe broken\t0\n")
    with pytest.raises(DataError, match=r"bad\.tsv: line \d+: cannot read it as UTF-8"):
        read_sst2_tsv(path)


def test_missing_file_names_it_and_says_how_to_get_it(tmp_path: Path):
    with pytest.raises(DataError, match=r"train\.tsv: no such file.*data\.download=true"):
        read_sst2_tsv(tmp_path / "train.tsv")


# --- the datamodule ------------------------------------------------------------------------


def _datamodule(folder: Path, **kwargs) -> GlueSst2DataModule:
    kwargs = {"val_size": 50, "batch_size": 8, "eval_batch_size": 8, **kwargs}
    data = GlueSst2DataModule(str(folder), str(folder / "vocab.txt"), **kwargs)
    data.setup()
    return data


def test_val_is_held_out_of_train_and_test_is_dev(tmp_path: Path):
    folder = write_sst2(tmp_path / "sst2")
    data = _datamodule(folder)
    assert len(data.encoded["val"]) == 50
    assert len(data.encoded["train"]) == 150
    assert len(data.encoded["test"]) == 40  # dev.tsv: the published number is dev accuracy
    # Together, train and val are train.tsv, every sentence once.
    sentences, labels = read_sst2_tsv(folder / "train.tsv")
    expected = sorted(
        (data.tokenizer(s, return_token_type_ids=False)["input_ids"], y)
        for s, y in zip(sentences, labels, strict=True)
    )
    rows = data.encoded["train"] + data.encoded["val"]
    split = sorted((r["input_ids"], r["labels"]) for r in rows)
    assert split == expected
    unk = data.tokenizer.unk_token_id
    assert all(unk not in r["input_ids"] for split in data.encoded.values() for r in split)


def test_batches_are_dicts_padded_to_their_longest_sentence(tmp_path: Path):
    data = _datamodule(write_sst2(tmp_path / "sst2"))
    widths = set()
    for batch in data.test_dataloader():
        assert set(batch) == {"input_ids", "attention_mask", "labels"}
        assert batch["labels"].dtype == torch.long and batch["labels"].shape == (8,)
        lengths = batch["attention_mask"].sum(dim=1)
        assert batch["input_ids"].shape[1] == lengths.max()  # padded per batch, not to max_length
        widths.add(batch["input_ids"].shape[1])
        pad = batch["attention_mask"] == 0
        assert (batch["input_ids"][pad] == data.tokenizer.pad_token_id).all()
    assert len(widths) > 1


def test_truncation_at_max_length(tmp_path: Path):
    data = _datamodule(write_sst2(tmp_path / "sst2"), max_length=6)
    assert max(len(r["input_ids"]) for r in data.encoded["train"]) == 6
    assert all(r["input_ids"][-1] == data.tokenizer.sep_token_id for r in data.encoded["train"])


def test_split_and_shuffle_follow_the_seed(tmp_path: Path):
    folder = write_sst2(tmp_path / "sst2")
    a, b, c = _datamodule(folder, seed=1), _datamodule(folder, seed=1), _datamodule(folder, seed=2)
    assert a.encoded == b.encoded
    assert a.encoded["val"] != c.encoded["val"]
    first_a, first_b = next(iter(a.train_dataloader())), next(iter(b.train_dataloader()))
    assert all(torch.equal(first_a[k], first_b[k]) for k in first_a)


def test_bad_settings_are_data_or_config_errors(tmp_path: Path):
    folder = write_sst2(tmp_path / "sst2")
    # A val_size the file cannot hold is found by reading it: a data error (exit status 6).
    with pytest.raises(DataError, match=r"data\.val_size=200 but .*train\.tsv has 200"):
        _datamodule(folder, val_size=200)
    # SST-2's two classes are in the constructor's signature (Literal[2]): refused as config.
    from fabricx.launch.compose import validate

    sst2 = [
        "data=glue_sst2", f"data.path={folder}", "data.tokenizer=x", "data.num_classes=3",
        "model=hf_sequence_classifier", "model.pretrained=x", "task=classification",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"data\.num_classes=3: expected Literal\[2\]"):
        validate("train", sst2)


def test_a_missing_dev_file_names_it(tmp_path: Path):
    folder = write_sst2(tmp_path / "sst2")
    (folder / "dev.tsv").unlink()
    with pytest.raises(DataError, match=r"dev\.tsv: no such file"):
        _datamodule(folder)


# --- download and unpacking ------------------------------------------------------------------


def _zip_folder(folder: Path, archive: Path, prefix: str = "SST-2/") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("train.tsv", "dev.tsv", "test.tsv"):
            zf.write(folder / name, prefix + name)
    return archive


def test_fetch_checks_an_md5_instead_of_a_sha256(tmp_path: Path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"glue bytes" * 100)
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "SST-2.zip"
    assert fetch(source.as_uri(), dest, md5=md5.upper()) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert fetch(source.as_uri(), dest, md5=md5) == dest  # present and verified: kept
    with pytest.raises(DataError, match=rf"SST-2.zip: md5 is {md5}, expected {'0' * 32}"):
        fetch(source.as_uri(), dest, md5="0" * 32)
    other = tmp_path / "out" / "other.zip"
    with pytest.raises(DataError, match=rf"has md5 {md5}, expected {'0' * 32}; nothing"):
        fetch(source.as_uri(), other, md5="0" * 32)
    assert not other.exists()
    with pytest.raises(FabricxError, match="exactly one checksum"):
        fetch(source.as_uri(), other)
    with pytest.raises(FabricxError, match="exactly one checksum"):
        fetch(source.as_uri(), other, "a" * 64, md5=md5)


def test_download_fetches_unpacks_and_reads_the_archive(tmp_path: Path, monkeypatch):
    archive = _zip_folder(write_sst2(tmp_path / "src"), tmp_path / "SST-2.zip")
    monkeypatch.setattr(glue, "SST2_URL", archive.as_uri())
    monkeypatch.setattr(glue, "SST2_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    root = tmp_path / "glue"
    data = GlueSst2DataModule(str(root), str(tmp_path / "src" / "vocab.txt"), download=True,
                              val_size=20)  # fmt: skip
    data.prepare_data()
    assert (root / "SST-2.zip").is_file() and (root / "SST-2" / "dev.tsv").is_file()
    data.setup()
    assert len(data.encoded["test"]) == 40 and len(data.encoded["train"]) == 180
    monkeypatch.setattr(glue, "SST2_URL", (tmp_path / "gone.zip").as_uri())
    data.prepare_data()  # the files are there: nothing is downloaded again


def test_extract_zip_refuses_members_outside_the_folder(tmp_path: Path):
    for name in ("../escaped.txt", "/abs/escaped.txt", "SST-2/../../escaped.txt"):
        archive = tmp_path / "evil.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("SST-2/dev.tsv", "sentence\tlabel\n")
            zf.writestr(name, "hi")
        with pytest.raises(DataError, match=rf"member '{name}' lies outside"):
            extract_zip(archive, tmp_path / "out")
        assert not (tmp_path / "escaped.txt").exists()
        assert not (tmp_path / "out" / "SST-2").exists()  # refused before anything is written
    truncated = tmp_path / "cut.zip"
    whole = _zip_folder(write_sst2(tmp_path / "src"), tmp_path / "whole.zip").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.zip: cannot unpack .*download it again"):
        extract_zip(truncated, tmp_path / "out")


# --- the model and the task -----------------------------------------------------------------


# BERT (the e2e test's) and DistilBERT (the recipe's), each at toy size, from config.
ARCHITECTURES = {
    "bert": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 32},
    "distilbert": {"dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 32},
}  # fmt: skip


def _tiny_classifier(model_type: str = "bert"):
    from fabricx.models.hf import HFSequenceClassifier

    arch = {**ARCHITECTURES[model_type], "vocab_size": len(VOCAB), "max_position_embeddings": 32}
    torch.manual_seed(0)
    return HFSequenceClassifier(num_labels=2, model_type=model_type, config=arch)


def test_hf_sequence_classifier_forward_backward():
    model = _tiny_classifier()
    ids = torch.randint(0, len(VOCAB), (3, 7))
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    assert logits.shape == (3, 2)
    logits.sum().backward()
    assert model.model.classifier.weight.grad is not None
    assert model.export_dynamic_axes == {0: "batch", 1: "sequence"}


@pytest.mark.parametrize("model_type", list(ARCHITECTURES))
def test_onnx_export_matches_eager_at_two_batch_sizes_and_lengths(tmp_path: Path, model_type):
    from fabricx.export.onnx import export_onnx
    from fabricx.export.parity import check_cases
    from fabricx.export.runtimes import OrtRunner

    model = _tiny_classifier(model_type).eval()
    path = tmp_path / "model.onnx"

    def inputs(batch: int, length: int) -> dict[str, torch.Tensor]:
        mask = torch.ones(batch, length, dtype=torch.long)
        mask[0, length // 2 :] = 0  # one padded row, as in a real batch
        return {"input_ids": torch.randint(0, len(VOCAB), (batch, length)), "attention_mask": mask}

    export_onnx(model, inputs(4, 9), path, dynamic_axes=model.export_dynamic_axes)
    cases = [inputs(b, t) for b in (2, 5) for t in (4, 17)]
    results = check_cases(model, OrtRunner(path), cases, atol=1e-4, rtol=1e-3)
    assert all(r.passed for r in results), results
    assert {tuple(r.shape) for r in results} == {(2, 4), (2, 17), (5, 4), (5, 17)}


def test_classification_task_takes_dict_and_tuple_batches():
    from fabricx.tasks.classification import ClassificationTask

    ids, mask, y = torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 5), torch.tensor([0, 1])
    inputs, target = ClassificationTask.split_batch(
        {"input_ids": ids, "attention_mask": mask, "labels": y}
    )
    assert set(inputs) == {"input_ids", "attention_mask"} and target is y
    x = torch.randn(2, 3)
    assert ClassificationTask.split_batch((x, y)) == ({"x": x}, y)

    task = ClassificationTask(_tiny_classifier(), torch.optim.AdamW, num_classes=2)
    assert task.export_dynamic_axes == {0: "batch", 1: "sequence"}
    assert task.split_batch((x, y))[1] is y  # callable on the instance too, as the stages do
    assert task(**inputs).shape == (2, 2)  # forward passes the named tensors through
    linear = ClassificationTask(torch.nn.Linear(3, 2), torch.optim.AdamW, num_classes=2)
    assert linear.export_dynamic_axes is None  # images, features: the batch axis alone
    assert linear(x).shape == (2, 2)
