"""CoNLL-2003 named entities through a Hugging Face fast tokenizer, padded per batch.

Words are split into sub-tokens; the first sub-token of each word carries the word's label
and the rest are ignored (-100), as in the BERT paper's NER setup. Batches are padded to
their longest sentence (DataCollatorForTokenClassification), not to a fixed length.
CoNLL-2003 has no stable public download: point `path` at a folder with train.txt,
valid.txt and test.txt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge

from fabricx.config.constraints import NonNegativeInt, PositiveInt
from fabricx.data.conll import Sentence, check_tags, read_conll, to_bioes
from fabricx.data.labels import IGNORE
from fabricx.data.loaders import SplitLoaders
from fabricx.data.text import read_utf8
from fabricx.errors import DataError

# CoNLL-2003's tags in IOB2; a datamodule's `labels` default, and so the task's (${data.labels}).
CONLL2003_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
# The same tags in BIOES (an entity's last word E-, a one-word entity S-): data.tag_scheme=bioes.
CONLL2003_BIOES_LABELS = (
    "O",
    *(f"{p}-{t}" for t in ("PER", "ORG", "LOC", "MISC") for p in ("B", "I", "E", "S")),
)
TAG_SCHEMES = {"iob2": None, "bioes": to_bioes}
SPLIT_FILES = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}


def read_splits(
    folder: Path, labels: list[str], tag_scheme: str = "iob2"
) -> dict[str, list[Sentence]]:
    """The three CoNLL files of `folder` by split, tags in `tag_scheme` (read as IOB1 or
    IOB2, converted), every tag checked against `labels`.

    Raises:
        DataError: a file that is not CoNLL, or a tag outside `labels` (file and line).
    """
    sentences = {split: read_conll(folder / name) for split, name in SPLIT_FILES.items()}
    convert = TAG_SCHEMES[tag_scheme]
    for split, name in SPLIT_FILES.items():
        if convert is not None:
            for sentence in sentences[split]:
                sentence.tags = convert(sentence.tags)
        check_tags(sentences[split], labels, folder / name, tag_scheme.upper())
    return sentences


def tag_ids(labels: list[str], num_classes: int) -> dict[str, int]:
    """Each tag's class id; `num_classes` must count the tags (the model's output size)."""
    check_tag_count(labels, num_classes)
    return {tag: i for i, tag in enumerate(labels)}


def check_tag_count(labels: list[str] | None, num_classes: int, **_: object) -> None:
    """The tag set and the number of classes (the model's output size) must agree."""
    labels = list(CONLL2003_LABELS if labels is None else labels)
    if num_classes != len(labels):
        raise ValueError(
            f"num_classes={num_classes} but labels has {len(labels)} tags; make them agree."
        )


def load_tokenizer(name_or_path: str) -> Any:
    """A fast tokenizer from a hub name, a local directory, or a BERT `vocab.txt` file."""
    import inspect

    from transformers import AutoTokenizer, BertTokenizerFast

    path = Path(name_or_path).expanduser()
    if not path.is_file():
        return AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    # A WordPiece vocabulary, cased as CoNLL is. transformers 5 renamed `vocab_file` to
    # `vocab` and ignores the old name, which would leave a 5-token vocabulary: all [UNK].
    text = read_utf8(path, "A WordPiece vocab.txt is UTF-8, one token per line.")
    expected = sum(1 for line in text.splitlines() if line.strip())
    params = inspect.signature(BertTokenizerFast.__init__).parameters
    key = "vocab" if "vocab" in params else "vocab_file"
    tokenizer = BertTokenizerFast(**{key: str(path)}, do_lower_case=False)
    if tokenizer.vocab_size != expected:
        raise DataError(
            f"{path}: the tokenizer loaded {tokenizer.vocab_size} of its {expected} tokens; "
            "check that it is a WordPiece vocab.txt (one token per line)."
        )
    return tokenizer


class Conll2003DataModule(SplitLoaders):
    """Train/val/test splits of a CoNLL folder, tokenized once, padded per batch.

    Args:
        path: folder with train.txt, valid.txt and test.txt.
        tokenizer: a Hugging Face name, a local tokenizer directory, or a vocab.txt file.
        labels: the tag set; any other tag in the data is an error.
        max_length: sub-tokens per sentence at most (longer sentences are truncated).
        batch_size, eval_batch_size, num_workers, seed: as for every datamodule.
        num_classes: must equal len(labels).

    Raises:
        DataError: a missing or malformed file, or a tag not in `labels` (file and line).
    """

    def __init__(
        self,
        path: str,
        tokenizer: str,
        labels: Sequence[str] = CONLL2003_LABELS,
        max_length: Annotated[int, Ge(3)] = 128,
        batch_size: PositiveInt = 32,
        eval_batch_size: PositiveInt = 64,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt = 9,
    ) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.tokenizer_name = tokenizer
        self.labels = list(labels)
        self.label_ids = tag_ids(self.labels, num_classes)
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.sentences: dict[str, list[Sentence]] = {}
        self.encoded: dict[str, list[dict[str, list[int]]]] = {}
        self.tokenizer: Any = None
        self._collator: Any = None

    # Checked by fabricx before any work (the constructor checks it again).
    check_arguments = staticmethod(check_tag_count)

    def check_data(self) -> None:
        """Read the three files and check every tag, without loading the tokenizer.

        fabricx calls this before it creates a run directory (fabricx.data.preflight).
        """
        self._read()

    def _read(self) -> None:
        if self.sentences:
            return
        self.sentences = read_splits(self.path, self.labels)

    def setup(self, stage: str | None = None) -> None:
        if self.encoded:
            return
        self._read()
        self.tokenizer = load_tokenizer(self.tokenizer_name)
        for split in SPLIT_FILES:
            self.encoded[split] = [self._encode(s) for s in self.sentences[split]]

    def _encode(self, sentence: Sentence) -> dict[str, list[int]]:
        enc = self.tokenizer(
            sentence.tokens, is_split_into_words=True, truncation=True,
            max_length=self.max_length, return_token_type_ids=False,
        )  # fmt: skip
        labels, previous = [], None
        for word in enc.word_ids():
            # Special tokens and every sub-token after a word's first are not scored.
            labels.append(
                IGNORE if word is None or word == previous else self.label_ids[sentence.tags[word]]
            )
            previous = word
        return {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "labels": labels,
        }

    def samples(self, split: str) -> list[dict[str, list[int]]]:
        return self.encoded[split]

    def collate(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        """Pad to the batch's longest sentence; labels with IGNORE."""
        from transformers import DataCollatorForTokenClassification

        if self._collator is None:
            self._collator = DataCollatorForTokenClassification(
                self.tokenizer, label_pad_token_id=IGNORE, return_tensors="pt"
            )
        return dict(self._collator(rows))
