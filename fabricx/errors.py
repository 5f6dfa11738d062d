"""Exception types that carry their exit status, so the CLI can map them without a traceback."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable


class Problem(str):
    """One config problem's text, carrying the config keys it is about.

    A str, so it prints and compares as its text; `keys` lets the CLI say where each key's
    value came from (an override, a file, an interpolation) without parsing the text.
    """

    keys: tuple[str, ...]

    def __new__(cls, text: str, keys: Iterable[str] = ()) -> Problem:
        problem = super().__new__(cls, text)
        problem.keys = tuple(keys)
        return problem


class FabricxError(Exception):
    """A failure fabricx explains itself: the CLI prints the message, not a traceback."""

    exit_code = 1


class ConfigError(FabricxError):
    """One or more problems in a config, found before any work starts (exit status 2).

    Args:
        problems: one message per problem; each names the key, where it came from and a fix.
    """

    exit_code = 2

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DataError(FabricxError):
    """A data file that cannot be read as its format says (exit status 6).

    The message names the file, the line or item, and what is wrong, so the user can fix or
    replace that file; a config error (2) is about the command, this is about the data.
    """

    exit_code = 6


class StageError(FabricxError):
    """A stage ran and its check failed (parity, metric drop); every file it wrote is kept."""

    exit_code = 1


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
            f"{key}={value!r} is not one of {choices}.{did_you_mean(str(value), choices)}"
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
    problems = getattr(err, "problems", None) or [str(err)]
    if len(problems) == 1:
        print(f"fabricx: {kind}: {problems[0]}", file=sys.stderr)
    else:
        print(f"fabricx: {kind}s ({len(problems)}):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
