"""summary: the closing table a user reads: final metrics, the run directory, the files."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from fabricx.config.schema import STAGES
from fabricx.stages.context import RunContext


def _size(path: Path) -> str:
    size = float(path.stat().st_size) if path.exists() else 0.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def run(ctx: RunContext, console: Console | None = None) -> None:
    console = console or Console()
    metrics = Table(title="metrics", title_justify="left", show_edge=False)
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key in sorted(ctx.metrics):
        style = "bold green" if key == ctx.metric_key else None
        metrics.add_row(key, f"{ctx.metrics[key]:.4f}", style=style)

    files = Table(title="files", title_justify="left", show_edge=False)
    files.add_column("what")
    files.add_column("path", overflow="fold")
    files.add_column("size", justify="right")
    for name, path in sorted(ctx.artifacts.items()):
        files.add_row(name, _relative(path, ctx.out_dir), _size(path))
    order = {name: i for i, name in enumerate(STAGES)}
    ran = sorted(ctx.stages.items(), key=lambda item: order.get(item[0], len(order)))
    stages = ", ".join(f"{name}: {status}" for name, status in ran)
    console.print(metrics)
    console.print(files)
    console.print(f"stages: {stages}")
    for target, reason in ctx.skipped.items():
        console.print(f"skipped {target}: {reason}", style="yellow", soft_wrap=True)
    for stage, note in ctx.notes.items():
        console.print(f"note ({stage}): {note}", soft_wrap=True)
    # Never wrapped or cut: the one line a user copies into the next command.
    console.print(f"run directory: {ctx.out_dir}", soft_wrap=True, highlight=False)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
