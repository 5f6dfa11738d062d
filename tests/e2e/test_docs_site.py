"""The documentation site builds with `mkdocs build --strict`: no broken link or anchor, and
the config reference is generated from the code at build time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_docs_site_builds_strict_with_the_generated_reference(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")  # mkdocs-material, the theme
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner, not a build warning
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr

    page = (site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    assert "fabricx.models.mlp.MLP" in page
    for parameter in ("in_features", "hidden_sizes", "dropout"):  # read from MLP's signature
        assert f"<code>{parameter}</code>" in page
    assert 'id="schema-trainconfig"' in page
    assert "<code>seed</code>" in page
    for name in ("index", "architecture", "configuration", "testing"):
        built = site / "index.html" if name == "index" else site / name / "index.html"
        assert built.is_file(), name
    assert not (ROOT / "docs" / "reference").exists(), "the reference is generated, not kept"
