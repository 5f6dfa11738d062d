"""What the benchmark sections share: running `fabricx` as a user types it, and tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def fabricx_env() -> dict[str, str]:
    """The environment of a user who is not logged in to W&B: offline runs, no chatter."""
    return {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def run_fabricx(args: Sequence[str], cwd: Path) -> tuple[float, Path | None]:
    """`python -m fabricx ARGS` in `cwd`: (wall seconds, the newest run directory or None).

    Raises:
        SystemExit: the command failed; its stderr's end is in the message.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fabricx", *args], cwd=cwd, env=fabricx_env(),
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(
            f"fabricx {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    runs = [p for p in (cwd / "runs").glob("*/*") if (p / "metrics.json").is_file()]
    return seconds, max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def metrics(run_dir: Path) -> dict[str, Any]:
    """The `metrics` of a run's metrics.json."""
    return json.loads((run_dir / "metrics.json").read_text())["metrics"]


def markdown(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A markdown table of `rows`: columns are (key, header); floats get 3 significant
    figures, ratios (headers ending in "x") a trailing x."""

    def cell(value: Any, header: str) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
            return text + "x" if header.endswith("x") else text
        return str(value)

    lines = ["| " + " | ".join(h for _, h in columns) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
    lines += ["| " + " | ".join(cell(r.get(k), h) for k, h in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_whole(path: Path, text: str) -> None:
    """Write `text` to a temporary name beside `path`, then rename it: never half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
