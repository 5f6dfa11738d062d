"""Sweep throughput and what pruning buys: `fabricx sweep` run as a user types it.

    python benchmarks/sweep_throughput.py                       # 12 trials of digits_mlp each
    python benchmarks/sweep_throughput.py --trials 24 --out benchmarks/results/sweep.json
    python benchmarks/sweep_throughput.py --epochs 200   # training, not start-up, dominates

Three sweeps of the digits_mlp recipe's search space, each a fresh study in a temporary
directory with the same trial budget and sampler seed:
  pruned_1w    median pruner, 1 worker
  pruned_2w    median pruner, 2 workers
  unpruned_1w  no pruner, 1 worker (the same first trials as pruned_1w: same TPE seed)
Reported per sweep: wall time, trials per minute, the pruned fraction, the best val/acc.
A harness, not a test: nothing is asserted. Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "pruned_1w": ("sweep.workers=1",),
    "pruned_2w": ("sweep.workers=2",),
    "unpruned_1w": ("sweep.workers=1", "sweep.pruner.name=none"),
}


def run_sweep(name: str, extra: tuple[str, ...], trials: int, seed: int, epochs: int) -> dict:
    cwd = Path(tempfile.mkdtemp(prefix=f"fabricx-sweep-{name}-"))
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    args = [
        "sweep", "recipe=digits_mlp", f"sweep.n_trials={trials}", f"seed={seed}",
        f"trainer.max_epochs={epochs}", "logger=csv", "callbacks.progress_bar=none", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fabricx", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name}: fabricx sweep failed:\n{proc.stdout[-3000:]}{proc.stderr}")
    best = json.loads((cwd / "runs/digits_mlp/sweeps/digits_mlp/best.json").read_text())
    counts = best["trials"]
    return {
        "variant": name,
        "command": "fabricx " + " ".join(args),
        "wall_s": round(wall, 1),
        "trials": sum(counts.values()),
        "trials_per_min": round(sum(counts.values()) / wall * 60, 2),
        "complete": counts["complete"],
        "pruned": counts["pruned"],
        "failed": counts["fail"],
        "pruned_fraction": round(best["pruned_fraction"], 3),
        "best_val_acc": round(best["best"]["values"]["val/acc"], 4),
        "best_trial": best["best"]["trial"],
        "sweep_dir": str(cwd / "runs/digits_mlp/sweeps/digits_mlp"),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20, help="per trial (the recipe's: 20)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sweep_throughput.json"))
    args = p.parse_args(argv)
    rows = []
    for name in args.variants.split(","):
        rows.append(run_sweep(name, VARIANTS[name], args.trials, args.seed, args.epochs))
        print(json.dumps(rows[-1]), flush=True)
    report = {"host": platform.node(), "cpus": os.cpu_count(), "date": time.strftime("%F"),
              "epochs": args.epochs, "trials": args.trials, "rows": rows}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| sweep | trials | wall s | trials/min | complete | pruned | pruned fraction | best val/acc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['variant']} | {r['trials']} | {r['wall_s']} | {r['trials_per_min']} | {r['complete']} | {r['pruned']} | {r['pruned_fraction']} | {r['best_val_acc']} |"
        for r in rows
    ]
    table = f"{args.trials} trials of {args.epochs} epochs each\n\n" + "\n".join(lines)
    args.out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
