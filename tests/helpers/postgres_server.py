"""A throwaway PostgreSQL server (Debian's postgresql package) for the RDB-storage tests.

The session fixture `postgres_url` runs initdb and pg_ctl as the `postgres` user in a fresh
directory, listening only on a Unix socket there, and yields an SQLAlchemy URL. It skips
without the binaries, the user, root, or the psycopg driver.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bin_dir = _bin_dir()
    if bin_dir is None or os.geteuid() != 0 or importlib.util.find_spec("psycopg") is None:
        pytest.skip("needs Debian's postgresql package, root, and psycopg")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")
    root = Path(tempfile.mkdtemp(prefix="fabricx-pg-"))
    os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "fabricx")
    options = f"-p {port} -k {root} -c listen_addresses=''"
    log = root / "server.log"  # the server keeps no pipe of ours open, or run() never returns
    pg_ctl = str(bin_dir / "pg_ctl")
    as_postgres(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        yield f"postgresql://fabricx@/postgres?host={root}&port={port}"
    finally:
        as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
