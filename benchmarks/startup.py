"""Start-up: how long `fabricx --help`, `fabricx config` and `fabricx train` take to answer
or to reach the first optimizer step, against `python -c "import lightning"`, the floor of
any command that trains with Lightning.

Each command runs in a fresh subprocess, as a user types it; medians over repeats. The time to
the first optimizer step is `fit/first_step_s` from the run's metrics.json (measured from the
moment the process imported fabricx), plus the interpreter's own start (`python -c pass`).

    python -m benchmarks --only startup
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import fabricx_env, metrics, run_fabricx

TARGETS_S = {"fabricx --help": 0.3, "fabricx config": 1.0}


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=fabricx_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def run(quick: bool, device: str = "cpu") -> dict[str, Any]:
    repeats = 3 if quick else 7
    fabricx = [sys.executable, "-m", "fabricx"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "python -c 'import lightning'": [sys.executable, "-c", "import lightning"],
        "fabricx --help": [*fabricx, "--help"],
        "fabricx config": [*fabricx, "config"],
    }
    found: dict[str, list[float]] = {name: [] for name in commands}
    found["fabricx train: first optimizer step"] = []
    found["fabricx train: whole run (1 step, fit only)"] = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for _ in range(repeats):  # interleaved, so a slow moment hits every command alike
            for name, command in commands.items():
                found[name].append(_timed(command, cwd))
            args = ["train", "stages=[fit]", "trainer.max_steps=1", "trainer.max_epochs=-1",
                    f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}"]  # fmt: skip
            wall, run_dir = run_fabricx(args, cwd)
            interpreter = found["python -c pass"][-1]
            found["fabricx train: first optimizer step"].append(
                interpreter + metrics(run_dir)["fit/first_step_s"]
            )
            found["fabricx train: whole run (1 step, fit only)"].append(wall)
    floor = statistics.median(found["python -c 'import lightning'"])
    rows = []
    for name, times in found.items():
        seconds = statistics.median(times)
        target = TARGETS_S.get(name)
        rows.append({
            "command": name, "median_s": seconds, "min_s": min(times),
            "vs_import_lightning": seconds / floor, "target_s": target,
            "meets_target": None if target is None else seconds < target,
        })  # fmt: skip
    return {"rows": rows, "repeats": found}
