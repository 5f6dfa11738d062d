"""`fabricx runs [DIR]`: the runs under a folder as a table; `fabricx runs compare A B ...`.

    fabricx runs                                   # runs/, oldest first
    fabricx runs runs/default --sort -metric --status ok --where 'metric>=0.9'
    fabricx runs --json > runs.json                # or --csv: every field, for a script
    fabricx runs compare runs/default/A runs/default/B   # config and metric differences,
                                                         # curves overlaid (compare.html)

Reads each run's small files only (fabricx.runs.table); imports neither torch nor lightning.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fabricx.errors import ConfigError
from fabricx.pages.html import fmt
from fabricx.runs.table import COLUMNS, SORT_KEYS, STATUSES, RunRow, list_runs

if TYPE_CHECKING:
    from fabricx.pages.compare import Comparison

USAGE = """fabricx runs [DIR] [--sort KEY] [--status S ...] [--experiment E ...] [--where COND]
                    [--json | --csv]
       fabricx runs compare RUN_A RUN_B [RUN_C ...] [--out FILE]"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabricx runs",
        usage=USAGE,
        description="The runs under DIR (default runs/): status, the headline metric, "
        "duration, start, the overrides that differ between them, git sha.",
    )
    parser.add_argument("dir", nargs="?", default="runs", help="where to look (default runs/)")
    parser.add_argument(
        "--sort",
        default="start",
        help=f"{', '.join(SORT_KEYS)} or a metric of metrics.json (val/loss); -KEY descends",
    )
    parser.add_argument(
        "--status",
        action="append",
        help=f"keep runs of this status ({', '.join(STATUSES)}); repeat for several",
    )
    parser.add_argument("--experiment", action="append", help="keep runs of this experiment")
    parser.add_argument(
        "--where",
        action="append",
        help="a threshold: 'metric>=0.9', 'val/loss<0.3' (KEY OP NUMBER); repeat to combine",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="every field as JSON, on stdout")
    form.add_argument("--csv", action="store_true", help="every field as CSV, on stdout")
    return parser


def run(argv: list[str], console: Console | None = None) -> int:
    if argv and argv[0] == "compare":
        return _compare(argv[1:])
    args = _parser().parse_args(_joined_sort(argv))
    root = Path(args.dir)
    rows = list_runs(
        root, sort=args.sort, statuses=args.status, experiments=args.experiment, where=args.where
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
    elif args.csv:
        sys.stdout.write(to_csv(rows))
    else:
        (console or Console()).print(to_table(rows, root))
    return 0


def _joined_sort(argv: list[str]) -> list[str]:
    """`--sort -metric` as `--sort=-metric`: argparse would read -metric as a flag."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--sort" and out[i + 1].startswith("-"):
            out[i : i + 2] = [f"--sort={out[i + 1]}"]
            break
    return out


# The long columns fold down to these widths at most; the others never fold.
FOLDED_MIN_WIDTH = {"experiment": 10, "run": 18}


def to_table(rows: list[RunRow], root: Path) -> Table:
    names = {r.metric_name for r in rows if r.metric_name}
    metric_header = next(iter(names)) if len(names) == 1 else "metric"
    table = Table(title=f"{len(rows)} runs under {root}", title_justify="left")
    for column in COLUMNS:
        header = metric_header if column == "metric" else column
        justify = "right" if column in ("metric", "duration") else "left"
        # The short columns keep their width, so a narrow terminal (or a pipe: 80 columns)
        # folds the long ones (experiment, run, what differs) instead of hiding the status.
        folds = column in ("experiment", "run", "differs")
        table.add_column(
            header,
            justify=justify,
            overflow="fold",
            no_wrap=not folds,
            min_width=FOLDED_MIN_WIDTH.get(column, 6) if folds else len(header),
        )
    for row in rows:
        metric = "" if row.metric_value is None else f"{row.metric_value:.4f}"
        if len(names) > 1 and row.metric_name:
            metric = f"{row.metric_name} {metric}"
        cells = [
            row.experiment,
            _relative(row.run_dir, root),
            row.status,
            metric,
            _duration(row.duration_s),
            (row.started or "")[:16].replace("T", " "),
            " ".join(f"{k}={v}" for k, v in row.differs.items()),
            (row.git_sha or "")[:8] + ("*" if row.git_dirty else ""),
        ]  # escaped: export=[onnx] is a value, not rich markup
        table.add_row(*map(escape, cells), style=_STATUS_STYLE.get(row.status))
    return table


_STATUS_STYLE = {"failed": "red", "lost": "red", "running": "cyan", "pruned": "dim"}


def to_csv(rows: list[RunRow]) -> str:
    """One line per run: the columns, then every metric of any run (empty where absent)."""
    metric_keys = sorted({k for r in rows for k in r.metrics})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    head = ["experiment", "run_dir", "status", "metric_name", "metric_value", "duration_s"]
    writer.writerow(
        [*head, "started", "differs", "overrides", "git_sha", "git_dirty", *metric_keys]
    )
    for r in rows:
        writer.writerow(
            [
                r.experiment, r.run_dir, r.status, r.metric_name, r.metric_value, r.duration_s,
                r.started, " ".join(f"{k}={v}" for k, v in r.differs.items()),
                " ".join(f"{k}={v}" for k, v in r.overrides.items()), r.git_sha, r.git_dirty,
                *(r.metrics.get(k, "") for k in metric_keys),
            ]
        )  # fmt: skip
    return buffer.getvalue()


def _compare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fabricx runs compare",
        description="Config and metric differences between runs, aligned, and their curves "
        "overlaid in one page (compare.html).",
    )
    parser.add_argument("runs", nargs="*", help="two or more run directories")
    parser.add_argument("--out", default="compare.html", help="the page (default compare.html)")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        raise ConfigError(
            "fabricx runs compare needs two run directories or more: fabricx runs compare "
            "runs/<experiment>/<run A> runs/<experiment>/<run B> (fabricx runs lists them)."
        )
    from fabricx.pages.compare import compare_runs, write_compare_page

    comparison = compare_runs([Path(r) for r in args.runs])
    print_comparison(comparison, Console())
    out = write_compare_page(comparison, Path(args.out))
    print(f"curves overlaid: {out}")
    return 0


def print_comparison(comparison: Comparison, console: Console) -> None:
    """The config keys that differ and every metric, aligned by key, as two rich tables."""
    from fabricx.pages.compare import as_float

    config = Table(title="config: what differs", title_justify="left")
    config.add_column("key")
    for label in comparison.labels:
        config.add_column(label, overflow="fold")
    for key, values in comparison.config:
        config.add_row(key, *(escape(str(v)) for v in values))
    if not comparison.config:
        config.add_row("(no difference)", *[""] * len(comparison.labels))
    metrics = Table(title="metrics", title_justify="left")
    metrics.add_column("metric")
    for label in [*comparison.labels, *comparison.delta_header()]:
        metrics.add_column(label, justify="right")
    metrics.add_row("status", *comparison.statuses, *([""] if len(comparison.labels) == 2 else []))
    for key, values in comparison.metrics:
        style = "bold green" if key == comparison.metric_name else None
        metrics.add_row(
            key,
            *(fmt(as_float(v)) for v in values),
            *map(fmt, comparison.delta(values)),
            style=style,
        )
    console.print(config)
    console.print(metrics)


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
