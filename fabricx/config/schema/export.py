"""export=: the deployment targets (ONNX, fp16, INT8, TensorRT) and how each is verified."""

from __future__ import annotations

from dataclasses import dataclass, field

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError, Problem, check_choice

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# export.onnx.optimize and export.onnx_int8.method (fabricx.export.family says what auto picks).
OPTIMIZE_CHOICES = ("auto", "none", "transformer")
INT8_METHODS = ("auto", "static", "dynamic")
ONNX_TARGETS = ("onnx", "onnx_fp16", "onnx_int8")
EXPORT_TARGETS = (*ONNX_TARGETS, "tensorrt")


@dataclass
class Tolerance:
    """How close an artifact must stay to the eager fp32 model; set per target's precision."""

    atol: float = 1e-4
    rtol: float = 1e-3
    max_metric_drop: float = field(
        default=0.005, metadata=help_text("Largest allowed test-metric loss through the runtime.")
    )

    def check_tolerance(self, key: str) -> None:
        # `not >= 0` also refuses NaN, which every comparison would let through.
        if not (self.atol >= 0 and self.rtol >= 0 and self.max_metric_drop >= 0):
            raise ConfigError(
                f"{key}: atol={self.atol}, rtol={self.rtol} and max_metric_drop="
                f"{self.max_metric_drop} must all be numbers >= 0."
            )


@dataclass
class OnnxExportConfig(Tolerance):
    """model.onnx: fp32, from torch.onnx's dynamo exporter. Every ONNX target starts here."""

    opset: int = 18
    dynamic_batch: bool = True
    external_data: bool = field(
        default=False, metadata=help_text("Keep weights in model.onnx.data beside the graph.")
    )
    optimize: str = field(
        default="auto",
        metadata=help_text(
            f"One of {OPTIMIZE_CHOICES}: model.optimized.onnx by ONNX Runtime's transformer "
            "optimizer (auto: for transformers only; none: no such file)."
        ),
    )

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx")
        check_choice("export.onnx.optimize", self.optimize, OPTIMIZE_CHOICES)
        if not self.dynamic_batch:
            raise ConfigError(
                "export.onnx.dynamic_batch=false: verification and bench run several batch "
                "sizes, so the exported graph needs a dynamic batch axis; keep it true."
            )


@dataclass
class OnnxFp16Config(Tolerance):
    """model.fp16.onnx: model.onnx with fp16 weights and compute (onnxruntime's converter)."""

    keep_io_types: bool = field(
        default=True, metadata=help_text("Keep fp32 inputs/outputs, so callers feed the same data.")
    )
    atol: float = 1e-2
    rtol: float = 1e-2
    max_metric_drop: float = 0.005

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx_fp16")


@dataclass
class OnnxInt8Config(Tolerance):
    """model.int8.onnx: static Q/DQ quantization calibrated on training batches (conv and
    dense nets; the same file runs on ONNX Runtime and TensorRT), or dynamic quantization
    (transformers and recurrent nets; ONNX Runtime only)."""

    method: str = field(
        default="auto",
        metadata=help_text(
            f"One of {INT8_METHODS}; auto: dynamic for transformers and recurrent nets, "
            "static Q/DQ for the rest."
        ),
    )
    calibration_batches: int = field(
        default=16, metadata=help_text("Training batches that calibrate the activation ranges.")
    )
    calibrate_method: str = field(
        default="minmax", metadata=help_text(f"One of {CALIBRATION_METHODS}.")
    )
    per_channel: bool = True  # one scale per output channel: better accuracy, same speed
    op_types: list[str] | None = field(
        default=None,
        metadata=help_text(
            "Ops to quantize; the rest stay fp32. None: static [MatMul, Gemm, Conv], "
            "dynamic [MatMul, Attention, LSTM]."
        ),
    )
    atol: float = 0.5
    rtol: float = 0.1
    max_metric_drop: float = 0.02

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx_int8")
        method = self.calibrate_method
        check_choice("export.onnx_int8.calibrate_method", method, CALIBRATION_METHODS)
        check_choice("export.onnx_int8.method", self.method, INT8_METHODS)
        if self.calibration_batches < 1:
            raise ConfigError(
                f"export.onnx_int8.calibration_batches={self.calibration_batches} must be >= 1."
            )


