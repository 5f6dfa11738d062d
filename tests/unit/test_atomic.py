"""A staged export lands beside its companions, the graph last."""

from __future__ import annotations

import os
from pathlib import Path

from fabricx import atomic


def test_publish_beside_moves_the_companions_before_the_main_file(tmp_path: Path, monkeypatch):
    staging = tmp_path / ".stage"
    staging.mkdir()
    for name, text in (("model.onnx", "graph"), ("model.onnx.data", "weights")):
        (staging / name).write_text(text)
    (staging / "other.onnx").write_text("not this one")
    moved = []
    replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda src, dst: (moved.append(Path(dst).name), replace(src, dst))
    )

    files = atomic.publish_beside(staging, tmp_path / "model.onnx")

    assert moved == ["model.onnx.data", "model.onnx"]
    assert files == [tmp_path / "model.onnx.data", tmp_path / "model.onnx"]
    assert (tmp_path / "model.onnx").read_text() == "graph"
    assert [p.name for p in staging.iterdir()] == ["other.onnx"]
