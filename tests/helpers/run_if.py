"""`RunIf`: the one gate for tests that need hardware or packages a machine may lack.

    @RunIf(gpu=True)           # a CUDA GPU
    @RunIf(min_gpus=2)         # at least two CUDA GPUs
    @RunIf(bf16=True)          # a CUDA GPU that supports bfloat16
    @RunIf(tensorrt=True)      # tensorrt >= 10 and a CUDA GPU (fabricx's own check)
    @RunIf(no_gpu=True)        # a refusal only a machine without a CUDA GPU gives
    @RunIf(no_tensorrt=True)   # the message a machine without TensorRT gives
    @RunIf(linux=True)

It is a list of marks: a `skipif` that names every unmet requirement, and `gpu` when any
requirement needs a GPU, so `python -m pytest -m gpu` selects exactly the GPU tests and
`-m "not gpu"` leaves them out. Use it as a decorator, as `pytestmark = RunIf(...)`, or in
`pytest.param(..., marks=RunIf(...))`.

SLURM and PostgreSQL are not here: the `slurm_cluster` and `postgres_url` fixtures
(tests/helpers/slurm_cluster.py, postgres_server.py) skip with their reason.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest
import torch


@functools.cache
def _tensorrt_missing() -> str | None:
    from fabricx.export.tensorrt import tensorrt_unavailable_reason

    return tensorrt_unavailable_reason()


class RunIf(list):
    """The marks for a test that runs only where every requirement given holds."""

    def __init__(
        self,
        *,
        gpu: bool = False,
        min_gpus: int = 0,
        bf16: bool = False,
        tensorrt: bool = False,
        no_gpu: bool = False,
        no_tensorrt: bool = False,
        linux: bool = False,
    ) -> None:
        unmet: list[str] = []
        cuda = torch.cuda.is_available()
        if gpu and not cuda:
            unmet.append("a CUDA GPU")
        if min_gpus and (torch.cuda.device_count() if cuda else 0) < min_gpus:
            unmet.append(f"{min_gpus} CUDA GPUs")
        if bf16 and not (cuda and torch.cuda.is_bf16_supported()):
            unmet.append("a CUDA GPU with bf16")
        if tensorrt and _tensorrt_missing() is not None:
            unmet.append(f"tensorrt and a CUDA GPU ({_tensorrt_missing()})")
        if no_gpu and cuda:
            unmet.append("no CUDA GPU (it checks what a CPU-only machine does)")
        if no_tensorrt and _tensorrt_missing() is None:
            unmet.append("no TensorRT (it checks what a machine without it says)")
        if linux and not sys.platform.startswith("linux"):
            unmet.append("Linux")
        marks = [pytest.mark.skipif(bool(unmet), reason="needs " + "; ".join(unmet))]
        if gpu or min_gpus or bf16 or tensorrt:
            marks.append(pytest.mark.gpu)
        super().__init__(marks)

    def __call__(self, test: Any) -> Any:
        for mark in self:
            test = mark(test)
        return test
