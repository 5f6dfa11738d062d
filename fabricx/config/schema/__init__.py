"""The dataclass schemas of fabricx's own settings, one module per config group.

Components (data, model, task, optim, scheduler, loggers, extra callbacks) and the trainer
have no dataclass: their schema is the target's own signature (fabricx.config.components).
What is fabricx's own has one here, registered in Hydra's ConfigStore as `base_*` by
`fabricx.launch.compose.register()` (Hydra's structured-config tutorial, 5.2), and the YAML
files under
`conf/` name it in their defaults list. Nothing here imports torch or lightning.
"""

from __future__ import annotations

from fabricx.config.schema.bench import BenchConfig
from fabricx.config.schema.callbacks import (
    CallbacksConfig,
    CheckpointConfig,
    EarlyStoppingConfig,
)
from fabricx.config.schema.compile import COMPILE_MODES, CompileConfig
from fabricx.config.schema.export import (
    EXPORT_TARGETS,
    ONNX_TARGETS,
    TARGET_SCHEMAS,
    ExportConfig,
    OnnxExportConfig,
    OnnxFp16Config,
    OnnxInt8Config,
    TensorrtConfig,
    Tolerance,
    VerifyConfig,
)
from fabricx.config.schema.finished_run import (
    BenchRunConfig,
    EvalConfig,
    ExportRunConfig,
    FinishedRunConfig,
)
from fabricx.config.schema.precision import PRECISIONS, PrecisionConfig
from fabricx.config.schema.recipe import ExpectedConfig
from fabricx.config.schema.strategy import DDPStrategyConfig, FSDPStrategyConfig, StrategyConfig
from fabricx.config.schema.sweep import SweepConfig, SweepRunConfig
from fabricx.config.schema.train import (
    DEFAULT_TARGET_PREFIXES,
    STAGES,
    MetricConfig,
    PathsConfig,
    TrainConfig,
)

# Group -> {schema name -> dataclass}: the options' YAML files name these in their defaults
# list; names start with `base_` so they never read as user-facing options.
GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "precision": {"base_precision": PrecisionConfig},
    "strategy": {
        "base_strategy": StrategyConfig,
        "base_ddp": DDPStrategyConfig,
        "base_fsdp": FSDPStrategyConfig,
    },
    "callbacks": {"base_callbacks": CallbacksConfig},
    "export": {"base_export": ExportConfig},
}
PRIMARY_SCHEMAS: dict[str, type] = {
    "base_train": TrainConfig,
    "base_sweep": SweepRunConfig,
    "base_eval": EvalConfig,
    "base_export_run": ExportRunConfig,
    "base_bench_run": BenchRunConfig,
}


__all__ = [
    "COMPILE_MODES", "DEFAULT_TARGET_PREFIXES", "EXPORT_TARGETS", "GROUP_SCHEMAS",
    "ONNX_TARGETS", "PRECISIONS", "PRIMARY_SCHEMAS", "STAGES", "TARGET_SCHEMAS", "BenchConfig",
    "BenchRunConfig", "CallbacksConfig", "CheckpointConfig", "CompileConfig",
    "DDPStrategyConfig", "EarlyStoppingConfig", "EvalConfig", "ExpectedConfig", "ExportConfig",
    "ExportRunConfig", "FSDPStrategyConfig", "FinishedRunConfig", "MetricConfig",
    "OnnxExportConfig", "OnnxFp16Config", "OnnxInt8Config", "PathsConfig", "PrecisionConfig",
    "StrategyConfig", "SweepConfig", "SweepRunConfig", "TensorrtConfig", "Tolerance",
    "TrainConfig", "VerifyConfig",
]  # fmt: skip
