"""The engine profile the export stage derives admits every shape verify and bench will run.

No engine is built (TensorRT cannot run here): the profile is checked against the shapes
the verify and bench stages really produce, with the same check TrtRunner makes first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fabricx.builders.components import build_datamodule, build_model, build_task
from fabricx.export.parity import parity_cases
from fabricx.export.tensorrt import check_input_shapes
from fabricx.launch.compose import validate
from fabricx.stages.context import RunContext
from fabricx.stages.export import tensorrt_profiles
from tests.helpers.conll_files import TINY_BERT, write_conll


def _context(overrides: list[str]) -> RunContext:
    cfg = validate("train", overrides)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, build_model(cfg))
    datamodule.setup("test")
    return RunContext(cfg, Path("."), Path("."), datamodule, task, trainer=None)


@pytest.mark.parametrize("kind", ["digits", "text"])
def test_profile_admits_every_verify_and_bench_shape(kind: str, tmp_path: Path):
    if kind == "digits":
        ctx = _context(["bench.batch_sizes=[1,8,128]"])
    else:
        data = write_conll(tmp_path / "conll")
        ctx = _context([
            "data=conll2003", f"data.path={data}", f"data.tokenizer={data / 'vocab.txt'}",
            "data.eval_batch_size=16", "model=hf_token_classifier", TINY_BERT,
            "task=token_classification",
        ])  # fmt: skip
    batches = list(ctx.datamodule.test_dataloader())
    first, _ = ctx.task.split_batch(batches[0])
    profiles = tensorrt_profiles(ctx, first)
    seen = [ctx.task.split_batch(b)[0] for b in batches]  # the metric runs on every batch
    seen += parity_cases(batches, ctx.task.split_batch, ctx.cfg.export.verify.batch_sizes)
    seen += [
        {n: t[:1].expand(b, *t.shape[1:]) for n, t in first.items()}
        for b in ctx.cfg.bench.batch_sizes
    ]
    for inputs in seen:
        check_input_shapes({n: tuple(t.shape) for n, t in inputs.items()}, profiles)
    if kind == "text":
        lengths = {int(i["input_ids"].shape[1]) for i in seen}
        assert len(lengths) > 1  # the sequence axis really varies, and the profile admits it
        assert all(p.min[1] <= min(lengths) and p.max[1] >= max(lengths) for p in profiles)
