"""Field helpers shared by the schemas: help text that travels with each field."""

from __future__ import annotations


def help_text(text: str) -> dict[str, str]:
    """Field metadata in accelerate's style: `field(default=..., metadata=help_text("..."))`."""
    return {"help": text}
