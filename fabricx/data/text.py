"""Read a text data file (CoNLL, TSV) as UTF-8, naming the line and byte of a bad byte.

Python's text mode decodes in 8 KiB chunks, so a UnicodeDecodeError there names neither
the file nor the line, and the line a reader was on can be hundreds before the bad byte.
Decoding the whole file at once gives the byte offset, from which the line follows.
"""

from __future__ import annotations

from pathlib import Path

from fabricx.errors import DataError


def read_utf8(path: Path, fix: str, where: str = "{path}:{line}") -> str:
    """The text of `path`, decoded as UTF-8 (line endings as written).

    Args:
        path: the file.
        fix: what the user should do about a bad byte, appended to the message.
        where: how the reader's other messages name a line, e.g. "{path}: line {line}".

    Raises:
        DataError: the file cannot be read, or holds a byte that is not UTF-8 (the message
            names the file, the line, the byte and its offset).

    Example::

        text = read_utf8(Path("conll/train.txt"), "re-save it as UTF-8")
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err.strerror or err}).") from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        bad = " ".join(f"0x{b:02x}" for b in raw[err.start : err.end])
        raise DataError(
            f"{where.format(path=path, line=line)}: cannot read it as UTF-8: byte {bad} at "
            f"offset {err.start} (column {column}) is not UTF-8 ({err.reason}); the file is in"
            f" another encoding (Latin-1?) or damaged. {fix}"
        ) from None
