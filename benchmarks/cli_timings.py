"""Wall time of the `fabricx` command as a user runs it, and the default run's results.

    python benchmarks/cli_timings.py               # 3 x `fabricx train`, 5 x --help / config
    python benchmarks/cli_timings.py --train-runs 1

Each command runs in a fresh subprocess in a temporary directory (start-up included), with
W&B offline as on a machine that is not logged in. Prints a markdown table and writes
benchmarks/results/cli_timings.json and .md. A harness, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def timed(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fabricx", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        command = " ".join(args)
        raise SystemExit(f"fabricx {command} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def summarize(command: str, times: list[float]) -> dict:
    return {
        "command": command,
        "runs": len(times),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def train_once(cwd: Path) -> dict:
    """One `fabricx train`, with the numbers its run directory recorded."""
    seconds = timed(["train"], cwd)
    run_dir = max((cwd / "runs" / "default").iterdir(), key=lambda p: p.stat().st_mtime)
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    verify = json.loads((run_dir / "export" / "verify.json").read_text())
    parity = verify["artifacts"]["onnx"]["parity"]
    return {
        "seconds": seconds,
        "test_acc": metrics["test/acc"],
        "test_acc_onnx": metrics["test/acc_onnx"],
        "max_abs_diff": max(p["max_abs_diff"] for p in parity),
        "parity_batch_sizes": [p["batch_size"] for p in parity],
    }


def markdown(rows: list[dict], train: list[dict]) -> str:
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"# fabricx CLI timings ({machine})", ""]
    lines += ["| command | runs | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| `{r['command']}` | {r['runs']} | {r['median_s']:.2f} | {r['min_s']:.2f} "
            f"| {r['max_s']:.2f} |"
        )
    lines += [
        "",
        "| `fabricx train` | wall s | test/acc eager | test/acc ONNX Runtime | max abs diff |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, t in enumerate(train, 1):
        lines.append(
            f"| run {i} | {t['seconds']:.1f} | {t['test_acc']:.4f} | {t['test_acc_onnx']:.4f} "
            f"| {t['max_abs_diff']:.2e} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-runs", type=int, default=3)
    parser.add_argument("--quick-runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        rows = [
            summarize(name, [timed(argv, cwd) for _ in range(args.quick_runs)])
            for name, argv in (("fabricx --help", ["--help"]), ("fabricx config", ["config"]))
        ]
        train = [train_once(cwd) for _ in range(args.train_runs)]
    rows.append(summarize("fabricx train", [t["seconds"] for t in train]))

    report = markdown(rows, train)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_timings.md").write_text(report)
    results = {"commands": rows, "train_runs": train}
    (RESULTS / "cli_timings.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
