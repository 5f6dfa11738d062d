"""`fabricx doctor`: what this machine has, and whether the TensorRT path works on it.

A user with a GPU should not need a training run to learn whether TensorRT works here: the
self-check exports a tiny MLP, builds an engine from it, runs the engine at batch 1 and 64
and compares with eager. Without a GPU or without tensorrt it prints the one-line reason
and marks the check SKIPPED, which is not a failure (exit status 0).

Heavy imports (torch, onnxruntime, tensorrt) happen inside the functions, so importing this
module stays cheap for the CLI.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fabricx.version import __version__

BATCH_SIZES = [1, 64]  # batch 1 and a larger one: the dynamic batch axis is exercised
TYPICAL_BATCH = 8  # the profile's opt: neither end of the range
# TensorRT may run fp32 matmuls in TF32 (10 mantissa bits): logits of order 1 then move by
# ~1e-3. A broken engine (wrong weights, wrong shapes) is off by order 1.
ATOL = RTOL = 1e-2


@dataclass
class CheckResult:
    status: str  # PASS | FAIL | SKIPPED
    detail: str


def run(argv: list[str]) -> int:
    """Print versions and devices, run the TensorRT self-check; 1 if a check failed, else 0."""
    parser = argparse.ArgumentParser(
        prog="fabricx doctor",
        description="Print library versions and devices, then build a tiny TensorRT engine,"
        " run it and compare it with eager (skipped without a GPU or tensorrt).",
    )
    parser.parse_args(argv)
    console = Console()
    console.print(_versions_table())
    console.print(_devices_table())
    with console.status("TensorRT self-check: export, build, run, compare ..."):
        result = check_tensorrt()
    style = {"PASS": "bold green", "FAIL": "bold red", "SKIPPED": "yellow"}[result.status]
    console.print(
        f"TensorRT self-check: [{style}]{result.status}[/]: {result.detail}", soft_wrap=True
    )
    return 1 if result.status == "FAIL" else 0


def _versions_table() -> Table:
    import torch

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    rows = [
        ("python", platform.python_version(), ""),
        ("fabricx", __version__, ""),
        ("torch", torch.__version__, cuda),
        ("lightning", _dist_version("lightning"), ""),
        ("hydra-core", _dist_version("hydra-core"), ""),
        ("onnx", _dist_version("onnx"), ""),
        ("onnxscript", _dist_version("onnxscript"), ""),
        ("onnxruntime", *_onnxruntime()),
        ("wandb", _dist_version("wandb"), ""),
        ("tensorrt", _tensorrt_version(), ""),
    ]
    table = Table(title="versions", title_justify="left", show_edge=False)
    table.add_column("package")
    table.add_column("version")
    table.add_column("notes", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _dist_version(name: str) -> str:
    # Installed metadata, not an import: importing wandb alone takes about a second.
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _onnxruntime() -> tuple[str, str]:
    try:  # onnxruntime-gpu installs the same module under another distribution name
        import onnxruntime as ort
    except ImportError:
        return "not installed", ""
    return ort.__version__, "providers: " + ", ".join(ort.get_available_providers())


def _tensorrt_version() -> str:
    try:  # the wheel's distribution name varies (tensorrt, tensorrt-cu12, ...); the module not
        import tensorrt as trt
    except ImportError:
        return "not installed"
    except Exception as err:  # a broken install fails loading its shared libraries
        return f"fails to import: {err}"
    return str(trt.__version__)


def _devices_table() -> Table:
    import os

    import torch

    table = Table(title="devices", title_justify="left", show_edge=False)
    for column in ("device", "name", "compute capability", "memory"):
        table.add_column(column)
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        props = torch.cuda.get_device_properties(index)
        table.add_row(
            f"cuda:{index}",
            props.name,
            f"{props.major}.{props.minor}",
            f"{props.total_memory / 2**30:.1f} GiB",
        )
    if not torch.cuda.is_available():
        table.add_row("cuda", "none visible", "", "")
    table.add_row("cpu", platform.processor() or platform.machine(), "", f"{os.cpu_count()} cores")
    return table


def check_tensorrt() -> CheckResult:
    """Export a tiny MLP, build an engine, run it at BATCH_SIZES and compare with eager."""
    from fabricx.export.tensorrt import tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason()
    if reason is not None:  # the reason is worded for the export stage; here, the cause only
        return CheckResult("SKIPPED", reason.removeprefix("TensorRT target skipped: "))
    try:
        return _build_and_compare()
    except Exception as err:  # the self-check reports every failure, it does not raise
        return CheckResult("FAIL", f"{type(err).__name__}: {err}")


def _build_and_compare() -> CheckResult:
    import torch

    from fabricx.export.onnx import export_onnx
    from fabricx.export.parity import check_parity
    from fabricx.export.tensorrt import TrtRunner, build_engine, derive_profiles
    from fabricx.models.mlp import MLP

    torch.manual_seed(0)
    model = MLP(in_features=16, num_classes=4, hidden_sizes=[32]).eval()
    pool = {"x": torch.randn(max(BATCH_SIZES), 16)}
    with tempfile.TemporaryDirectory(prefix="fabricx-doctor-") as tmp:
        files = export_onnx(model, {"x": pool["x"][:TYPICAL_BATCH]}, Path(tmp) / "mlp.onnx")
        onnx_path = next(f for f in files if f.suffix == ".onnx")
        profiles = derive_profiles({"x": (TYPICAL_BATCH, 16)}, batch_sizes=BATCH_SIZES)
        sidecar = build_engine(
            onnx_path,
            Path(tmp) / "mlp.engine",
            profiles,
            workspace_bytes=256 << 20,
            timing_cache_path=Path(tmp) / "timing.cache",
        )
        runner = TrtRunner(Path(tmp) / "mlp.engine", onnx_path=onnx_path)
        results = check_parity(model, runner, pool, BATCH_SIZES, atol=ATOL, rtol=RTOL)
    diffs = ", ".join(f"batch {r.batch_size}: max abs diff {r.max_abs_diff:.2e}" for r in results)
    detail = (
        f"{diffs} (atol {ATOL:g}, rtol {RTOL:g}); TensorRT {sidecar.tensorrt_version} on"
        f" {sidecar.gpu_name} (compute capability {sidecar.compute_capability}), engine built"
        f" in {sidecar.build_seconds:.1f} s"
    )
    return CheckResult("PASS" if all(r.passed for r in results) else "FAIL", detail)
