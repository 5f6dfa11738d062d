"""Read CoNLL files: one `TOKEN ... TAG` line per token, blank lines between sentences.

Accepts the two-column form (`TOKEN TAG`) and the original four columns (`TOKEN POS CHUNK
TAG`), IOB1 or IOB2 tags; returns IOB2 (every entity starts with B-), which seqeval's
CoNLL scoring expects. A missing, empty, truncated or malformed file raises an error that
names the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fabricx.errors import FabricxError

_TAG = re.compile(r"^(O|[BI]-[A-Za-z0-9_]+)$")


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]


def read_conll(path: Path) -> list[Sentence]:
    """Every sentence of `path`, tags in IOB2; `-DOCSTART-` lines only separate documents."""
    path = Path(path)
    if not path.is_file():
        raise FabricxError(f"{path}: no such file; point data.path at the folder that holds it.")
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append(Sentence(list(tokens), to_iob2(tags)))
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                flush()
                continue
            if len(fields) not in (2, 4):
                raise FabricxError(
                    f"{path}:{number}: expected 2 columns (TOKEN TAG) or 4 (TOKEN POS CHUNK TAG),"
                    f" found {len(fields)}: {line.strip()[:80]!r} (is the file truncated?)"
                )
            if not _TAG.match(fields[-1]):
                raise FabricxError(
                    f"{path}:{number}: {fields[-1]!r} is not an IOB tag (O, B-TYPE or I-TYPE)."
                )
            tokens.append(fields[0])
            tags.append(fields[-1])
    flush()
    if not sentences:
        raise FabricxError(f"{path}: no sentences found; the file is empty or not CoNLL.")
    return sentences


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an I- that starts an entity (after O or another type) becomes B-."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (i == 0 or out[i - 1] == "O" or out[i - 1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def entity_counts(sentences: list[Sentence]) -> Counter[str]:
    """Entities per type (each B- starts one, in IOB2)."""
    return Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))
