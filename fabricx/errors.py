"""Exception types that carry their exit status, so the CLI can map them without a traceback.

Every exit status of `fabricx`, in one place (EXIT_STATUSES; the CLI's --help prints it):

- 0: done.
- 1: a stage failed (StageError: a parity or metric check, or any other failure found while
  the run worked); the run directory and every file it wrote are kept.
- 2: a config error (ConfigError): a problem with what the command asked, found before any
  work starts, each named with its key, its source and a fix.
- 3: done, but a requested target was skipped here (TargetsSkipped: tensorrt without a GPU).
- 4: `fabricx reproduce` ran, but the mean missed the recipe's number.
- 5: a sweep trial was pruned (TrialPruned): a result, not a failure.
- 6: a data error (DataError): a data file that cannot be read, or data that contradicts a
  setting (data.num_classes, data.val_size), with the file and the line or item.
- 7: an artifact error (ArtifactError): a checkpoint, ONNX file or TensorRT engine that
  cannot be built or loaded back (corrupt, foreign to this machine, its sidecar broken).
- 130, 143: stopped by SIGINT (Ctrl-C) or SIGTERM (fabricx.runs.signals.Interrupted).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from typing import Any


class Problem(str):
    """One config problem: its text as printed, and the structure behind it.

    A str, so it prints and compares as its text (every caller that joins, matches or
    prints problems keeps working); the fields say what it is about without parsing that
    text: where a key's value came from (fabricx.config.problems.with_source) reads `keys`.

    Attributes:
        key: the config key the problem is about (`optim.lr`, `model.widht`); None for a
            problem made from a plain string, or one about no single key.
        keys: every key it is about, `key` first (a rule that joins two keys names both).
        value: the value it refuses, as given; None when there is none to show.
        message: what is wrong, without the fix.
        fix: what to do about it ("Did you mean: lr?", "Set data.path=<value>."); "" if none.
        source: where the value came from ("command-line override 'optim.lr=-1'", a config
            file); None until it is known.

    Example::

        Problem("optim.lr=-1 must be > 0.", key="optim.lr", value=-1)
    """

    key: str | None
    keys: tuple[str, ...]
    value: Any
    message: str
    fix: str
    source: str | None

    def __new__(
        cls,
        message: str,
        keys: Iterable[str] = (),
        *,
        key: str | None = None,
        value: Any = None,
        fix: str = "",
        source: str | None = None,
    ) -> Problem:
        fix = fix.strip()
        problem = super().__new__(cls, _render(str(message), fix, source))
        keys = tuple(keys)
        key = key if key is not None else (keys[0] if keys else None)
        problem.key = key
        problem.keys = (key, *(k for k in keys if k != key)) if key is not None else keys
        problem.value = value
        problem.message = str(message)
        problem.fix = fix
        problem.source = source
        return problem

    def replace(self, **changes: Any) -> Problem:
        """This problem with some fields changed (its text rendered again)."""
        fields = {
            "message": self.message, "keys": self.keys, "key": self.key, "value": self.value,
            "fix": self.fix, "source": self.source,
        }  # fmt: skip
        fields.update(changes)
        message = fields.pop("message")
        return Problem(message, **fields)


def _render(message: str, fix: str, source: str | None) -> str:
    """`message (from source). fix`: the source inside the message's sentence, the fix after.

    "optim.lr=-1 must be > 0." from an override -> "optim.lr=-1 must be > 0 (from
    command-line override 'optim.lr=-1')."
    """
    body, end = (message[:-1], ".") if message.endswith(".") else (message, "")
    if source:
        body += f" (from {source})"
    if fix:
        return f"{body}. {fix}" if not body.endswith((".", "?", "!")) else f"{body} {fix}"
    return body + end


class FabricxError(Exception):
    """A failure fabricx explains itself: the CLI prints the message, not a traceback."""

    exit_code = 1


class ConfigError(FabricxError):
    """One or more problems with what the command asked, found before any work starts
    (exit status 2). A problem found once a run works is another error: DataError,
    ArtifactError or StageError.

    Args:
        problems: one per problem, each naming the key, where it came from and a fix; a
            plain string becomes a Problem without structure (key None).
    """

    exit_code = 2

    def __init__(self, problems: str | Iterable[str]) -> None:
        problems = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [p if isinstance(p, Problem) else Problem(str(p)) for p in problems]
        super().__init__("\n".join(self.problems))


class DataError(FabricxError):
    """A data file that cannot be read as its format says, or data that contradicts a
    setting (exit status 6), found by reading the data: in a datamodule's `check_data()`
    before a run directory exists, or in its `setup()`.

    The message names the file, the line or item, and what is wrong, so the user can fix or
    replace that file (or the setting it names); a config error (2) is found from the
    command alone, this one only by reading the data.
    """

    exit_code = 6


class StageError(FabricxError):
    """A stage ran and failed (exit status 1): its check failed (parity, metric drop), or
    something else went wrong once the run worked (a checkpoint gone); every file it wrote
    is kept."""

    exit_code = 1


class ArtifactError(FabricxError):
    """A file a run builds or reads back cannot be built or loaded (exit status 7): a
    checkpoint that does not unpickle, an ONNX file ONNX Runtime refuses, a TensorRT engine
    that does not build or does not fit this machine, or its sidecar broken or missing.

    The message names the file and how to build it again.
    """

    exit_code = 7


class TargetsSkipped(FabricxError):
    """Everything ran, but a requested target could not run here (exit status 3).

    Scripts can tell "done" (0) from "done without, e.g., the TensorRT engine" (3).
    """

    exit_code = 3


class TrialPruned(FabricxError):
    """A sweep trial stopped early by the study's pruner: a result, not a failure (exit 5).

    The sweep worker records the trial as pruned; metrics.json says status "pruned".
    """

    exit_code = 5


# Every exit status of `fabricx`: the module docstring explains each, `fabricx --help` prints
# this, README.md repeats it.
EXIT_STATUSES: dict[int, str] = {
    0: "done",
    StageError.exit_code: "a stage failed (a check, or another failure once the run worked)",
    ConfigError.exit_code: "a config error, before any work (named with its source and a fix)",
    TargetsSkipped.exit_code: "done, but a requested target was skipped (e.g. tensorrt without"
    " a GPU)",
    4: "a recipe's number was not reproduced",
    TrialPruned.exit_code: "a sweep trial was pruned",
    DataError.exit_code: "a data error: a file that cannot be read, or data that contradicts a"
    " setting (the file and line or item named)",
    ArtifactError.exit_code: "an artifact error: a checkpoint, ONNX file or TensorRT engine that"
    " cannot be built or loaded",
    130: "interrupted (SIGINT)",
    143: "terminated (SIGTERM)",
}


def exit_status_help(width: int = 88) -> str:
    """The "Exit status:" paragraph of `fabricx --help`, from EXIT_STATUSES."""
    import textwrap

    # "\0" keeps each code on the line of its first word; it becomes a space after wrapping.
    text = "; ".join(f"{code}\0{what}" for code, what in EXIT_STATUSES.items())
    return textwrap.fill(f"Exit status: {text}.", width).replace("\0", " ")


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for the closest candidates, or '' when none is close."""
    candidates = list(candidates)
    prefixed = [c for c in candidates if c.startswith(word) or word.startswith(c)]
    close = difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)
    matches = list(dict.fromkeys([*close, *prefixed]))[:n]
    return f" Did you mean: {', '.join(matches)}?" if matches else ""


