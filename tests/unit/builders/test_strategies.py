"""strategy=ddp and strategy=fsdp: schema checks, the Lightning strategy objects built from
config (on the CPU, nothing launched), class-name resolution, and the hardware checks that
refuse what this machine cannot run. The same through the CLI, and the one FSDP training run
(on a CUDA GPU): tests/e2e/test_strategies.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import torch
import yaml

from fabricx.builders.hardware import check_hardware
from fabricx.builders.trainer import build_strategy, build_trainer, resolve_module_classes
from fabricx.config.schema import DDPStrategyConfig, FSDPStrategyConfig, StrategyConfig
from fabricx.config.typed import plain
from fabricx.errors import ConfigError
from fabricx.launch.compose import validate
from fabricx.runs.saved_config import load_saved_config
from tests.helpers.conll_files import TINY_BERT

# Validation reads no file: the paths only have to be given.
TINY_BERT_NER = [
    "data=conll2003",
    "data.path=/data/conll",
    "data.tokenizer=/data/conll/vocab.txt",
    "model=hf_token_classifier",
    TINY_BERT,
    "task=token_classification",
]


def _bert_task(*overrides: str):
    """A tiny BERT token-classification task (random weights) and its validated config."""
    from fabricx.builders.components import build_model, build_task

    cfg = validate("train", [*TINY_BERT_NER, *overrides])
    return cfg, build_task(cfg, build_model(cfg))


def _wrapped(policy, model: torch.nn.Module) -> list[str]:
    """Names of the submodules an FSDP wrapping policy makes their own unit."""
    return [n for n, m in model.named_modules() if policy(m, recurse=False, nonwrapped_numel=0)]


# --- schema -------------------------------------------------------------------------------


def test_fsdp_option_composes_with_its_schema():
    cfg = validate("train", ["strategy=fsdp"])
    assert type(cfg.strategy) is FSDPStrategyConfig
    s = cfg.strategy
    assert (s.name, s.sharding_strategy, s.state_dict_type) == ("fsdp", "FULL_SHARD", "full")
    assert (s.auto_wrap, s.min_num_params, s.activation_checkpointing) == ([], None, [])
    assert (s.cpu_offload, s.limit_all_gathers, s.use_orig_params) == (False, True, True)
    assert type(validate("train", ["strategy=ddp"]).strategy) is DDPStrategyConfig
    assert type(validate("train", []).strategy) is StrategyConfig


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["strategy.sharding_strategy=FULL_SHRD"],
            r"strategy\.sharding_strategy='FULL_SHRD' is not one of .*Did you mean: FULL_SHARD\?",
            id="sharding-strategy",
        ),
        pytest.param(
            ["strategy.state_dict_type=shard"],
            r"strategy\.state_dict_type='shard'.*Did you mean: sharded\?",
            id="state-dict-type",
        ),
        pytest.param(
            ["strategy.process_group_backend=ncl"],
            r"process_group_backend='ncl'.*Did you mean: nccl\?",
            id="backend",
        ),
        pytest.param(
            ["strategy.auto_wrap=[BertLayer]", "strategy.min_num_params=1000"],
            r"two wrapping policies; set one",
            id="two-wrap-policies",
        ),
        pytest.param(
            ["strategy.sharding_strategy=HYBRID_SHARD"],
            r"HYBRID_SHARD needs a wrapping policy",
            id="hybrid-without-policy",
        ),
        pytest.param(["strategy.min_num_params=0"], r"min_num_params=0 must be >= 1", id="size"),
        pytest.param(["strategy.timeout_s=0"], r"timeout_s=0 must be >= 1", id="timeout"),
        pytest.param(
            ["strategy.mixed_precision=bf16"],
            r"strategy\.mixed_precision: no such key",  # precision= sets it, see fsdp.yaml
            id="no-mixed-precision-key",
        ),
    ],
)
def test_fsdp_schema_refuses(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate("train", ["strategy=fsdp", *overrides])


def test_ddp_has_no_fsdp_keys():
    with pytest.raises(ConfigError, match=r"strategy\.sharding_strategy: no such key"):
        validate("train", ["strategy=ddp", "strategy.sharding_strategy=FULL_SHARD"])


def test_saved_strategies_read_back_typed(tmp_path: Path):
    """`fabricx eval run=<dir>` reads the strategy back with the schema its name says."""
    cfg = validate("train", ["strategy=fsdp", "strategy.auto_wrap=[BertLayer]"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(plain(cfg)))
    saved = load_saved_config(tmp_path)
    assert type(saved.strategy) is FSDPStrategyConfig
    assert saved.strategy.auto_wrap == ["BertLayer"]
    cfg = validate("train", ["strategy=ddp", "strategy.static_graph=true"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(plain(cfg)))
    saved = load_saved_config(tmp_path)
    assert type(saved.strategy) is DDPStrategyConfig and saved.strategy.static_graph


# --- the Lightning strategy objects -------------------------------------------------------


def test_ddp_fields_reach_ddp_strategy(tmp_path: Path):
    from lightning.pytorch.strategies import DDPStrategy

    cfg = validate(
        "train",
        [
            "strategy=ddp", "strategy.find_unused_parameters=true", "strategy.static_graph=true",
            "strategy.gradient_as_bucket_view=false", "strategy.process_group_backend=gloo",
            "strategy.timeout_s=77", "trainer.devices=2", "trainer.accelerator=cpu",
            "logger=none", "callbacks.progress_bar=none",
        ],
    )  # fmt: skip
    trainer = build_trainer(cfg, tmp_path)  # builds the Trainer; launches nothing
    strategy = trainer.strategy
    assert isinstance(strategy, DDPStrategy)
    assert strategy._ddp_kwargs == {  # what Lightning hands DistributedDataParallel
        "find_unused_parameters": True,
        "static_graph": True,
        "gradient_as_bucket_view": False,
    }
    assert strategy.process_group_backend == "gloo"
    assert strategy._timeout == timedelta(seconds=77)
    assert strategy.num_processes == 2


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled")
def test_fsdp_strategy_built_from_config():
    from lightning.pytorch.plugins.precision import FSDPPrecision
    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp import ShardingStrategy

    cfg, task = _bert_task(
        "strategy=fsdp", "strategy.sharding_strategy=SHARD_GRAD_OP",
        "strategy.auto_wrap=[BertLayer]", "strategy.activation_checkpointing=[BertLayer]",
        "strategy.cpu_offload=true", "strategy.state_dict_type=sharded",
        "strategy.limit_all_gathers=false", "strategy.use_orig_params=false",
        "strategy.timeout_s=60", "strategy.process_group_backend=nccl", "stages=[fit]",
    )  # fmt: skip
    strategy = build_strategy(cfg.strategy, task)
    assert isinstance(strategy, FSDPStrategy)
    assert strategy.sharding_strategy is ShardingStrategy.SHARD_GRAD_OP
    assert strategy.cpu_offload.offload_params is True
    assert strategy._state_dict_type == "sharded"
    assert strategy.process_group_backend == "nccl"
    assert strategy._timeout == timedelta(seconds=60)
    assert strategy.kwargs["limit_all_gathers"] is False
    assert strategy.kwargs["use_orig_params"] is False
    layers = ["model.model.bert.encoder.layer.0", "model.model.bert.encoder.layer.1"]
    assert _wrapped(strategy.kwargs["auto_wrap_policy"], task) == layers
    checkpointing = strategy._activation_checkpointing_kwargs["auto_wrap_policy"]
    assert _wrapped(checkpointing, task) == layers

    # No mixed precision of its own: Lightning takes it from precision= (FSDPPrecision).
    assert strategy.mixed_precision is None
    strategy.precision_plugin = FSDPPrecision("bf16-mixed")
    mixed = strategy.mixed_precision_config
    assert (mixed.param_dtype, mixed.reduce_dtype, mixed.buffer_dtype) == (torch.bfloat16,) * 3
    strategy.precision_plugin = FSDPPrecision("16-mixed")
    assert strategy.mixed_precision_config.param_dtype == torch.float16
    assert strategy.precision_plugin.scaler is not None  # fp16 gets a sharded grad scaler


def test_fsdp_defaults_wrap_nothing_but_the_root():
    cfg, task = _bert_task("strategy=fsdp", "stages=[fit]")
    strategy = build_strategy(cfg.strategy, task)
    assert strategy.sharding_strategy.name == "FULL_SHARD"
    assert strategy.cpu_offload.offload_params is False
    assert "auto_wrap_policy" not in strategy.kwargs
    assert strategy._activation_checkpointing_kwargs == {}
    assert strategy.kwargs["limit_all_gathers"] is True
    assert strategy.kwargs["use_orig_params"] is True


def test_min_num_params_is_a_size_based_policy():
    from torch import nn

    cfg = validate("train", ["strategy=fsdp", "strategy.min_num_params=1000"])
    policy = build_strategy(cfg.strategy).kwargs["auto_wrap_policy"]
    assert policy.keywords == {"min_num_params": 1000}
    assert policy(nn.Linear(40, 40), recurse=False, nonwrapped_numel=1640)
    assert not policy(nn.Linear(4, 4), recurse=False, nonwrapped_numel=20)


def test_fabricx_block_classes_resolve_by_name_or_dotted_path():
    from fabricx.builders.components import build_model
    from fabricx.models.resnet import BasicBlock

    cfg = validate(
        "train", ["data=cifar10", "data.path=/data/cifar10", "model=resnet18", "model.width=8"]
    )
    model = build_model(cfg)
    for name in ("BasicBlock", "fabricx.models.resnet.BasicBlock"):
        resolved = resolve_module_classes(model, {"strategy.auto_wrap": [name]})
        assert resolved == {"strategy.auto_wrap": {BasicBlock}}


def test_a_class_name_the_model_lacks_is_a_clear_error():
    cfg, task = _bert_task(
        "strategy=fsdp", "strategy.auto_wrap=[BertLayr]",
        "strategy.activation_checkpointing=[Block]", "stages=[fit]",
    )  # fmt: skip
    with pytest.raises(ConfigError) as err:
        build_strategy(cfg.strategy, task)
    wrap, checkpoint = err.value.problems
    assert "strategy.auto_wrap: 'BertLayr' matches no module class" in wrap
    assert "Did you mean: BertLayer?" in wrap
    assert "BertEmbeddings" in wrap and "BertSelfAttention" in wrap  # the classes it has
    assert checkpoint.startswith("strategy.activation_checkpointing: 'Block'")


def test_class_names_need_the_model():
    cfg = validate("train", ["strategy=fsdp", "strategy.auto_wrap=[BertLayer]"])
    with pytest.raises(ConfigError, match="resolve against the model"):
        build_strategy(cfg.strategy)


# --- hardware checks ----------------------------------------------------------------------


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch):
    """Pretend `n` CUDA GPUs are visible (0: none), as check_hardware sees them."""

    def pretend(n: int, capability: tuple[int, int] = (9, 0)) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a: capability >= (8, 0))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Pretend GPU")

    return pretend


def _check(*overrides: str) -> None:
    check_hardware(validate("train", list(overrides)))


def test_cpu_refuses_fsdp_and_nccl(gpus):
    gpus(0)
    with pytest.raises(ConfigError, match="strategy=fsdp needs CUDA GPUs") as err:
        _check("strategy=fsdp", "stages=[fit]")
    assert "use strategy=ddp on the CPU" in str(err.value)
    with pytest.raises(ConfigError, match="process_group_backend=nccl needs CUDA GPUs"):
        _check("strategy=ddp", "strategy.process_group_backend=nccl", "trainer.devices=2")
    _check("strategy=ddp", "strategy.process_group_backend=gloo", "trainer.devices=2")
    _check("strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu")


def test_gpu_allows_fsdp_in_every_precision(gpus):
    gpus(1)
    for precision in ("16-mixed", "bf16-mixed", "32"):
        _check("strategy=fsdp", f"precision={precision}", "stages=[fit]", "trainer.devices=1")
    _check("strategy=ddp", "strategy.process_group_backend=nccl")


def test_fsdp_on_a_gpu_machine_with_accelerator_cpu_is_refused(gpus):
    gpus(2)
    with pytest.raises(ConfigError, match=r"strategy=fsdp needs CUDA GPUs.*accelerator=cpu"):
        _check("strategy=fsdp", "stages=[fit]", "trainer.accelerator=cpu")


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ("4", r"trainer\.devices=4 asks for 4 GPUs but 2 are visible here"),
        ("[0,2]", r"trainer\.devices=\[0, 2\] names GPU index 2 but 2 are visible"),
        ("'0,5'", r"trainer\.devices=\[0, 5\] names GPU index 5 but 2 are visible"),
        ("'3'", r"trainer\.devices=3 asks for 3 GPUs but 2 are visible here"),
    ],
)
def test_more_devices_than_visible_gpus(gpus, devices, message):
    gpus(2)
    with pytest.raises(ConfigError, match=message):
        _check(f"trainer.devices={devices}")
    with pytest.raises(ConfigError, match=message):
        _check("strategy=fsdp", "stages=[fit]", f"trainer.devices={devices}")


def test_device_counts_within_the_visible_gpus(gpus):
    gpus(2)
    for devices in ("2", "-1", "auto", "[0,1]", "'1'", "'0,1'"):
        _check("strategy=ddp", f"trainer.devices={devices}")
    gpus(0)
    _check("trainer.devices=2", "trainer.accelerator=cpu")  # CPU processes, not GPUs
    with pytest.raises(ConfigError, match=r"trainer\.devices=99 starts 99 processes on the CPU"):
        _check("trainer.devices=99", "trainer.accelerator=cpu")


def test_precision_and_tf32_need_their_hardware(gpus):
    gpus(0)
    for precision in ("16-mixed", "16-true"):
        with pytest.raises(ConfigError, match=f"precision={precision} needs a CUDA GPU"):
            _check(f"precision={precision}")
    with pytest.raises(ConfigError, match=r"precision\.tf32=true needs an Ampere or later"):
        _check("precision.tf32=true")
    _check("precision=bf16-true")
    _check("precision=64-true")
    gpus(1, capability=(7, 0))  # a V100: no bf16, no TF32
    with pytest.raises(ConfigError, match=r"precision=bf16-mixed: this GPU \(Pretend GPU\)"):
        _check("precision=bf16-mixed")
    with pytest.raises(ConfigError, match=r"precision\.tf32=true needs an Ampere"):
        _check("precision.tf32=true")
    gpus(1, capability=(8, 0))
    _check("precision.tf32=true")
    _check("precision=bf16-mixed")


@pytest.mark.parametrize(
    ("accelerator", "missing"), [("tpu", "a TPU"), ("mps", "Apple's MPS"), ("cuda", "a CUDA GPU")]
)
def test_accelerators_the_machine_lacks_are_config_errors(gpus, accelerator: str, missing: str):
    gpus(0)
    with pytest.raises(ConfigError, match=f"trainer.accelerator={accelerator}: {missing}"):
        _check(f"trainer.accelerator={accelerator}")


def test_more_nodes_than_a_launcher_starts_are_refused(gpus, monkeypatch: pytest.MonkeyPatch):
    gpus(0)
    for var in ("SLURM_NTASKS", "SLURM_JOB_NAME", "TORCHELASTIC_RUN_ID", "NODE_RANK"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match=r"trainer\.num_nodes=2, but nothing here starts"):
        _check("trainer.num_nodes=2")


def test_fsdp_runs_fit_only_and_cannot_clip(gpus):
    gpus(1)
    with pytest.raises(ConfigError, match=r"stages \['test', 'export', 'verify', 'bench'\]") as e:
        _check("strategy=fsdp")
    assert "stages=[fit]" in str(e.value) and "fabricx eval run=<run dir>" in str(e.value)
    with pytest.raises(ConfigError, match=r"stages \['test', 'bench'\]"):
        _check("strategy=fsdp", "export=none")
    with pytest.raises(ConfigError, match="state_dict_type=full"):
        _check("strategy=fsdp", "stages=[fit,test]", "strategy.state_dict_type=sharded")
    with pytest.raises(ConfigError, match="cannot clip gradients by norm"):
        _check("strategy=fsdp", "stages=[fit]", "trainer.gradient_clip_val=1.0")
