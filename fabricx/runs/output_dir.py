"""Check where a job will write before Hydra creates anything there.

Hydra creates the run directory first thing; a name the file system refuses, a folder under
a file, or a place nobody may write would otherwise fail after it, with a traceback, and a
directory that already holds a run would be written over. Imports neither torch nor
lightning.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from fabricx.errors import ConfigError

# Files that mark a directory as holding a fabricx run.
RUN_MARKERS = ("config.yaml", "metrics.json", "checkpoints")


def check_output_dir(key: str, path: str, *, new_run: bool, sweep: bool = False) -> None:
    """Refuse an output directory that cannot be created, or (for a new run) one that
    already holds a run.

    Args:
        key: the config key that names it (hydra.run.dir, hydra.sweep.dir, paths.runs_dir).
        path: the directory, as the job will see it.
        new_run: True when the job starts a run there (not a resume, not a child rank, not
            a restart of the same job by SLURM or torchrun).
        sweep: `path` is a multirun's directory: its jobs' runs are in numbered folders.

    Raises:
        ConfigError: naming the key, the path and what to do.
    """
    target = Path(path).expanduser()
    _check_name_lengths(key, target)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"{key}={path}: that is a file, not a directory; choose another.")
        held = [m for m in RUN_MARKERS if (target / m).exists()]
        if sweep:
            held = sorted({str(p.parent.relative_to(target)) for p in target.glob("*/config.yaml")})
        if new_run and held:
            raise ConfigError(
                f"{key}={path} already holds a run ({', '.join(held)}); fabricx never writes "
                f"over a run. Choose another directory, or continue that run: resume={path}."
            )
        _check_writable(key, path, target)
        return
    ancestor = _nearest_existing(target.parent)
    if not ancestor.is_dir():
        raise ConfigError(
            f"{key}={path}: {ancestor} is a file, so no directory can be created under it; "
            "choose another path."
        )
    _check_writable(key, path, ancestor)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to look up does not exist either
        return False


def _nearest_existing(path: Path) -> Path:
    while not _exists(path) and path != path.parent:
        path = path.parent
    return path


def _check_name_lengths(key: str, target: Path) -> None:
    existing = _nearest_existing(target)
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in target.parts:
        if len(part.encode()) > name_max:
            raise ConfigError(
                f"{key}: the name {part[:40]}... is {len(part.encode())} bytes long, too long "
                f"for this file system (at most {name_max}); shorten it."
            )
    if len(str(target.absolute()).encode()) + 64 > path_max:  # room for the files inside
        raise ConfigError(
            f"{key}={target}: the path is too long for this file system (at most {path_max} "
            "bytes with the run's own files); shorten it."
        )


def _check_writable(key: str, path: str, existing: Path) -> None:
    """Create and remove a probe directory in `existing`: the only test that every file
    system (read-only mounts, /proc, quotas, ACLs) answers truthfully, root included."""
    try:
        probe = tempfile.mkdtemp(prefix=".fabricx-probe-", dir=existing)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        hint = (
            "it is read-only" if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else reason
        )
        raise ConfigError(
            f"{key}={path}: cannot create a directory in {existing} ({hint}); choose a "
            "directory you can write, e.g. paths.runs_dir=$HOME/runs."
        ) from None
    shutil.rmtree(probe, ignore_errors=True)


def restarted() -> bool:
    """Whether SLURM requeued this job or torchrun restarted its ranks: the same job, which
    continues in the directory it started."""
    from fabricx.runs.signals import requeued

    restarts = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return requeued() or (restarts.isdigit() and int(restarts) > 0)


def is_child_rank() -> bool:
    """Whether this process is a non-zero rank started by a launcher (Lightning's, SLURM,
    torchrun): it writes into the directory rank 0 chose, so it is not a new run."""
    for variable in ("LOCAL_RANK", "RANK", "NODE_RANK", "SLURM_PROCID", "GROUP_RANK"):
        value = os.environ.get(variable, "0")
        if value.isdigit() and int(value) > 0:
            return True
    return False