def check_choice(key: str, value: object, choices: Iterable[str]) -> None:
    """Raise ConfigError when `value` is not one of `choices`, listing them and the closest."""
    choices = list(choices)
    # Schema defaults such as "${metric.mode}" are built raw by OmegaConf before resolution;
    # the same check runs again on the resolved value in OmegaConf.to_object.
    if isinstance(value, str) and value.startswith("${"):
        return
    if value not in choices:
        raise ConfigError(
            Problem(
                f"{key}={value!r} is not one of {choices}.",
                key=key,
                value=value,
                fix=did_you_mean(str(value), choices),
            )
        )


def report(err: FabricxError) -> None:
    """Print `err` for a user on stderr: one line, or one line per problem; no traceback."""
    kind = "error"
    if isinstance(err, ConfigError):
        kind = "config error"
    elif isinstance(err, TargetsSkipped):
        kind = "skipped"
    elif isinstance(err, TrialPruned):
        kind = "pruned"
    elif isinstance(err, DataError):
        kind = "data error"
    elif isinstance(err, ArtifactError):
        kind = "artifact error"
    problems = getattr(err, "problems", None) or [str(err)]
    if len(problems) == 1:
        print(f"fabricx: {kind}: {problems[0]}", file=sys.stderr)
    else:
        print(f"fabricx: {kind}s ({len(problems)}):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
