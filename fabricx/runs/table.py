"""The runs table: every run directory under a folder, read from its small files only.

`fabricx runs` lists what `fabricx train` left under runs/: experiment, status, the headline
metric, duration, start, the overrides that differ between the runs listed, git sha. A row
is read from metrics.json, overrides.yaml, config.yaml's `experiment` line, provenance.json
and job.json, never from a checkpoint, so a thousand runs list in well under a second.

A run's status is its record's (metrics.json: ok, failed, preempted, pruned, terminated,
interrupted), unless its process is alive: job.json (written when a job starts or resumes)
names the process (pid, host), and a run whose process still runs on this host is
"running" (a process that started after job.json, given the pid again, is not it). On
another host fabricx cannot ask the process, so a run without a newer record counts as
running while it wrote a file in the last `ACTIVE_S` seconds (train.log, metrics.csv,
last.ckpt), and "lost" after that: killed without a word (SIGKILL, the out-of-memory
killer, a node failure). A run that never got a job.json (made before it
existed) is judged by the same file times.
"""

from __future__ import annotations

import datetime
import math
import operator
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fabricx.errors import ConfigError, did_you_mean
from fabricx.runs.directory import read_json_object

JOB_FILE = "job.json"
ACTIVE_S = 15 * 60  # a file written this recently: the run on another host is still going
# Directories inside a run directory that never hold another run: not walked.
_INSIDE_A_RUN = {"checkpoints", "export", "wandb", "tensorboard", "eval", ".hydra", "mlruns"}
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster
_EXPERIMENT_LINE = re.compile(r"^experiment: *(.+)$", re.M)
_KEY = re.compile(r"^[\w./-]+$")  # a metric's name: test/acc, bench/ort_cpu_fp32_p50_ms_bs1

# A record's statuses (fabricx.stages.sequence), then the two only a live look can tell.
STATUSES = ("ok", "failed", "preempted", "pruned", "terminated", "interrupted", "running", "lost")
COLUMNS = ("experiment", "run", "status", "metric", "duration", "start", "differs", "git")
SORT_KEYS = ("start", "experiment", "run", "status", "metric", "duration", "git")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt,
}  # fmt: skip


@dataclass
class RunRow:
    """One run, as the table shows it (and `--json` writes it)."""

    run_dir: str
    experiment: str
    status: str
    metric_name: str | None
    metric_value: float | None
    duration_s: float | None
    started: str | None  # ISO 8601, local time
    overrides: dict[str, str] = field(default_factory=dict)
    differs: dict[str, str] = field(default_factory=dict)  # filled in by `list_runs`
    git_sha: str | None = None
    git_dirty: bool | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """The value `--sort` and `--where` read: a column, or any key of metrics.json."""
        columns = {
            "start": self.started, "experiment": self.experiment, "run": self.run_dir,
            "status": self.status, "metric": self.metric_value, "duration": self.duration_s,
            "git": self.git_sha,
        }  # fmt: skip
        return columns[key] if key in columns else self.metrics.get(key)

    def as_dict(self, with_metrics: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_metrics:
            data.pop("metrics")
        return data


def find_run_dirs(root: Path) -> Iterator[Path]:
    """Every run directory under `root` (one holding config.yaml), `root` itself included."""
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    names = {e.name for e in entries}
    if "config.yaml" in names and ({"metrics.json", "overrides.yaml"} & names):
        yield root
        return
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False) and entry.name not in _INSIDE_A_RUN:
            yield from find_run_dirs(Path(entry.path))


