"""A regular (non-editable) install carries conf/ inside the wheel and works from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-w", str(out), "-q"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (path,) = out.glob("fabricx-*.whl")
    return path


def test_wheel_carries_every_config_and_module(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for yaml_file in (REPO / "conf").rglob("*.yaml"):
        if "local" in yaml_file.relative_to(REPO / "conf").parts:
            continue  # conf/local/ is the user's own machine config, ignored by git
        assert f"fabricx/conf/{yaml_file.relative_to(REPO / 'conf')}" in names, yaml_file
    # Every module on disk, not only git's list: an over-broad .gitignore line once kept
    # fabricx/build/ out of both git and the wheel.
    for module in (REPO / "fabricx").rglob("*.py"):
        assert str(module.relative_to(REPO)) in names, f"{module} is missing from the wheel"


def test_installed_wheel_composes_from_its_own_conf(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    pip_install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target"]
    subprocess.run([*pip_install, str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "from fabricx.config.paths import conf_dir; print(conf_dir())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where) == target / "fabricx" / "conf"
    subprocess.run(
        [sys.executable, "-c", "import fabricx.verbs.train, fabricx.verbs.eval"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "fabricx", "config", "optim=sgd"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "torch.optim.SGD" in result.stdout
