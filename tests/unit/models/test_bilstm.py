"""The from-scratch NER path: CoNLL as word and character ids, the BiLSTM tagger with a
character CNN (a run whose vocabularies travel in its checkpoint: tests/e2e/test_text.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from fabricx.data.conll import read_conll, to_bioes
from fabricx.data.conll2003 import CONLL2003_BIOES_LABELS, IGNORE
from fabricx.data.conll_words import PAD, UNK, Conll2003WordsDataModule, build_vocab, normalize_word
from fabricx.errors import DataError, FabricxError
from fabricx.export.onnx import export_onnx
from fabricx.export.parity import check_cases
from fabricx.export.runtimes import OrtRunner
from fabricx.models.bilstm import BiLSTMTagger, ma_hovy_init, reversal_index, take_steps
from tests.helpers.conll_files import write_conll

# --- data ---------------------------------------------------------------------------------


def test_words_are_lowercased_with_digits_folded():
    assert normalize_word("Reuters") == "reuters"
    assert normalize_word("1996-08-22") == "0000-00-00"


def test_vocab_ranks_by_count_then_alphabet_and_caps_the_size():
    counts = Counter({"b": 3, "a": 3, "c": 5, "rare": 1})
    assert build_vocab(counts, size=10, min_freq=1) == ["<pad>", "<unk>", "c", "a", "b", "rare"]
    assert build_vocab(counts, size=4, min_freq=1) == ["<pad>", "<unk>", "c", "a"]
    assert build_vocab(counts, size=10, min_freq=2) == ["<pad>", "<unk>", "c", "a", "b"]


@pytest.fixture
def datamodule(tmp_path: Path) -> Conll2003WordsDataModule:
    dm = Conll2003WordsDataModule(
        str(write_conll(tmp_path / "conll")), vocab_size=200, max_word_length=5, batch_size=4
    )
    dm.setup("fit")
    return dm


def test_batches_pad_words_chars_and_labels(datamodule: Conll2003WordsDataModule):
    batch = next(iter(datamodule.val_dataloader()))
    words, chars, mask, labels = (
        batch[k] for k in ("word_ids", "char_ids", "attention_mask", "labels")
    )
    b, t = words.shape
    assert chars.shape == (b, t, 5)  # every word cut or padded to max_word_length
    assert mask.shape == labels.shape == (b, t)
    assert (words[mask == 0] == PAD).all() and (labels[mask == 0] == IGNORE).all()
    assert (labels[mask == 1] >= 0).all()  # word level: every real word is scored
    assert mask.sum(1).max() > t - 8 and t % 8 == 0  # the longest sentence, rounded up to 8
    first = datamodule.sentences["val"][0]
    assert mask[0].sum() == len(first.tokens)
    expected = [datamodule.chars.index(c) for c in first.tokens[0][:5]]
    assert chars[0, 0, : len(expected)].tolist() == expected


def test_unseen_words_map_to_unknown(datamodule: Conll2003WordsDataModule):
    datamodule.sentences["test"][0].tokens[0] = "Zyzzyva"
    batch = next(iter(datamodule.test_dataloader()))
    assert batch["word_ids"][0, 0] == UNK


def test_vocabularies_round_trip_through_state_dict(datamodule: Conll2003WordsDataModule):
    state = datamodule.state_dict()
    assert state["words"][:2] == ["<pad>", "<unk>"] and len(state["words"]) <= 200
    other = Conll2003WordsDataModule(str(datamodule.path), vocab_size=200, max_word_length=5)
    other.load_state_dict({"words": ["<pad>", "<unk>", "john"], "chars": state["chars"]})
    other.setup("test")  # keeps the loaded vocabularies, does not rebuild them
    batch = next(iter(other.test_dataloader()))
    assert set(batch["word_ids"].unique().tolist()) <= {PAD, UNK, 2}


def test_a_checkpoint_vocabulary_larger_than_the_config_is_refused(
    datamodule: Conll2003WordsDataModule,
):
    small = Conll2003WordsDataModule(str(datamodule.path), vocab_size=5)
    with pytest.raises(FabricxError, match=r"exceed data\.vocab_size=5"):
        small.load_state_dict(datamodule.state_dict())


def test_a_tag_outside_the_labels_is_a_data_error(tmp_path: Path):
    folder = write_conll(tmp_path / "conll")
    text = (folder / "valid.txt").read_text().replace("B-LOC", "B-GPE", 1)
    (folder / "valid.txt").write_text(text)
    with pytest.raises(DataError, match=r"valid.txt:\d+: tag 'B-GPE'"):
        Conll2003WordsDataModule(str(folder)).setup("fit")


def test_bioes_marks_each_entitys_last_word_and_single_words():
    iob2 = ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG"]
    assert to_bioes(iob2) == ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "S-ORG"]
    assert to_bioes([]) == [] and to_bioes(["O", "O"]) == ["O", "O"]


def test_bioes_scheme_reads_the_same_entities(tmp_path: Path):
    """The files hold IOB2; tag_scheme=bioes converts them, and seqeval finds the same
    entities in both forms."""
    from seqeval.metrics.sequence_labeling import get_entities

    folder = write_conll(tmp_path / "conll")
    dm = Conll2003WordsDataModule(
        str(folder), labels=CONLL2003_BIOES_LABELS, tag_scheme="bioes", num_classes=17
    )
    dm.setup("fit")
    iob2 = read_conll(folder / "train.txt")
    assert [s.tags for s in dm.sentences["train"]] == [to_bioes(s.tags) for s in iob2]
    assert any(t.startswith("S-") for s in dm.sentences["train"] for t in s.tags)
    for bioes, plain in zip(dm.sentences["train"], iob2, strict=True):
        assert get_entities(bioes.tags) == get_entities(plain.tags)
    ids = {t for row in dm.samples("train") for t in row["labels"]}
    assert {dm.labels[i] for i in ids} == {"O", "B-PER", "E-PER", "S-LOC", "S-ORG"}


def test_bioes_with_the_iob2_labels_names_the_scheme_and_the_fix(tmp_path: Path):
    folder = write_conll(tmp_path / "conll")
    with pytest.raises(DataError, match=r"train.txt:\d+: tag '[SE]-\w+' \(BIOES\) is not in"):
        Conll2003WordsDataModule(str(folder), tag_scheme="bioes").setup("fit")


# --- model --------------------------------------------------------------------------------


def _batch(lengths: list[int], width: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    mask = (torch.arange(t)[None] < torch.tensor(lengths)[:, None]).long()
    words = torch.randint(2, 50, (len(lengths), t), generator=g) * mask
    chars = torch.randint(2, 20, (len(lengths), t, width), generator=g) * mask[..., None]
    return {"word_ids": words, "char_ids": chars, "attention_mask": mask}


def _tagger() -> BiLSTMTagger:
    torch.manual_seed(0)
    return BiLSTMTagger(9, 50, 20, word_dim=8, char_dim=4, char_filters=6, hidden_size=5,
                        num_layers=2)  # fmt: skip


def test_ma_hovy_init_follows_section_3_1():
    torch.manual_seed(0)
    model = BiLSTMTagger(17, 500, 60, word_dim=100, char_dim=30, char_filters=30,
                         hidden_size=20, init="ma_hovy")  # fmt: skip
    for embed, dim in ((model.word_embed, 100), (model.chars.embed, 30)):
        bound = (3.0 / dim) ** 0.5
        assert embed.weight.abs().max() <= bound and embed.weight.abs().max() > 0.9 * bound
        assert embed.weight[PAD].abs().sum() == 0  # the padding row stays zero
    for lstm in (*model.forward_lstms, *model.backward_lstms):
        h = lstm.hidden_size
        bias = lstm.bias_ih_l0 + lstm.bias_hh_l0  # gates i, f, g, o
        assert torch.equal(bias[h : 2 * h], torch.ones(h))  # forget gate at 1
        assert bias[:h].abs().sum() == 0 and bias[2 * h :].abs().sum() == 0
        gate = lstm.weight_ih_l0[:h]  # Glorot per gate: bound sqrt(6 / (fan_in + fan_out))
        assert gate.abs().max() <= (6.0 / (h + lstm.input_size)) ** 0.5
    assert model.head.bias.abs().sum() == 0 and model.chars.conv.bias.abs().sum() == 0
    again = BiLSTMTagger(17, 500, 60, hidden_size=20)
    ma_hovy_init(again)  # the same function, on any module tree
    assert torch.equal(again.head.bias, torch.zeros(17))


def test_char_dropout_drops_character_embeddings_in_training_only():
    model = BiLSTMTagger(9, 50, 20, char_dim=4, char_filters=6, hidden_size=5, char_dropout=0.5)
    chars = torch.randint(2, 20, (2, 3, 6))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model.chars(chars), model.chars(chars))
    model.eval()
    assert torch.equal(model.chars(chars), model.chars(chars))


def test_reversal_reverses_within_each_length():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    index = reversal_index(mask)
    assert index.tolist() == [[2, 1, 0, 3], [3, 2, 1, 0]]
    x = torch.arange(8.0).reshape(2, 4, 1)
    assert torch.equal(take_steps(take_steps(x, index), index), x)  # its own inverse


def test_forward_backward_shapes():
    model = _tagger()
    batch = _batch([5, 3])
    logits = model(**batch)
    assert logits.shape == (2, 5, 9)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_a_sentences_tags_do_not_depend_on_its_batch():
    """Padding never reaches a real word: alone or beside a longer sentence, same logits."""
    model = _tagger().eval()
    both = _batch([3, 7])
    alone = {k: v[:1, :3] for k, v in both.items()}
    torch.testing.assert_close(model(**both)[0, :3], model(**alone)[0], atol=1e-6, rtol=1e-5)


def test_onnx_export_matches_eager_at_other_batch_sizes_and_lengths(tmp_path: Path):
    model = _tagger().eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, _batch([7, 4, 2, 7]), path, dynamic_axes=BiLSTMTagger.export_dynamic_axes)
    cases = [_batch([3], seed=1), _batch([12, 5, 9], seed=2), _batch([1] * 16, seed=3)]
    results = check_cases(model, OrtRunner(path), cases, atol=1e-5, rtol=1e-4)
    assert all(r.passed for r in results), results
