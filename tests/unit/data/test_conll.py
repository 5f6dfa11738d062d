"""CoNLL reading and the CoNLL-2003 datamodule, on files the tests write."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fabricx.data.conll import entity_counts, read_conll, to_iob2
from fabricx.data.conll2003 import Conll2003DataModule, load_tokenizer
from fabricx.errors import DataError
from tests.helpers.conll_files import VOCAB, write_conll


def test_two_and_four_columns_iob1_and_docstart(tmp_path: Path):
    four = tmp_path / "four.txt"
    four.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n"
        "call NN I-NP O\n\nPeter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n"
    )
    two = tmp_path / "two.txt"
    two.write_text("EU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\nPeter B-PER\nBlackburn I-PER\n")
    for path in (four, two):
        sentences = read_conll(path)
        assert [s.tokens for s in sentences] == [
            ["EU", "rejects", "German", "call"],
            ["Peter", "Blackburn"],
        ]
        assert sentences[0].tags == ["B-ORG", "O", "B-MISC", "O"]  # IOB1 -> IOB2
        assert sentences[1].tags == ["B-PER", "I-PER"]
    assert entity_counts(read_conll(four)) == {"ORG": 1, "MISC": 1, "PER": 1}


def test_iob1_to_iob2_starts_a_new_entity_on_a_type_change():
    assert to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-ORG", "B-ORG"]) == [
        "B-PER", "I-PER", "B-LOC", "O", "B-ORG", "B-ORG",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("EU B-ORG\nrejects O\nGer", r"bad\.txt:3: expected 2 columns .* found 1"),
        ("EU B-ORG\nrejects X-TAG\n", r"bad\.txt:2: 'X-TAG' is not an IOB tag"),
        ("\n\n-DOCSTART- O\n\n", r"bad\.txt: no sentences found"),
    ],
)
def test_corrupt_files_name_the_file_and_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_conll(path)


def test_missing_file_says_which(tmp_path: Path):
    with pytest.raises(DataError, match=r"train\.txt: no such file"):
        read_conll(tmp_path / "train.txt")


def test_vocab_file_tokenizer_loads_every_token(tmp_path: Path):
    folder = write_conll(tmp_path / "data")
    tokenizer = load_tokenizer(str(folder / "vocab.txt"))
    assert tokenizer.vocab_size == len(VOCAB)
    assert tokenizer.convert_tokens_to_ids(["John", "with"]) == [
        VOCAB.index("John"),
        VOCAB.index("with"),
    ]
    assert tokenizer.tokenize("Berliners") == ["Berlin", "##er", "##s"]


def test_first_subtoken_carries_the_label_and_batches_pad_to_their_longest(tmp_path: Path):
    folder = write_conll(tmp_path / "data")
    (folder / "test.txt").write_text("Berliners B-MISC\nmet O\nJohn B-PER\n\nParis B-LOC\n")
    data = Conll2003DataModule(str(folder), str(folder / "vocab.txt"), eval_batch_size=2)
    data.setup()
    first = data.encoded["test"][0]
    tokens = data.tokenizer.convert_ids_to_tokens(first["input_ids"])
    assert tokens == ["[CLS]", "Berlin", "##er", "##s", "met", "John", "[SEP]"]
    misc, per = data.labels.index("B-MISC"), data.labels.index("B-PER")
    assert first["labels"] == [-100, misc, -100, -100, 0, per, -100]
    batch = next(iter(data.test_dataloader()))
    assert batch["input_ids"].shape == (2, 7)  # padded to this batch's longest sentence
    assert batch["labels"][1].tolist() == [
        -100,
        data.labels.index("B-LOC"),
        -100,
        -100,
        -100,
        -100,
        -100,
    ]
    assert batch["attention_mask"][1].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert not (batch["input_ids"] == data.tokenizer.unk_token_id).any()


def test_unknown_tag_is_a_data_error_naming_the_line(tmp_path: Path):
    folder = write_conll(tmp_path / "data")
    (folder / "valid.txt").write_text("EU B-ORG\nsays O\n\nParis B-GPE\n")
    data = Conll2003DataModule(str(folder), str(folder / "vocab.txt"))
    with pytest.raises(DataError, match=r"valid.txt:4: tag 'B-GPE' .* not in data.labels"):
        data.check_data()  # before a run: no tokenizer needed
    with pytest.raises(DataError, match=r"valid.txt:4: tag 'B-GPE'"):
        data.setup()


def test_hf_token_classifier_from_config_trains_a_step():
    from fabricx.models.hf import HFTokenClassifier

    arch = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 30}
    model = HFTokenClassifier(num_labels=9, config={**arch, "intermediate_size": 32})
    ids = torch.randint(0, 30, (3, 7))
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    assert logits.shape == (3, 7, 9)
    logits.sum().backward()
    assert model.model.classifier.weight.grad is not None