def read_row(run_dir: Path, now: float | None = None) -> RunRow:
    """One run's row from its small files; a missing or torn file leaves its fields empty."""
    record = read_json_object(run_dir / "metrics.json")
    provenance = read_json_object(run_dir / "provenance.json")
    metric = record.get("metric") or {}
    metrics = {k: v for k, v in (record.get("metrics") or {}).items() if _is_number(v)}
    git = provenance.get("git") or {}
    if not git.get("sha"):
        git = provenance.get("fabricx_git") or {}
    return RunRow(
        run_dir=str(run_dir),
        experiment=_experiment(run_dir),
        status=run_status(run_dir, record, now),
        metric_name=metric.get("name"),
        metric_value=metric.get("value") if _is_number(metric.get("value")) else None,
        duration_s=metrics.get("time/total_s"),
        started=_started(run_dir),
        overrides=_overrides(run_dir / "overrides.yaml"),
        git_sha=git.get("sha"),
        git_dirty=git.get("dirty"),
        metrics=metrics,
    )


def run_status(run_dir: Path, record: dict[str, Any], now: float | None = None) -> str:
    """ok, failed, preempted, pruned, terminated, interrupted (the record's), running, lost."""
    job = read_json_object(run_dir / JOB_FILE)
    record_time = _mtime(run_dir / "metrics.json")
    job_time = _mtime(run_dir / JOB_FILE)
    newer_job = job and (record_time is None or (job_time or 0) > record_time)
    if record and not newer_job:
        return str(record.get("status") or "failed")  # None: the run never finished
    if job.get("host") == socket.gethostname() and isinstance(job.get("pid"), int):
        pid = job["pid"]
        # A process that started after job.json was written is not the run's: its pid was
        # given again to another process once the run's was killed.
        reused = job_time is not None and _process_started_after(pid, job_time)
        return "running" if _alive(pid) and not reused else "lost"
    last_write = max(
        (t for t in map(_mtime, _activity_files(run_dir)) if t is not None), default=None
    )
    now = datetime.datetime.now().timestamp() if now is None else now
    if last_write is not None and now - last_write < ACTIVE_S:
        return "running"
    return str(record.get("status") or "lost") if record else "lost"


def _activity_files(run_dir: Path) -> list[Path]:
    return [
        run_dir / name
        for name in ("train.log", "metrics.csv", "checkpoints/last.ckpt", JOB_FILE, "config.yaml")
    ]


