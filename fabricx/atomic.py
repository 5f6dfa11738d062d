"""Files that appear whole or not at all: write to a temporary name, then rename.

A run killed mid-write (OOM, preemption, Ctrl-C) must not leave a truncated checkpoint or a
half JSON file that the next `fabricx eval` or resume then chokes on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (0644 under 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it goes.

    The temporary file is flushed and fsynced before the rename, and given the mode a plain
    `open()` would (tempfile makes 0600 files, which other users could not read).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
