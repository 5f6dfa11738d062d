"""The from-scratch NER path: CoNLL as word and character ids, the BiLSTM tagger with a
character CNN (a run whose vocabularies travel in its checkpoint: tests/e2e/test_text.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from fabricx.data.conll2003 import IGNORE
from fabricx.data.conll_words import PAD, UNK, Conll2003WordsDataModule, build_vocab, normalize_word
from fabricx.errors import DataError, FabricxError
from fabricx.export.onnx import export_onnx
from fabricx.export.parity import check_cases
from fabricx.export.runtimes import OrtRunner
from fabricx.models.bilstm import BiLSTMTagger, reversal_index, take_steps
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