@dataclass
class TensorrtConfig(Tolerance):
    """model.plan: a strongly typed TensorRT engine built from one of the ONNX files; its
    precision is that file's (fp32, fp16 or INT8 Q/DQ). Needs an NVIDIA GPU and tensorrt."""

    source: str = field(
        default="onnx", metadata=help_text(f"The ONNX file to build from, {ONNX_TARGETS}.")
    )
    workspace_gb: float = field(default=4.0, metadata=help_text("Builder scratch memory limit."))
    timing_cache: str = field(
        default="~/.cache/fabricx/tensorrt-timing.cache",
        metadata=help_text("Kernel timings reused across builds on the same GPU; empty: none."),
    )
    atol: float = 1e-2  # TensorRT may run fp32 matmuls in TF32
    rtol: float = 1e-2
    max_metric_drop: float = 0.005

    def __post_init__(self) -> None:
        self.check_tolerance("export.tensorrt")
        check_choice("export.tensorrt.source", self.source, ONNX_TARGETS)
        if self.workspace_gb <= 0:
            raise ConfigError(f"export.tensorrt.workspace_gb={self.workspace_gb} must be > 0.")


@dataclass
class VerifyConfig:
    """How exported models are checked against the eager model (tolerances: per target)."""

    batch_sizes: list[int] = field(default_factory=lambda: [1, 16, 64])

    def __post_init__(self) -> None:
        if len(self.batch_sizes) < 2 or min(self.batch_sizes) < 1:
            raise ConfigError(
                f"export.verify.batch_sizes={self.batch_sizes}: give at least two sizes >= 1,"
                " so the dynamic batch dimension is exercised."
            )


TARGET_SCHEMAS: dict[str, type[Tolerance]] = {
    "onnx": OnnxExportConfig,
    "onnx_fp16": OnnxFp16Config,
    "onnx_int8": OnnxInt8Config,
    "tensorrt": TensorrtConfig,
}


def check_tensorrt_source(method: str, source: str) -> None:
    """TensorRT reads INT8 only as Q/DQ: a dynamic INT8 file cannot be its source. (With
    method=auto the model decides; the export stage checks that once it knows the family.)"""
    if source == "onnx_int8" and method == "dynamic":
        raise ConfigError(
            Problem(
                "export.onnx_int8.method='dynamic' writes dynamically quantized ops that "
                "TensorRT cannot read, and export.tensorrt.source=onnx_int8 builds the engine "
                "from that file (TensorRT reads INT8 as Q/DQ only).",
                keys=("export.onnx_int8.method", "export.tensorrt.source"),
                value=method,
                fix="Set export.onnx_int8.method=static.",
            )
        )


@dataclass
class ExportConfig:
    """Export targets: each option of the `export` group fills in its own key, so
    `export=[onnx,onnx_int8]` selects several."""

    onnx: OnnxExportConfig | None = None
    onnx_fp16: OnnxFp16Config | None = None
    onnx_int8: OnnxInt8Config | None = None
    tensorrt: TensorrtConfig | None = None
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def __post_init__(self) -> None:
        source = self.tensorrt.source if self.tensorrt is not None else "onnx"
        if source != "onnx" and getattr(self, source) is None:
            raise ConfigError(
                f"export.tensorrt.source={source} but export does not produce it; add it: "
                f"export=[onnx,{source},tensorrt]."
            )
        if self.onnx_int8 is not None and self.tensorrt is not None:
            check_tensorrt_source(self.onnx_int8.method, self.tensorrt.source)

    @property
    def targets(self) -> list[str]:
        return [name for name in EXPORT_TARGETS if getattr(self, name) is not None]

    @property
    def base_onnx(self) -> OnnxExportConfig:
        """Settings of the fp32 model.onnx that fp16 and INT8 derive from (defaults when only
        a derived target was asked for)."""
        return self.onnx or OnnxExportConfig()
