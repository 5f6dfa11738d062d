"""Files that appear whole or not at all: write to a temporary name, then rename.

A run killed mid-write (OOM, preemption, Ctrl-C) must not leave a truncated checkpoint or a
half JSON file that the next `fabricx eval` or resume then chokes on.

A SIGKILL mid-write still leaves the temporary file: nothing runs on the way out. Its name
says who wrote it, `.<name>.<pid>-<host>.<random>.tmp`, so the next command that opens the
run (a resume, eval, export, bench) can tell a dead writer's file from one still being
written by a live process, e.g. a training run that `fabricx eval` looks at meanwhile
(`remove_stale_temporaries`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

# `.last.ckpt.4242-1a2b3c4d.k3j_x9z2.tmp`: target, writer's pid and host, mkstemp's random part.
_TEMPORARY = re.compile(
    r"^\.(?P<target>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.[a-z0-9_]{8}\.tmp$"
)
# A writer on another host cannot be asked whether it still runs; a write that has not
# touched its file for this long is not going on.
STALE_AFTER_S = 3600.0


def default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (0644 under 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it goes.

    The temporary file is flushed and fsynced before the rename, and given the mode a plain
    `open()` would (tempfile makes 0600 files, which other users could not read).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{os.getpid()}-{_host_tag()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
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


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files of `atomic_open` writers that are gone, under `run_dir`.

    Only fabricx's own names count (`.<name>.<pid>-<host>.<random>.tmp`); every other file,
    `.tmp` or not, is the user's and stays. A file is stale when its writer ran on this host
    and that process has ended, or, from another host, when it is older than STALE_AFTER_S.

    Returns:
        The files removed (each is also logged).
    """
    removed = []
    here = _host_tag()
    for directory, _, files in os.walk(run_dir):
        for name in files:
            match = _TEMPORARY.match(name)
            if match is None:
                continue
            path = Path(directory) / name
            if match["host"] == here:
                stale = not _running(int(match["pid"]))
            else:
                try:
                    stale = time.time() - path.stat().st_mtime > STALE_AFTER_S
                except OSError:  # renamed or removed meanwhile: its writer finished
                    continue
            if stale:
                path.unlink(missing_ok=True)
                removed.append(path)
                log.info("Removed %s: its writer (pid %s) ended mid-write.", path, match["pid"])
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def publish_beside(staging: Path, main: Path) -> list[Path]:
    """Move `main`'s files (its graph and companions like `<name>.data`) from the `staging`
    folder beside it into place: the companions first, the main file last, so `main` only
    ever appears beside complete companions. Returns the files' final paths."""
    files = sorted(staging.glob(f"{main.name}*"), key=lambda f: f.name == main.name)
    for file in files:
        os.replace(file, main.parent / file.name)
    return [main.parent / file.name for file in files]
