"""The command line of a DDP child rank (the ranks themselves: tests/e2e/test_ddp.py)."""

from __future__ import annotations

import pytest

from fabricx.launch.ranks import child_rank_command


def test_child_rank_command_outside_hydra_is_an_error():
    """It only makes sense inside a Hydra job; Lightning calls it only then."""
    with pytest.raises(ValueError, match="HydraConfig was not set"):
        child_rank_command(1)
