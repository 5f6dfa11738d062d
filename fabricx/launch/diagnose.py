"""Which command-line argument broke Hydra's composition, and why, in one line each.

Hydra stops at the first bad override and its messages name neither the argument nor a fix.
`diagnose` composes again override by override to blame the argument that broke it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf.errors import OmegaConfBaseException

from fabricx.config.paths import group_options
from fabricx.config.problems import as_typed, omegaconf_problem
from fabricx.errors import Problem, did_you_mean

Compose = Callable[[list[str]], Any]


def diagnose(
    compose: Compose, overrides: list[str], config_dir: str | None, err: Exception
) -> tuple[list[Problem], list[str] | None]:
    """Find which overrides broke composition, by composing with each one alone.

    Returns:
        (the problems, the overrides that compose together), so the rest of the config can
        still be checked; None instead of a list when even the config files do not compose.

    Args:
        compose: composes the config with a list of overrides (raises what Hydra raises).
        overrides: the command line's overrides.
        config_dir: the user's --config-dir, whose options count as valid.
        err: the error of the composition with every override.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    problems: list[Problem] = []
    good_groups: list[str] = []
    values: list[Any] = []
    for o in parsed:
        key = o.get_key_element()
        options = group_options(o.key_or_group, config_dir) if "." not in o.key_or_group else None
        if options is None:
            values.append(o)
            continue
        chosen = o.value()
        chosen = list(chosen) if isinstance(chosen, list) else [chosen]
        bad = [str(c) for c in chosen if str(c) not in options]
        if bad:
            problems += [
                Problem(
                    f"{key}={b}: '{o.key_or_group}' has no option '{b}'.",
                    key=key,
                    value=b,
                    fix=f"Options: {', '.join(options)}.{did_you_mean(b, options)}",
                    source=f"command-line override '{as_typed(o.input_line)}'",
                )
                for b in bad
            ]
        else:
            good_groups.append(o.input_line)
    try:
        compose(good_groups)
    except Exception as base_err:  # the config files themselves are broken
        return [*problems, _hydra_problem(base_err, "the composed config files")], None
    usable = list(good_groups)
    for o in values:
        try:
            compose([*good_groups, o.input_line])
        except Exception as one_err:  # this override alone breaks composition
            source = f"command-line override '{as_typed(o.input_line)}'"
            problems.append(_hydra_problem(one_err, source))
        else:
            usable.append(o.input_line)
    if not problems:  # together they fail, one by one they do not
        return [_hydra_problem(err, "the command line")], None
    return problems, usable


def _hydra_problem(err: Exception, source: str) -> Problem:
    """One line for a Hydra/OmegaConf composition error: key, source, closest names."""
    cause: BaseException | None = err
    # Hydra re-raises some OmegaConf errors inside `except` without `from`: follow both links.
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OmegaConfBaseException):
        first = str(err).splitlines()[0]
        if first.startswith("In '"):  # "In 'optim/badopt': ..." names the YAML file
            source = f"config file {first[4:].split(chr(39), 1)[0]}.yaml"
        return omegaconf_problem(cause, source)
    first = str(err).splitlines()[0]
    if "Could not find" in first:  # a defaults-list entry names a missing option
        return Problem(first.split(": ", 1)[-1], fix="Check the option name.", source=source)
    return Problem(first, source=source)
