"""Ranges as type hints: a constructor states its limits once, in its signature.

`Annotated[int, Ge(1)]` is still an `int` to the code and to readers; fabricx's checker
(pydantic reads annotated-types constraints) refuses a value outside the range before any
work starts, naming the argument. Use these aliases in your own components too, or write
`Annotated[...]` with annotated_types directly.

    from fabricx.config.constraints import PositiveInt, Probability

    class MyNet(nn.Module):
        def __init__(self, width: PositiveInt = 64, dropout: Probability = 0.1) -> None: ...
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Interval

PositiveInt = Annotated[int, Ge(1)]
NonNegativeInt = Annotated[int, Ge(0)]
PositiveFloat = Annotated[float, Gt(0)]
NonNegativeFloat = Annotated[float, Ge(0)]
# A dropout or masking probability: 0 keeps everything, 1 would drop everything.
Probability = Annotated[float, Interval(ge=0.0, lt=1.0)]
# A share of a dataset held out for a split: strictly between 0 and 1.
Fraction = Annotated[float, Interval(gt=0.0, lt=1.0)]
