"""compile.*: torch.compile of the model during fit (and the test stage after it).

Off by default: on the measured CPUs compiling pays for LeNet-5 but not for the tiny MLP,
and it adds tens of seconds of compile time to a first run (README, "Speed").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError, check_choice

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class CompileConfig:
    """`torch.compile` of the task's `model` (else of the task's own forward), in place.

    The checkpoints' keys, export, verify and bench are the same as an eager run's: they use
    the original module, never the compiled one. The time spent compiling is reported as
    `fit/compile_s`, apart from `fit/step_ms`.
    """

    enabled: bool = field(
        default=False,
        metadata=help_text("torch.compile the model: compile.enabled=true compile.mode=..."),
    )
    mode: str = field(default="default", metadata=help_text(f"One of {COMPILE_MODES}."))
    dynamic: bool | None = field(
        default=None,
        metadata=help_text(
            "null: torch decides (dynamic shapes after a second shape); true/false: always/never."
        ),
    )
    fullgraph: bool = field(
        default=False, metadata=help_text("true: a graph break is an error, not a fallback.")
    )
    backend: str = field(
        default="inductor", metadata=help_text("A torch.compile backend: inductor, eager, ...")
    )

    def __post_init__(self) -> None:
        check_choice("compile.mode", self.mode, COMPILE_MODES)
        if not self.backend or not str(self.backend).strip():
            raise ConfigError("compile.backend='' names no backend: give one, e.g. inductor.")
