"""CoNLL-2003 as word and character ids, for taggers trained from scratch (no tokenizer).

The vocabularies come from the training split: words lower-cased with digits folded to 0
(so "1996" and "1997" share an id), characters kept as written (capitals and digits are
the features a character encoder learns from). Anything unseen in training maps to the
unknown id. The vocabularies are part of the datamodule's state, so Lightning saves them
in every checkpoint and fabricx restores them with the weights: a checkpoint always meets
the ids it was trained with, even if train.txt changes later.

Batches are padded to their longest sentence (rounded up to a multiple of 8); every word's
characters are cut or padded to `max_word_length`, so only the batch and sentence axes vary
(the exported graph's dynamic axes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from annotated_types import Ge

from fabricx.config.constraints import NonNegativeInt, PositiveInt
from fabricx.data.conll import Sentence
from fabricx.data.conll2003 import (
    CONLL2003_LABELS,
    check_tag_count,
    read_splits,
    tag_ids,
)
from fabricx.data.labels import IGNORE
from fabricx.data.loaders import SplitLoaders
from fabricx.errors import FabricxError

PAD, UNK = 0, 1
SPECIALS = ["<pad>", "<unk>"]
_DIGIT = re.compile(r"\d")


def normalize_word(word: str) -> str:
    """The word-vocabulary key: lower case, every digit folded to 0."""
    return _DIGIT.sub("0", word.lower())


def build_vocab(counts: Counter[str], size: int, min_freq: int) -> list[str]:
    """The `size` most frequent entries (ties alphabetical, so the order is reproducible),
    after the padding and unknown entries."""
    ranked = sorted(
        (item for item, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w)
    )
    return SPECIALS + ranked[: size - len(SPECIALS)]


class Conll2003WordsDataModule(SplitLoaders):
    """Train/val/test splits of a CoNLL folder as word ids, character ids and tag ids.

    Args:
        path: folder with train.txt, valid.txt and test.txt.
        labels: the tag set (in `tag_scheme`); any other tag in the data is an error.
        tag_scheme: "iob2" (the files' entities, every one starting with B-) or "bioes"
            (an entity's last word E-, a one-word entity S-; give the 17 BIOES labels,
            fabricx.data.conll2003.CONLL2003_BIOES_LABELS). Entity F1 is the same either
            way: seqeval and conlleval read both.
        vocab_size: word-vocabulary entries at most, padding and unknown included; the
            model's embedding table has this many rows.
        char_vocab_size: character-vocabulary entries at most, likewise.
        min_freq: training-split count a word needs to get its own id.
        max_word_length: characters kept per word (longer words are cut).
        pad_to_multiple_of: sentence axis padded up to a multiple of this: fewer distinct
            shapes, so the CPU's LSTM kernels (oneDNN, planned once per shape) are reused.
        batch_size, eval_batch_size, num_workers, seed: as for every datamodule.
        num_classes: must equal len(labels).

    Raises:
        DataError: a missing or malformed file, or a tag not in `labels` (file and line).
    """

    def __init__(
        self,
        path: str,
        labels: Sequence[str] = CONLL2003_LABELS,
        tag_scheme: Literal["iob2", "bioes"] = "iob2",
        vocab_size: Annotated[int, Ge(3)] = 30000,
        char_vocab_size: Annotated[int, Ge(3)] = 128,
        min_freq: PositiveInt = 1,
        max_word_length: PositiveInt = 20,
        pad_to_multiple_of: PositiveInt = 8,
        batch_size: PositiveInt = 32,
        eval_batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt = 9,
    ) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.labels = list(labels)
        self.tag_scheme = tag_scheme
        self.label_ids = tag_ids(self.labels, num_classes)
        self.vocab_size = vocab_size
        self.char_vocab_size = char_vocab_size
        self.min_freq = min_freq
        self.max_word_length = max_word_length
        self.pad_to_multiple_of = max(1, pad_to_multiple_of)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.sentences: dict[str, list[Sentence]] = {}
        self.words: list[str] = []
        self.chars: list[str] = []
        self._encoded: dict[str, list[dict[str, list[Any]]]] = {}

    # Checked by fabricx before any work (the constructor checks it again).
    check_arguments = staticmethod(check_tag_count)

    # --- vocabularies: built from train.txt, saved in checkpoints -------------------------

    def check_data(self) -> None:
        """Read the three files and check every tag; fabricx calls this before it creates a
        run directory (fabricx.data.preflight)."""
        if self.sentences:
            return
        self.sentences = read_splits(self.path, self.labels, self.tag_scheme)

    def setup(self, stage: str | None = None) -> None:
        self.check_data()
        if not self.words:
            train = self.sentences["train"]
            words = Counter(normalize_word(w) for s in train for w in s.tokens)
            chars = Counter(c for s in train for w in s.tokens for c in w)
            self.words = build_vocab(words, self.vocab_size, self.min_freq)
            self.chars = build_vocab(chars, self.char_vocab_size, 1)

    def state_dict(self) -> dict[str, Any]:
        return {"words": list(self.words), "chars": list(self.chars)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """The vocabularies a checkpoint was trained with; ids are re-encoded from them."""
        words, chars = list(state_dict["words"]), list(state_dict["chars"])
        if len(words) > self.vocab_size or len(chars) > self.char_vocab_size:
            raise FabricxError(
                f"the checkpoint's vocabularies ({len(words)} words, {len(chars)} characters) "
                f"exceed data.vocab_size={self.vocab_size} / data.char_vocab_size="
                f"{self.char_vocab_size}; use the values the run was trained with."
            )
        self.words, self.chars = words, chars
        self._encoded.clear()

    # --- ids and batches ---------------------------------------------------------------

    def _encode(self, split: str) -> list[dict[str, list[Any]]]:
        if split not in self._encoded:
            word_id = {w: i for i, w in enumerate(self.words)}
            char_id = {c: i for i, c in enumerate(self.chars)}
            self._encoded[split] = [
                {
                    "word_ids": [word_id.get(normalize_word(w), UNK) for w in s.tokens],
                    "char_ids": [
                        [char_id.get(c, UNK) for c in w[: self.max_word_length]] for w in s.tokens
                    ],
                    "labels": [self.label_ids[t] for t in s.tags],
                }
                for s in self.sentences[split]
            ]
        return self._encoded[split]

    def collate(self, rows: list[dict[str, list[Any]]]) -> dict[str, torch.Tensor]:
        """Pad to the batch's longest sentence, rounded up to `pad_to_multiple_of`: ids with
        PAD, labels with IGNORE."""
        size, longest = len(rows), max(len(r["word_ids"]) for r in rows)
        length = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        word_ids = torch.full((size, length), PAD, dtype=torch.long)
        char_ids = torch.full((size, length, self.max_word_length), PAD, dtype=torch.long)
        mask = torch.zeros((size, length), dtype=torch.long)
        labels = torch.full((size, length), IGNORE, dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["word_ids"])
            word_ids[i, :n] = torch.tensor(row["word_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
            for j, chars in enumerate(row["char_ids"]):
                char_ids[i, j, : len(chars)] = torch.tensor(chars)
        return {
            "word_ids": word_ids,
            "char_ids": char_ids,
            "attention_mask": mask,
            "labels": labels,
        }

    def samples(self, split: str) -> list[dict[str, list[Any]]]:
        return self._encode(split)
