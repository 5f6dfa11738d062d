"""Start-up: how long `fabricx --help`, `fabricx config` and `fabricx train` take to answer
or to reach the first optimizer step, against `python -c "import lightning"`, the floor of
any command that trains with Lightning.

`fabricx config` checks every component against its signature, which imports it: fabricx's
own datamodules and tasks import Lightning, so `config` costs about `import lightning`. It
is timed with fabricx's components, and with a user's model from a package of their own
(which imports torch) in their --config-dir.

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

TARGETS_S = {"fabricx --help": 0.3}

# A user's package and config folder: a model whose module imports torch.
USER_MODEL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, in_features: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
"""
USER_OPTION = """
_target_: benchlab.nets.Net
in_features: ${data.num_features}
num_classes: ${data.num_classes}
"""


def _user_project(root: Path) -> list[str]:
    """Write benchlab/ and conf/ under `root`; the config arguments that select its model."""
    (root / "benchlab").mkdir()
    (root / "benchlab" / "__init__.py").write_text("")
    (root / "benchlab" / "nets.py").write_text(USER_MODEL)
    (root / "conf" / "model").mkdir(parents=True)
    (root / "conf" / "model" / "user.yaml").write_text(USER_OPTION)
    return ["--config-dir", str(root / "conf"), "model=user", "extra_target_prefixes=[benchlab]"]


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    env = {**fabricx_env(), "PYTHONPATH": str(cwd)}  # the user's package, if any, lies in cwd
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
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
        commands["fabricx config, a user's model"] = [*fabricx, "config", *_user_project(cwd)]
        found["fabricx config, a user's model"] = []
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
