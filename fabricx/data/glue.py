"""GLUE SST-2 (Stanford Sentiment Treebank, binary) through a Hugging Face fast tokenizer.

The GLUE folder holds train.tsv and dev.tsv (``sentence<TAB>label``, labels 0 = negative,
1 = positive) and test.tsv (``index<TAB>sentence``), whose labels are private to the GLUE
server. Published SST-2 numbers are therefore dev accuracy, and so is fabricx's: the test
split here is dev.tsv, and validation (checkpoint selection) is held out of train.tsv, so
the reported number is never the one the best checkpoint was picked on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from annotated_types import Ge

from fabricx.config.constraints import NonNegativeInt, PositiveInt
from fabricx.data.conll2003 import load_tokenizer
from fabricx.data.download import extract_zip, fetch
from fabricx.data.loaders import SplitLoaders
from fabricx.data.text import read_utf8
from fabricx.errors import DataError

SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
# The only published checksum of the archive is torchtext's MD5 (torchtext/datasets/sst2.py).
SST2_MD5 = "9f81648d4199384278b86e315dac217c"
SST2_ARCHIVE = "SST-2.zip"
SST2_FOLDER = "SST-2"  # what the archive unpacks to
SPLIT_FILES = {"train": "train.tsv", "test": "dev.tsv"}  # val is held out of train.tsv
HEADER = ["sentence", "label"]
LABELS = ("0", "1")


def find_sst2_dir(path: Path) -> Path:
    """The folder with the TSV files: `path` itself, or the ``SST-2/`` the archive unpacks to."""
    path = Path(path).expanduser()
    nested = path / SST2_FOLDER
    if not (path / "train.tsv").is_file() and (nested / "train.tsv").is_file():
        return nested
    return path


def read_sst2_tsv(path: Path) -> tuple[list[str], list[int]]:
    """Sentences and labels of an SST-2 train.tsv or dev.tsv.

    Read with the csv module, tab-delimited with quoting off: SST-2 sentences contain bare
    quote characters, which the default dialect would treat as field delimiters.

    Args:
        path: the file; its first line must be ``sentence<TAB>label``.

    Returns:
        (sentences, labels), labels 0 or 1, in file order.

    Raises:
        DataError: the file is missing, not UTF-8, empty, has another header (test.tsv has
            no labels), a row without exactly two columns, an empty sentence or a label
            other than 0 or 1; the message names the file and the line.

    Example::

        sentences, labels = read_sst2_tsv(Path("~/data/SST-2/dev.tsv").expanduser())
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such file. Point data.path at the GLUE SST-2 folder (train.tsv, "
            "dev.tsv), or set data.download=true to fetch it."
        )
    sentences: list[str] = []
    labels: list[int] = []
    redownload = "the file is truncated or damaged; download it again (data.download=true)"
    # Decoded whole: a bad byte is named by its own line (text mode decodes in chunks).
    fix = "Download it again (data.download=true), or re-save it as UTF-8."
    text = read_utf8(path, fix, where="{path}: line {line}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: the file is empty (no header line); {redownload}.")
        if header != HEADER:
            raise DataError(
                f"{path}: line 1: header is {header!r}, expected 'sentence<TAB>label' "
                "(GLUE SST-2 train.tsv or dev.tsv; test.tsv has no labels and cannot be "
                "scored). Point data.path at the SST-2 folder."
            )
        for row in reader:
            line = reader.line_num
            if len(row) != 2:
                raise DataError(
                    f"{path}: line {line}: {len(row)} tab-separated columns, expected 2 "
                    f"(sentence<TAB>label); {redownload}, or fix that line."
                )
            sentence, label = row
            if not sentence.strip():
                raise DataError(f"{path}: line {line}: the sentence is empty; fix it.")
            if label not in LABELS:
                raise DataError(
                    f"{path}: line {line}: label {label!r} is not 0 or 1 (SST-2 labels: "
                    f"0 negative, 1 positive); {redownload}, or fix that line."
                )
            sentences.append(sentence)
            labels.append(int(label))
    except csv.Error as err:  # e.g. a NUL byte
        raise DataError(
            f"{path}: line {reader.line_num + 1}: cannot read it as tab-separated text ({err});"
            f" {redownload}."
        ) from err
    if not sentences:
        raise DataError(f"{path}: only a header, no rows; {redownload}.")
    return sentences, labels


