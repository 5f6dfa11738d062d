"""precision=: Lightning's training precision, and how fp32 matrix products run."""

from __future__ import annotations

from dataclasses import dataclass, field

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError, check_choice

# Every value Lightning's Trainer accepts, in its long spelling; the short ones map onto them.
PRECISIONS = (
    "64-true", "32-true", "16-true", "16-mixed", "bf16-true", "bf16-mixed",
    "transformer-engine", "transformer-engine-float16",
)  # fmt: skip
SHORT_PRECISIONS = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}
MATMUL_PRECISIONS = ("highest", "high", "medium")


@dataclass
class PrecisionConfig:
    """Lightning's `precision`, plus torch's fp32 matmul precision and TF32.

    `tf32: true` lets fp32 matrix products and convolutions run in TF32 on Ampere and later
    GPUs (torch's matmul precision "high" and cuDNN's allow_tf32): faster, about 3 decimal
    digits. Refused where no such GPU is visible.
    """

    name: str = field(default="32-true", metadata=help_text(f"One of {PRECISIONS}."))
    tf32: bool = field(default=False, metadata=help_text("TF32 matmuls and convolutions."))
    matmul_precision: str | None = field(
        default=None,
        metadata=help_text(
            "torch.set_float32_matmul_precision; null: 'high' with tf32, else 'highest'."
        ),
    )

    def __post_init__(self) -> None:
        self.name = SHORT_PRECISIONS.get(str(self.name), str(self.name))
        check_choice("precision.name", self.name, PRECISIONS)
        if self.matmul_precision is not None:
            check_choice("precision.matmul_precision", self.matmul_precision, MATMUL_PRECISIONS)
        if self.tf32 and self.matmul_precision == "highest":
            raise ConfigError(
                "precision.tf32=true and precision.matmul_precision=highest disagree: TF32 "
                "is matmul precision 'high'; drop one of them."
            )

    @property
    def float32_matmul_precision(self) -> str:
        """The value for torch.set_float32_matmul_precision."""
        return self.matmul_precision or ("high" if self.tf32 else "highest")
