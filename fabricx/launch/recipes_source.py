"""The top-level `recipes/` folder as Hydra's `recipe` group: `recipe=NAME` composes
`recipes/NAME/recipe.yaml`.

Users look for recipes at the top of the repository, each in a folder of its own beside its
published source and its latest `fabricx reproduce` verdict. Hydra finds a group as a folder
of a search-path root, so a plain `file://` root cannot serve `recipes/NAME/recipe.yaml` as
`recipe/NAME`. Hydra's public plugin API can: a config source for the scheme
`fabricx-recipes://`, and a search-path plugin that adds it to every composition.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from fabricx import internals
from fabricx.config.paths import RECIPE_FILE, recipe_files, recipes_dir

SCHEME = "fabricx-recipes"
GROUP = "recipe"


class RecipesSource(ConfigSource):
    """Serves `recipe/NAME` from `<recipes dir>/NAME/recipe.yaml`; nothing else."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def _file(self, config_path: str) -> Path | None:
        group, _, name = config_path.partition("/")
        if group != GROUP or not name or "/" in name:
            return None
        path = Path(self.path) / name.removesuffix(".yaml") / RECIPE_FILE
        return path if path.is_file() else None

    def load_config(self, config_path: str) -> ConfigResult:
        path = self._file(config_path)
        if path is None:
            raise ConfigLoadError(f"Config not found: {config_path} in {self.full_path()}")
        text = path.read_text(encoding="utf-8")
        return ConfigResult(
            config=OmegaConf.create(text),
            path=self.full_path(),
            provider=self.provider,
            header=internals.hydra_config_header(text[:512]),
        )

    def available(self) -> bool:
        return Path(self.path).is_dir()

    def is_group(self, config_path: str) -> bool:
        return config_path in ("", GROUP) and self.available()

    def is_config(self, config_path: str) -> bool:
        return self._file(config_path) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path == "":
            return [GROUP] if results_filter in (None, ObjectType.GROUP) else []
        if config_path != GROUP or results_filter == ObjectType.GROUP:
            return []
        return sorted(recipe_files(Path(self.path)))


class RecipesSearchPath(SearchPathPlugin):
    """Adds the recipes folder to every composition's search path, after fabricx's conf/."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="fabricx-recipes", path=f"{SCHEME}://{recipes_dir()}")


def register_recipes() -> None:
    """Register both plugins with Hydra (once per process; Hydra ignores a repeat)."""
    plugins = Plugins.instance()
    plugins.register(RecipesSource)
    plugins.register(RecipesSearchPath)