class GlueSst2DataModule(SplitLoaders):
    """GLUE SST-2: train.tsv minus a held-out val, and dev.tsv as the test split.

    The reported test number is dev accuracy, as in every published SST-2 result (GLUE's
    test labels are not public). `val_size` sentences of train.tsv, drawn by `seed`, choose
    the best checkpoint. Sentences are tokenized once in `setup`; batches are padded to
    their longest sentence, and hold ``input_ids``, ``attention_mask`` and ``labels``.

    Args:
        path: folder with train.tsv and dev.tsv (or with the ``SST-2/`` folder holding them).
        tokenizer: a Hugging Face name, a local tokenizer directory, or a WordPiece vocab.txt.
        download: fetch and unpack the GLUE archive into `path` when the files are missing,
            checked by MD5 (the only published checksum).
        val_size: sentences of train.tsv held out for validation (872 by default: the size
            of dev).
        max_length: sub-tokens per sentence at most ([CLS] and [SEP] included; longer ones
            are truncated).
        batch_size, eval_batch_size, num_workers, seed: as for every datamodule.
        num_classes: must be 2.

    Raises:
        DataError: a missing or malformed file (named, with the line), a download whose
            checksum does not match, or a val_size that leaves no training sentence.
            (num_classes other than 2 is refused before, by its type: Literal[2].)
        FabricxError: the download failed.

    Example::

        data = GlueSst2DataModule("~/data/glue", tokenizer="distilbert-base-uncased")
    """

    def __init__(
        self,
        path: str,
        tokenizer: str,
        download: bool = False,
        val_size: PositiveInt = 872,
        max_length: Annotated[int, Ge(3)] = 128,
        batch_size: PositiveInt = 32,
        eval_batch_size: PositiveInt = 64,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: Literal[2] = 2,
    ) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.tokenizer_name = tokenizer
        self.download = download
        self.val_size = val_size
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.num_classes = num_classes
        self.encoded: dict[str, list[dict[str, Any]]] = {}
        self.tokenizer: Any = None
        self._collator: Any = None

    def prepare_data(self) -> None:
        folder = find_sst2_dir(self.path)
        if not self.download or all((folder / n).is_file() for n in SPLIT_FILES.values()):
            return
        archive = fetch(SST2_URL, self.path / SST2_ARCHIVE, md5=SST2_MD5)
        extract_zip(archive, self.path)

    def check_data(self) -> None:
        """Read train.tsv and dev.tsv and check every row, without the tokenizer.

        fabricx calls this before it creates a run directory (fabricx.data.preflight); with
        `download` and files still missing, they are checked after the download, in setup.
        """
        folder = find_sst2_dir(self.path)
        if self.download and not all((folder / n).is_file() for n in SPLIT_FILES.values()):
            return
        self._read()

    def _read(self) -> tuple[tuple[list[str], list[int]], tuple[list[str], list[int]]]:
        folder = find_sst2_dir(self.path)
        train = read_sst2_tsv(folder / SPLIT_FILES["train"])
        test = read_sst2_tsv(folder / SPLIT_FILES["test"])
        if self.val_size >= len(train[0]):
            raise DataError(
                f"data.val_size={self.val_size} but {folder / 'train.tsv'} has {len(train[0])}"
                " sentences, leaving none to train on; lower data.val_size."
            )
        return train, test

    def setup(self, stage: str | None = None) -> None:
        if self.encoded:
            return
        train, test = self._read()
        # A seeded permutation, not stratified: SST-2 is near balanced (56% positive).
        order = torch.randperm(len(train[0]), generator=torch.Generator().manual_seed(self.seed))
        val_rows, train_rows = order[: self.val_size].tolist(), order[self.val_size :].tolist()
        self.tokenizer = load_tokenizer(self.tokenizer_name)
        self.encoded = {
            "train": self._encode(train, sorted(train_rows)),
            "val": self._encode(train, sorted(val_rows)),
            "test": self._encode(test, range(len(test[0]))),
        }

    def _encode(self, data: tuple[list[str], list[int]], rows: Any) -> list[dict[str, Any]]:
        sentences, labels = data
        rows = list(rows)
        enc = self.tokenizer(
            [sentences[i] for i in rows], truncation=True, max_length=self.max_length,
            return_token_type_ids=False,
        )  # fmt: skip
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": labels[i]}
            for ids, mask, i in zip(enc["input_ids"], enc["attention_mask"], rows, strict=True)
        ]

    def samples(self, split: str) -> list[dict[str, Any]]:
        return self.encoded[split]

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Pad to the batch's longest sentence (DataCollatorWithPadding)."""
        from transformers import DataCollatorWithPadding

        if self._collator is None:
            self._collator = DataCollatorWithPadding(self.tokenizer, return_tensors="pt")
        return dict(self._collator(rows))
