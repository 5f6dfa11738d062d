"""Time to result: the default `fabricx train`, stage by stage, against `import lightning`.

Every run's metrics.json has each stage's wall time (`time/<stage>_s`: setup, fit, test,
export, verify, bench, close_trackers, and `time/total_s` from the job's start to the record's
last write). The rest of the wall time is the interpreter's start before fabricx is imported
and the process's exit after the record is written. The issue's target, with `import
lightning` timed side by side in fresh processes (the floor of any command that trains with
Lightning): (wall - import lightning) at most 2x the fit stage's own time, that is
everything besides the fit and the imports costs no more than the fit itself.

    python -m benchmarks --only time_to_result
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import metrics, run_fabricx

AFTER_FIT = ("test", "export", "verify", "bench", "close_trackers")


def _import_lightning() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import lightning"], check=True)
    return time.perf_counter() - start


def one_run(cwd: Path, args: list[str]) -> dict[str, float]:
    """`fabricx train ARGS` as a user types it: its wall time and its stage times."""
    wall, run_dir = run_fabricx(["train", *args], cwd)
    found = metrics(run_dir)
    stages = {k[len("time/") : -len("_s")]: v for k, v in found.items() if k.startswith("time/")}
    stages["process_start_and_exit"] = wall - stages["total"]
    stages["after_fit"] = sum(stages.get(s, 0.0) for s in AFTER_FIT)
    stages["after_fit"] += stages["process_start_and_exit"]
    return {"wall": wall, **stages}


def run(quick: bool, device: str = "cpu", args: list[str] | None = None) -> dict[str, Any]:
    """Interleaved repeats of `import lightning` and the default run; medians and the target."""
    repeats = 3 if quick else 7
    args = args or [f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}"]
    floors, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            floors.append(_import_lightning())
            cwd = Path(tmp) / str(i)
            cwd.mkdir()
            runs.append(one_run(cwd, args))
    floor = statistics.median(floors)
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    # The target per repeat, each run against the import timed just before it.
    ratios = [(r["wall"] - f) / r["fit"] for r, f in zip(runs, floors, strict=True)]
    rows = [{"part": "python -c 'import lightning'", "median_s": floor}]
    order = ["wall", "setup", "fit", *AFTER_FIT, "process_start_and_exit", "after_fit"]
    rows += [{"part": k, "median_s": median[k]} for k in order if k in median]
    rows.append({"part": "(wall - import lightning) / fit", "median_s": statistics.median(ratios)})
    return {
        "rows": rows,
        "target_ratio": statistics.median(ratios),
        "ratios": ratios,
        "args": args,
        "repeats": {"import_lightning": floors, "runs": runs},
    }
