"""Check the class labels a data file holds against the number of classes the model has.

A label outside 0..num_classes-1 would index past the model's output: cross-entropy fails
on the CPU with an opaque index error, or triggers a device-side assert on a GPU, mid-run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from fabricx.errors import DataError

# The label id that losses and metrics skip: padding, and the pieces of a word after its first
# (torch's cross_entropy ignores -100 by default).
IGNORE = -100


def check_label_range(path: Path, labels: npt.ArrayLike, num_classes: int) -> None:
    """Every label of the file `path` must lie in 0..num_classes-1.

    Args:
        path: the file the labels were read from (for the message).
        labels: its labels, in file order (a CPU tensor is fine).
        num_classes: the model's number of classes (data.num_classes).

    Raises:
        DataError: naming the file, the first item out of range and its label.
    """
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if not len(bad):
        return
    item, value = int(bad[0]), int(labels[bad[0]])
    if value < 0:
        fix = "labels are class indices from 0: fix or replace the file."
    else:
        fix = (
            f"fix or replace the file, or set data.num_classes={int(labels.max()) + 1} if the "
            "data has that many classes."
        )
    raise DataError(
        f"{path}: item {item} has label {value}, outside 0..{num_classes - 1} (data.num_classes="
        f"{num_classes}); {len(bad)} of {len(labels)} labels are out of range; {fix}"
    )
