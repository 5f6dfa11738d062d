"""MkDocs hook: the config reference (`reference/config.md`), generated from the code at
build time by fabricx.config.reference.

The page is added to the build in memory, never written into docs/, so there is no copy to
commit and none to go stale; mkdocs.yml's `watch:` rebuilds it when the code changes.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

PAGE = "reference/config.md"


def on_files(files: Files, config: Any) -> Files:
    """Add the generated page to the files MkDocs builds."""
    from fabricx.config.reference import config_reference

    files.append(File.generated(config, PAGE, content=config_reference()))
    return files
