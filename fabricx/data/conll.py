"""Read CoNLL files: one `TOKEN ... TAG` line per token, blank lines between sentences.

Accepts the two-column form (`TOKEN TAG`) and the original four columns (`TOKEN POS CHUNK
TAG`), IOB1 or IOB2 tags; returns IOB2 (every entity starts with B-), which seqeval's
CoNLL scoring expects. A missing, empty, truncated or malformed file raises an error that
names the file, the line and what is wrong.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fabricx.data.text import read_utf8
from fabricx.errors import DataError

_TAG = re.compile(r"^(O|[BI]-[A-Za-z0-9_]+)$")


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    line: int = 0  # the line of the first token (token i is on line + i), for messages


def read_conll(path: Path) -> list[Sentence]:
    """Every sentence of `path`, tags in IOB2; `-DOCSTART-` lines only separate documents.

    Raises:
        DataError: the file is missing, not UTF-8, or has a line that is not CoNLL; the
            message names the file and the line (``path:line: ...``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; point data.path at the folder that holds it.")
    text = read_utf8(path, "Re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8).")
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0

    def flush() -> None:
        if tokens:
            sentences.append(Sentence(list(tokens), to_iob2(tags), first))
            tokens.clear()
            tags.clear()

    # newline=None: \n, \r\n and \r end a line, as in text mode.
    for number, line in enumerate(io.StringIO(text, newline=None), 1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            flush()
            continue
        if len(fields) not in (2, 4):
            raise DataError(
                f"{path}:{number}: expected 2 columns (TOKEN TAG) or 4 (TOKEN POS CHUNK TAG),"
                f" found {len(fields)}: {line.strip()[:80]!r} (is the file truncated?); fix or"
                " delete that line."
            )
        if not _TAG.match(fields[-1]):
            raise DataError(
                f"{path}:{number}: {fields[-1]!r} is not an IOB tag (O, B-TYPE or I-TYPE); fix"
                " that line."
            )
        if not tokens:
            first = number
        tokens.append(fields[0])
        tags.append(fields[-1])
    flush()
    if not sentences:
        raise DataError(f"{path}: no sentences found; the file is empty or not CoNLL.")
    return sentences


def check_tags(
    sentences: list[Sentence], labels: list[str], path: Path, scheme: str = "IOB2"
) -> None:
    """Every tag of `sentences` must be one of `labels` (the model's classes).

    Raises:
        DataError: naming the file and the line of the first unknown tag, and every
            unknown tag found.
    """
    known = set(labels)
    unknown = {t for s in sentences for t in s.tags} - known
    if not unknown:
        return
    sentence, i = next((s, i) for s in sentences for i, t in enumerate(s.tags) if t not in known)
    raise DataError(
        f"{path}:{sentence.line + i}: tag {sentence.tags[i]!r} ({scheme}) is not in data.labels="
        f"{labels}; the file has unknown tags {sorted(unknown)}. Fix the file, or add them to"
        " data.labels (and count them in data.num_classes)."
    )


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an I- that starts an entity (after O or another type) becomes B-."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (i == 0 or out[i - 1] == "O" or out[i - 1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def to_bioes(tags: list[str]) -> list[str]:
    """IOB2 -> BIOES (Ratinov and Roth 2009; Ma and Hovy 2016 train on it): an entity's last
    word ends with E-, a one-word entity is S-. The entities are the same ones."""
    out = []
    for i, tag in enumerate(tags):
        ends = i + 1 == len(tags) or not tags[i + 1].startswith("I-")
        if tag.startswith("B-") and ends:
            tag = "S-" + tag[2:]
        elif tag.startswith("I-") and ends:
            tag = "E-" + tag[2:]
        out.append(tag)
    return out


def entity_counts(sentences: list[Sentence]) -> Counter[str]:
    """Entities per type (each B- starts one, in IOB2)."""
    return Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))
