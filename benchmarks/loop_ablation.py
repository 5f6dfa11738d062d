"""Where fabricx's LeNet-5 step loses against the plain loop: `fabricx train` with each of
its per-run extras (W&B, progress bar, checkpoints) turned off in turn, beside the plain loop.

Each repeat runs the plain loop and then every variant, each in a fresh process, so a
variant's ratio to the plain loop is paired with a plain run from the same minutes (the
machine's speed drifts by more than the differences measured here). Prints a markdown table
and writes benchmarks/results/<date>-<host>-loop-ablation.{json,md}.

    python -m benchmarks.loop_ablation              # 8 repeats of 288 steps: about 10 minutes
    python -m benchmarks.loop_ablation --repeats 3
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import markdown, write_whole
from benchmarks.loop import cases, paired, run_loop, write_data

RESULTS = Path(__file__).resolve().parent / "results"
OFF = {  # variant -> what it turns off in `fabricx train`
    "fabricx (defaults)": [],
    "no W&B": ["logger=csv"],
    "no progress bar": ["callbacks.progress_bar=none"],
    "no checkpoints": ["callbacks.checkpoint.enabled=false"],
    "none of them, no LR monitor": [
        "logger=none", "callbacks.progress_bar=none", "callbacks.checkpoint.enabled=false",
        "callbacks.lr_monitor=false",
    ],
}  # fmt: skip


def run(repeats: int, steps: int) -> list[dict[str, Any]]:
    """Rows: the plain loop, then each variant; medians and paired ratios over `repeats`."""
    found: dict[str, list[dict[str, float]]] = {"plain loop": [], **{v: [] for v in OFF}}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mnist"
        write_data(data)
        case = {**cases(data, quick=True)["lenet5_bs256"], "steps": steps}
        for i in range(repeats):
            found["plain loop"].append(
                run_loop("plain", "lenet5_bs256", case, data, Path(tmp) / f"plain-{i}", "cpu")
            )
            for variant, overrides in OFF.items():
                variant_case = {**case, "overrides": [*case["overrides"], *overrides]}
                root = Path(tmp) / f"{len(found)}-{i}-{variant.replace(' ', '_')}"
                found[variant].append(run_loop("fabricx", "lenet5_bs256", variant_case, data, root, "cpu"))  # fmt: skip
    rows = []
    for variant, runs in found.items():
        ratios = paired(runs, found["plain loop"], "step_ms")
        rows.append({
            "variant": variant, "turned_off": " ".join(OFF.get(variant, [])) or "-",
            "step_ms": statistics.median(r["step_ms"] for r in runs),
            "vs_plain": statistics.median(ratios), "range": f"{min(ratios):.2f}-{max(ratios):.2f}",
            "runs_ms": [round(r["step_ms"], 2) for r in runs],
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loop_ablation")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--steps", type=int, default=288, help="LeNet-5 steps a run (24/epoch)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = run(args.repeats, args.steps)
    table = markdown(rows, [("variant", "variant"), ("turned_off", "overrides"),
                            ("step_ms", "ms/step"), ("vs_plain", "vs plain x"),
                            ("range", "repeats vs plain")])  # fmt: skip
    text = (f"# LeNet-5 loop ablation: {time.strftime('%Y-%m-%d')}, {platform.node()}\n\n"
            f"{args.repeats} repeats of {args.steps} steps, batch 256, CPU\n\n{table}\n")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{time.strftime('%Y-%m-%d')}-{platform.node() or 'host'}-loop-ablation"
    for suffix, content in ((".json", json.dumps(rows, indent=2) + "\n"), (".md", text)):
        write_whole(stem.with_name(stem.name + suffix), content)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
