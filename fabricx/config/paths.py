"""Where fabricx's configs live, and which options a config group has."""

from __future__ import annotations

from pathlib import Path

from fabricx.errors import FabricxError


def conf_dir() -> Path:
    """The packaged `conf/` (inside the wheel) or the repository's (editable install)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FabricxError(
        f"fabricx's conf/ directory was not found beside {package}; reinstall fabricx."
    )


def group_options(group: str, config_dir: str | None = None) -> list[str] | None:
    """User-facing options of a config group, or None when `group` is no group.

    Read from the config directories (conf/ and the user's --config-dir) rather than from
    an initialised Hydra: it is only needed to explain a failed composition.
    """
    dirs = [conf_dir() / group] + ([Path(config_dir) / group] if config_dir else [])
    if not any(d.is_dir() for d in dirs):
        return None
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)
