"""`fabricx eval`, `fabricx export` and `fabricx bench` on a finished run: what they take."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fabricx.config.schema.bench import BenchConfig
from fabricx.config.schema.export import ExportConfig
from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError


@dataclass
class FinishedRunConfig:
    """What every verb on a finished run takes: the run, its checkpoint, allowed modules."""

    run: str = field(default=MISSING, metadata=help_text("The run directory."))
    checkpoint: str = field(default="best", metadata=help_text("best, last, or a file path."))
    extra_target_prefixes: list[str] = field(
        default_factory=list,
        metadata=help_text(
            "Modules to allow beyond fabricx's defaults; the run's own list is not trusted."
        ),
    )
    allow_unsafe_targets: list[str] = field(
        default_factory=list,
        metadata=help_text(
            "Callables that load code or pickles (torch.load, torch.hub, trust_remote_code, "
            "...) to allow anyway; only from the command line, never from a file."
        ),
    )


@dataclass
class EvalConfig(FinishedRunConfig):
    """`fabricx eval run=<dir>`: re-evaluate a finished run with its own saved config."""

    verify_onnx: bool = field(
        default=True, metadata=help_text("Also verify every exported file in export/.")
    )
    accelerator: str = "auto"


@dataclass
class ExportRunConfig(FinishedRunConfig):
    """`fabricx export run=<dir> export=[...]`: export a finished run again, no training."""

    export: ExportConfig = field(default_factory=ExportConfig)
    verify: bool = field(default=True, metadata=help_text("Verify every artifact after export."))

    def __post_init__(self) -> None:
        if not self.export.targets:
            raise ConfigError(
                "export names no target: give some, e.g. export=[onnx] or "
                "export=[onnx,onnx_fp16,onnx_int8]."
            )


@dataclass
class BenchRunConfig(FinishedRunConfig):
    """`fabricx bench run=<dir>`: time a finished run's model on every runtime it has."""

    bench: BenchConfig = field(default_factory=BenchConfig)
