"""Where fabricx's configs live, where the user's are, and which options a group has."""

from __future__ import annotations

from pathlib import Path

from fabricx.errors import FabricxError


def conf_dir() -> Path:
    """The packaged `conf/` (inside the wheel) or the repository's (editable install)."""
    return _shipped("conf", "train.yaml")


# A recipe is a folder under recipes/: its config, its published source, its latest verdict.
RECIPE_FILE = "recipe.yaml"


def recipes_dir() -> Path:
    """The packaged `recipes/` (inside the wheel) or the repository's (editable install)."""
    return _shipped("recipes", "README.md")


def _shipped(name: str, marker: str) -> Path:
    """A folder the wheel carries inside the package and a checkout keeps beside it, found
    by a file it always holds."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / name, package.parent / name):
        if (candidate / marker).is_file():
            return candidate
    raise FabricxError(
        f"fabricx's {name}/ directory was not found beside {package}; reinstall fabricx."
    )


def recipe_files(directory: Path | None = None) -> dict[str, Path]:
    """Recipe name -> its recipe.yaml, for every recipe folder."""
    root = directory or recipes_dir()
    return {p.parent.name: p for p in sorted(root.glob(f"*/{RECIPE_FILE}"))}


def user_config_dirs(config_dir: str | None = None) -> list[Path]:
    """The user's config folders, searched beside conf/: --config-dir, then the project's
    (`[tool.fabricx] config-dir`)."""
    from fabricx.config.project import active_project

    dirs = [Path(config_dir).resolve()] if config_dir else []
    project = active_project()
    own = project.config_dir.resolve() if project and project.config_dir else None
    if own is not None and own not in dirs:
        dirs.append(own)
    return dirs


def searchpath_override(config_dir: str | None = None) -> list[str]:
    """The `hydra.searchpath=[...]` override that adds the user's config folders, or []."""
    dirs = user_config_dirs(config_dir)
    quoted = ",".join(f"'file://{d}'" for d in dirs)
    return [f"hydra.searchpath=[{quoted}]"] if dirs else []


def group_options(group: str, config_dir: str | None = None) -> list[str] | None:
    """User-facing options of a config group, or None when `group` is no group.

    Read from the config directories (conf/ and the user's) rather than from an initialised
    Hydra: it is only needed to explain a failed composition.
    """
    dirs = [conf_dir() / group] + [d / group for d in user_config_dirs(config_dir)]
    recipes = list(recipe_files()) if group == "recipe" else []
    if not recipes and not any(d.is_dir() for d in dirs):
        return None
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names | set(recipes))
