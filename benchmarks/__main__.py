"""`python -m benchmarks`: fabricx side by side with the code it replaces, in one run.

    python -m benchmarks                     # quick: about 2 minutes on 2 CPU cores
    python -m benchmarks --full              # more steps, data and repeats
    python -m benchmarks --only loop,startup # some sections
    python -m benchmarks --device cuda       # on a GPU (the default when one is visible)

Sections: loop (training-loop overhead: plain torch, Lightning Fabric, bare Trainer, fabricx,
fabricx with compile),
startup (--help, config, first optimizer step, against `import lightning`), data
(tensor-resident loader against a per-sample DataLoader), inference (eager, ONNX Runtime,
INT8), transformer (a BERT-base-shaped token classifier on CPU: eager, ONNX Runtime, its
transformer optimizer, dynamic INT8), airbench (GPU only: the airbench recipe's time per
epoch), time_to_result (the default run's stages against `import lightning`), runs
(`fabricx runs` on 1,000 synthetic run directories; report.html's time and size). Writes
benchmarks/results/<date>-<host>.json and .md and prints the markdown. Benchmarks are not
tests: nothing is asserted; targets are reported as met or not.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import markdown, write_whole

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = {  # name -> module in benchmarks/
    "loop": "loop", "startup": "startup", "data": "data_loading", "inference": "inference",
    "airbench": "airbench", "time_to_result": "time_to_result", "transformer": "transformer_cpu",
    "runs": "runs_table",
}  # fmt: skip
COLUMNS = {
    "loop": [("case", "case"), ("loop", "loop"), ("step_ms", "ms/step"),
             ("step_vs_plain", "vs plain x"), ("step_vs_plain_range", "repeats vs plain"),
             ("step_vs_lightning", "vs Trainer x"),
             ("epoch_s", "s/epoch"), ("epoch_vs_plain", "epoch vs plain x"),
             ("compile_s", "compile s")],
    "startup": [("command", "command"), ("median_s", "median s"),
                ("vs_import_lightning", "vs import lightning x"), ("target_s", "target s"),
                ("meets_target", "met")],
    "data": [("loader", "loader"), ("device", "device"), ("batch_size", "batch"),
             ("samples_per_s", "samples/s"), ("vs_dataloader", "vs DataLoader x")],
    "inference": [("model", "model"), ("runtime", "runtime"), ("batch_size", "batch"),
                  ("p50_ms", "p50 ms"), ("vs_eager_fp32", "vs eager x"),
                  ("vs_ort_fp32", "vs ORT fp32 x")],
    "time_to_result": [("part", "part of the default run"), ("median_s", "median s")],
    "transformer": [("runtime", "runtime"), ("batch_size", "batch"), ("p50_ms", "p50 ms"),
                    ("min_ms", "min ms"),
                    ("vs_eager_fp32", "vs eager x"), ("vs_ort_fp32", "vs ORT fp32 x"),
                    ("vs_ort_optimized", "vs ORT optimized x")],
    "runs": [("case", "case"), ("runs", "run directories"), ("median_s", "median s"),
             ("bytes", "page bytes")],
    "airbench": [("precision", "precision"), ("epoch_s", "s/epoch"),
                 ("reference_epoch_s", "airbench94 s/epoch (A100)"),
                 ("vs_reference", "vs reference x")],
}  # fmt: skip


def targets(sections: dict[str, Any]) -> list[str]:
    """The harness's targets, each with its numbers and whether it is met."""
    out = []
    rows = {(r["case"], r["loop"]): r for r in sections.get("loop", {}).get("rows", [])}
    if ("lenet5_bs256", "fabricx_compile") in rows:
        ratio = rows["lenet5_bs256", "fabricx_compile"]["step_vs_plain"]
        out.append(f"LeNet-5 compile step below the plain eager loop: {ratio:.3f}x -> "
                   f"{'met' if ratio < 1.0 else 'NOT met'}")  # fmt: skip
    if ("lenet5_bs256", "fabricx") in rows:
        ratio = rows["lenet5_bs256", "fabricx"]["step_vs_lightning"]
        out.append(f"LeNet-5 without compile no slower than a bare Trainer: {ratio:.3f}x -> "
                   f"{'met' if ratio <= 1.0 else 'NOT met'}")  # fmt: skip
    if ("mlp_64-128-10_bs64", "fabricx") in rows:
        ratio = rows["mlp_64-128-10_bs64", "fabricx"]["step_vs_lightning"]
        out.append(f"tiny MLP step no slower than a bare Trainer: {ratio:.3f}x -> "
                   f"{'met' if ratio <= 1.0 else 'NOT met'}")  # fmt: skip
    if "time_to_result" in sections:
        ratio = sections["time_to_result"]["target_ratio"]
        out.append(f"default run: (wall - import lightning) at most 2x fit: {ratio:.2f}x -> "
                   f"{'met' if ratio <= 2.0 else 'NOT met'}")  # fmt: skip
    if sections.get("transformer", {}).get("rows"):
        from benchmarks.transformer_cpu import targets as transformer_targets

        out += transformer_targets(sections["transformer"])
    for r in sections.get("startup", {}).get("rows", []):
        if r["target_s"] is not None:
            out.append(f"{r['command']} under {r['target_s']} s: {r['median_s']:.3f} s -> "
                       f"{'met' if r['meets_target'] else 'NOT met'}")  # fmt: skip
    return out


def report_markdown(report: dict[str, Any]) -> str:
    head = (f"# fabricx benchmarks, {report['mode']} mode: {report['date']}, {report['host']}\n\n"
            f"{report['machine']}\n")  # fmt: skip
    parts = [head]
    for name, section in report["sections"].items():
        parts.append(f"## {name}\n")
        if section.get("rows"):
            parts.append(markdown(section["rows"], COLUMNS[name]) + "\n")
        for key in ("notes", "reference", "error"):
            if section.get(key):
                parts.append(f"{key}: {section[key]}\n")
    if report["targets"]:
        parts.append("## targets\n\n" + "\n".join(f"- {t}" for t in report["targets"]) + "\n")
    return "\n".join(parts)


def write(report: dict[str, Any], stem: Path) -> str:
    """The report as JSON and markdown beside each other (written whole, then renamed)."""
    text = report_markdown(report)
    for suffix, content in (
        (".json", json.dumps(report, indent=2, default=str) + "\n"),
        (".md", text),
    ):
        write_whole(stem.with_name(stem.name + suffix), content)
    return text


def machine(device: str) -> str:
    import lightning

    gpu = f", {torch.cuda.get_device_name()}" if device == "cuda" else ""
    return (f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} "
            f"threads), lightning {lightning.__version__}, Python {platform.python_version()}, "
            f"device {device}{gpu}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--full", action="store_true", help="more steps, data and repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default_device, choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is visible here; use --device cpu")
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "host": platform.node() or "host",
        "mode": "full" if args.full else "quick", "device": args.device,
        "machine": machine(args.device), "argv": sys.argv[1:], "sections": {},
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{report['date']}-{report['host']}" + ("-cuda" if args.device == "cuda" else "")
    for name in chosen:
        start = time.perf_counter()
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{SECTIONS[name]}")
        section = module.run(quick=not args.full, device=args.device)
        section["seconds"] = time.perf_counter() - start
        report["sections"][name] = section
        print(f"[benchmarks] {name}: {section['seconds']:.0f} s", file=sys.stderr, flush=True)
        report["targets"] = targets(report["sections"])
        text = write(report, args.out / stem)  # after every section: a cut-short run keeps it
    print(text)
    print(f"wrote {args.out / stem}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