def _process_started_after(pid: int, when: float) -> bool:
    """Whether process `pid` started after `when` (seconds since the epoch), as Linux's
    /proc tells it (its start in clock ticks after boot); False where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        stat = Path("/proc/stat").read_text().splitlines()
        boot = next(float(line.split()[1]) for line in stat if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, IndexError, StopIteration, ValueError):
        return False
    return started > when + 2.0  # btime is whole seconds: a margin against rounding


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def list_runs(
    root: Path,
    *,
    sort: str = "start",
    statuses: list[str] | None = None,
    experiments: list[str] | None = None,
    where: list[str] | None = None,
) -> list[RunRow]:
    """The runs under `root`, filtered and sorted, with what differs between them filled in.

    Args:
        sort: a column of SORT_KEYS or a key of metrics.json; a leading "-" sorts descending.
        statuses: keep only runs with one of these statuses.
        experiments: keep only runs of these experiments.
        where: conditions such as "metric>=0.9" or "val/loss<0.3" (all must hold).

    Raises:
        ConfigError: `root` holds no run, a status is not one of STATUSES, or a sort key or
            condition cannot be read or names no column or metric of the runs.
    """
    if not root.is_dir():
        raise ConfigError(
            f"{root}: no such directory. Give the directory runs are written to "
            "(paths.runs_dir, runs/ by default): fabricx runs [DIR]."
        )
    for status in statuses or []:
        if status not in STATUSES:
            raise ConfigError(
                f"--status {status}: no such status.{did_you_mean(status, STATUSES)} "
                f"A run is one of {', '.join(STATUSES)}."
            )
    conditions = [parse_condition(text) for text in where or []]
    rows = [read_row(d) for d in find_run_dirs(root)]
    if not rows:
        raise ConfigError(
            f"{root} holds no run directory (one with config.yaml and metrics.json): give "
            "the directory `fabricx train` writes to (paths.runs_dir, runs/ by default)."
        )
    known = sorted({k for r in rows for k in r.metrics})
    descending, key = sort.startswith("-"), sort.lstrip("-")
    for flag, name in [("--sort", key), *(("--where", name) for name, _, _ in conditions)]:
        if name not in SORT_KEYS and name not in known:
            raise ConfigError(_unknown_key(flag, name, known))
    if statuses:
        rows = [r for r in rows if r.status in statuses]
    if experiments:
        rows = [r for r in rows if r.experiment in experiments]
    for name, compare, threshold in conditions:
        rows = [r for r in rows if _is_number(r.value(name)) and compare(r.value(name), threshold)]
    present = [r for r in rows if r.value(key) is not None]
    absent = [r for r in rows if r.value(key) is None]  # always last
    present.sort(key=lambda r: r.value(key), reverse=descending)
    rows = present + absent
    fill_differences(rows)
    return rows


def _unknown_key(flag: str, name: str, known: list[str]) -> str:
    listed = f"{', '.join(known[:8])}{', ...' if len(known) > 8 else ''}"
    return (
        f"{flag} {name}: no such column or metric.{did_you_mean(name, [*SORT_KEYS, *known])} "
        f"Use one of {', '.join(SORT_KEYS)} or a metric of metrics.json ({listed})"
        + ("; -KEY sorts descending." if flag == "--sort" else ".")
    )


def parse_condition(text: str) -> tuple[str, Callable[[float, float], bool], float]:
    """ "metric>=0.9" -> ("metric", operator.ge, 0.9)."""
    for symbol in sorted(_OPERATORS, key=len, reverse=True):
        if symbol in text:
            name, _, value = text.partition(symbol)
            if not _KEY.match(name.strip()):
                break
            try:
                return name.strip(), _OPERATORS[symbol], float(value)
            except ValueError:
                break
    raise ConfigError(
        f"--where {text!r}: write KEY OP NUMBER, KEY the headline `metric` or a metric of "
        f"metrics.json, OP one of {', '.join(_OPERATORS)}: e.g. --where 'metric>=0.9'."
    )


def fill_differences(rows: list[RunRow]) -> None:
    """Each row's `differs`: its overrides whose key is not set alike in every row (a row
    that leaves such a key at its default shows nothing for it)."""
    keys = {k for r in rows for k in r.overrides}
    varying = {k for k in keys if len({r.overrides.get(k) for r in rows}) > 1}
    for row in rows:
        row.differs = {k: row.overrides[k] for k in sorted(varying) if k in row.overrides}


def _experiment(run_dir: Path) -> str:
    """config.yaml's top-level `experiment`, found by its line: parsing the whole YAML file
    costs more than everything else a row needs (about 0.6 ms a run)."""
    try:
        text = (run_dir / "config.yaml").read_text()
    except OSError:
        text = ""
    found = _EXPERIMENT_LINE.search(text)
    if found:
        value = _read_yaml_text(found.group(1))
        if isinstance(value, (str, int, float)):
            return str(value)
    return run_dir.parent.name  # runs/<experiment>/<run>


def _overrides(path: Path) -> dict[str, str]:
    """overrides.yaml: a list of strings, read line by line unless a line is quoted."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    lines = [line for line in text.splitlines() if line.strip()]
    if text.strip() == "[]":
        items: Any = []
    elif all(line.startswith("- ") and line[2:3] not in ("'", '"') for line in lines):
        items = [line[2:] for line in lines]
    else:
        items = _read_yaml_text(text) or []
    out = {}
    for item in items if isinstance(items, list) else []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def _started(run_dir: Path) -> str | None:
    """When the run started: config.yaml is written at the start and never again."""
    when = _mtime(run_dir / "config.yaml")
    if when is None:
        return None
    return datetime.datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")


def _read_yaml_text(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
