"""`fabricx runs` on many run directories, and what report.html costs.

    python -m benchmarks --only runs

- `fabricx runs DIR` (the table), `--json` and `--sort -metric --status ok` on 1,000 (quick:
  also in full mode 5,000) synthetic run directories (benchmarks.synthetic.write_run_dirs:
  the files `fabricx train` leaves, without checkpoints), as a user types it: a fresh
  process each time, medians over repeats;
- report.html of one of them (curves, metrics, provenance): the time writing it takes in
  process: the first in a fresh process (matplotlib imported then) and the next ones (what
  the end of a run with a bench stage pays), and the page's size. A real
  default run records its own as `time/report_s` in metrics.json.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.synthetic import write_run_dirs


def _timed(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fabricx", "runs", *args],
            check=True, stdout=subprocess.DEVNULL, env=_env(),
        )  # fmt: skip
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "200"}


def run(quick: bool, device: str = "cpu") -> dict[str, Any]:
    repeats = 3 if quick else 7
    sizes = [1000] if quick else [1000, 5000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = Path(tmp) / str(n)
            dirs = write_run_dirs(root, n)
            for label, args in (
                ("table", [str(root)]),
                ("--json", [str(root), "--json"]),
                ("--sort -metric --status ok", [str(root), "--sort", "-metric", "--status", "ok"]),
            ):
                rows.append({"case": f"fabricx runs {label}", "runs": n,
                             "median_s": _timed(args, repeats)})  # fmt: skip
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import fabricx.cli"], check=True)
        rows.append({"case": "python -c 'import fabricx.cli' (the floor)", "runs": 0,
                     "median_s": time.perf_counter() - start})  # fmt: skip
        cold_s, report_s, size = _report(dirs[0], repeats)
        rows.append({"case": "report.html of one run, first in a process (imports matplotlib)",
                     "runs": 1, "median_s": cold_s, "bytes": size})  # fmt: skip
        rows.append({"case": "report.html of one run, in process (warm)", "runs": 1,
                     "median_s": report_s, "bytes": size})  # fmt: skip
    return {"rows": rows}


def _report(run_dir: Path, repeats: int) -> tuple[float, float, int]:
    """The first page in a fresh process (what a run without a bench stage pays: matplotlib
    is imported then), the median of the next ones in this process, and the page's size."""
    first = (
        "import sys, time; from pathlib import Path; "
        "from fabricx.pages.run_page import write_run_report; start = time.perf_counter(); "
        "write_run_report(Path(sys.argv[1])); print(time.perf_counter() - start)"
    )
    done = subprocess.run(
        [sys.executable, "-c", first, str(run_dir)], check=True, capture_output=True, text=True
    )
    from fabricx.pages.run_page import write_run_report

    write_run_report(run_dir)  # warm: the modules imported, as at the end of a run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        path = write_run_report(run_dir)
        times.append(time.perf_counter() - start)
    return float(done.stdout.split()[-1]), statistics.median(times), path.stat().st_size
