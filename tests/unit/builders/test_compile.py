"""compile.* and channels_last: the schema's refusals, and what they do to a built task."""

from __future__ import annotations

import functools

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from fabricx import internals
from fabricx.builders.compile import apply_speed_settings, compiled_part
from fabricx.config.schema import CompileConfig, TrainConfig
from fabricx.config.schema.strategy import FSDPStrategyConfig
from fabricx.errors import ConfigError
from fabricx.models.lenet import LeNet5
from fabricx.models.mlp import MLP
from fabricx.tasks.classification import ClassificationTask
from fabricx.tasks.contract import eval_copy


def _train_config(**changes: object) -> TrainConfig:
    return TrainConfig(data={}, task={}, **changes)  # type: ignore[arg-type]


def _task(model: nn.Module) -> ClassificationTask:
    return ClassificationTask(model, functools.partial(torch.optim.AdamW, lr=1e-3))


def test_a_mode_torch_does_not_have_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        CompileConfig(enabled=True, mode="fast")
    message = str(err.value)
    assert "compile.mode='fast'" in message and "'max-autotune'" in message
    assert "'reduce-overhead'" in message and "'default'" in message


def test_compile_under_fsdp_and_an_empty_backend_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"compile\.enabled=true with strategy=fsdp"):
        _train_config(compile=CompileConfig(enabled=True), strategy=FSDPStrategyConfig())
    _train_config(compile=CompileConfig(enabled=False), strategy=FSDPStrategyConfig())
    with pytest.raises(ConfigError, match=r"compile\.backend"):
        CompileConfig(backend=" ")


def test_defaults_leave_the_task_as_built() -> None:
    task = _task(MLP(in_features=64, num_classes=10))
    keys = list(task.state_dict())
    apply_speed_settings(task, _train_config())
    assert internals.compiled_modules(task) == [] and list(task.state_dict()) == keys


def test_compile_compiles_the_tasks_model_in_place_with_the_same_keys() -> None:
    model = MLP(in_features=64, num_classes=10)
    task = _task(model)
    keys = list(task.state_dict())
    cfg = _train_config(compile=CompileConfig(enabled=True, backend="eager"))
    apply_speed_settings(task, cfg)
    assert task.model is model and internals.compiled_modules(task) == [model]
    assert list(task.state_dict()) == keys  # no `_orig_mod.`: checkpoints load either way
    x = torch.randn(5, 64)
    eager = eval_copy(task)
    assert internals.compiled_modules(eager) == []  # export, verify, bench: the eager forward
    with torch.no_grad():
        torch.testing.assert_close(eager(x=x), task.eval()(x))


def test_a_task_without_a_model_attribute_is_compiled_itself() -> None:
    class OwnTask(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

    task = OwnTask()
    assert compiled_part(task) is task
    apply_speed_settings(task, _train_config(compile=CompileConfig(enabled=True)))
    assert internals.compiled_modules(task) == [task]


def test_channels_last_changes_the_convolution_weights_only() -> None:
    task = _task(LeNet5())
    apply_speed_settings(task, _train_config(channels_last=True))
    conv = task.model.features[3].weight  # (16, 6, 5, 5)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert task.model.classifier[1].weight.is_contiguous()
    assert internals.compiled_modules(task) == []
