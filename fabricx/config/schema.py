"""The typed schema behind every config group.

Each dataclass is the schema of one group (or one option of it, as a subclass, when options
carry different fields); the YAML files under `conf/` hold the values and name their schema
in their defaults list (Hydra's structured-config tutorial, 5.2). A misspelt key or a value
of the wrong type is then refused by OmegaConf during composition, and `__post_init__` checks
the rest when the config is converted once, at entry, with `OmegaConf.to_object`.

This module imports neither torch nor lightning: `fabricx config` validates with it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import II, MISSING

from fabricx.errors import ConfigError, check_choice

STAGES = ("fit", "test", "export", "verify", "bench", "summary")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true")
MATMUL_PRECISIONS = ("highest", "high", "medium")
STRATEGIES = ("auto", "ddp", "fsdp")
SHARDING_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD")
STATE_DICT_TYPES = ("full", "sharded")
PROCESS_GROUP_BACKENDS = ("nccl", "gloo", "mpi", "ucc")
SCHEDULERS = ("none", "cosine", "linear")
LOGGER_BACKENDS = ("wandb", "csv", "none")
WANDB_MODES = ("auto", "online", "offline", "disabled")
PROGRESS_BARS = ("rich", "tqdm", "none")
MODES = ("min", "max")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu")
CLASSIFICATION_METRICS = ("acc",)
DEFAULT_TARGET_PREFIXES = ["fabricx", "torch", "lightning", "torchmetrics", "transformers"]


def _help(text: str) -> dict[str, str]:
    """Field metadata in accelerate's style: the help text travels with the field."""
    return {"help": text}


# --- data -------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """Fields every datamodule takes; an option's subclass adds its own."""

    _target_: str = MISSING
    batch_size: int = field(default=64, metadata=_help("Samples per training batch."))
    eval_batch_size: int = field(default=256, metadata=_help("Samples per val/test batch."))
    num_workers: int = field(default=0, metadata=_help("DataLoader worker processes."))
    seed: int = field(default=II("seed"), metadata=_help("Seed of the split and shuffling."))
    num_classes: int = field(default=MISSING, metadata=_help("Classes; checked against data."))

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError(
                f"data.batch_size={self.batch_size} and data.eval_batch_size="
                f"{self.eval_batch_size} must both be >= 1."
            )
        if self.num_workers < 0:
            raise ConfigError(f"data.num_workers={self.num_workers} must be >= 0.")


@dataclass
class DigitsDataConfig(DataConfig):
    """scikit-learn's bundled 8x8 handwritten digits: real data that needs no download."""

    _target_: str = "fabricx.data.digits.DigitsDataModule"
    num_features: int = field(default=64, metadata=_help("Pixels per image (8x8)."))
    num_classes: int = 10
    val_fraction: float = field(default=0.15, metadata=_help("Share of samples for val."))
    test_fraction: float = field(default=0.15, metadata=_help("Share of samples for test."))

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, value in (
            ("val_fraction", self.val_fraction),
            ("test_fraction", self.test_fraction),
        ):
            if not 0.0 < value < 1.0:
                raise ConfigError(f"data.{key}={value} must be between 0 and 1 (exclusive).")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction}"
                " leaves no training data; lower one of them."
            )


@dataclass
class MnistDataConfig(DataConfig):
    """MNIST or Fashion-MNIST from idx files (gzipped or raw), held as tensors."""

    _target_: str = "fabricx.data.images.MnistDataModule"
    path: str = field(default=MISSING, metadata=_help("Folder with the four idx files."))
    variant: str = field(default="mnist", metadata=_help("mnist or fashion_mnist."))
    download: bool = field(default=False, metadata=_help("Fetch the files (checksummed)."))
    val_size: int = field(default=5000, metadata=_help("Training images held out for val."))
    num_classes: int = 10
    batch_size: int = 128
    eval_batch_size: int = 512
    augment: bool = False  # random crop (padding crop_padding), batched on the device
    crop_padding: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("data.variant", self.variant, ("mnist", "fashion_mnist"))


@dataclass
class Cifar10DataConfig(DataConfig):
    """CIFAR-10 from the python pickle batches, held as tensors, augmented on the device."""

    _target_: str = "fabricx.data.images.Cifar10DataModule"
    path: str = field(default=MISSING, metadata=_help("Folder with cifar-10-batches-py/."))
    download: bool = field(default=False, metadata=_help("Fetch the archive (checksummed)."))
    val_size: int = field(default=5000, metadata=_help("Training images held out for val."))
    num_classes: int = 10
    batch_size: int = 512
    eval_batch_size: int = 1024
    augment: bool = True  # random crop (padding crop_padding) and horizontal flip, batched
    crop_padding: int = 4


@dataclass
class ImageFolderDataConfig(DataConfig):
    """One folder per class (PNG/JPEG through Pillow); train/val/test subfolders if present."""

    _target_: str = "fabricx.data.images.ImageFolderDataModule"
    path: str = field(default=MISSING, metadata=_help("Root of the class folders."))
    image_size: int | None = field(default=None, metadata=_help("Resize to a square of it."))
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    num_classes: int = MISSING
    augment: bool = False


CONLL2003_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@dataclass
class ConllDataConfig(DataConfig):
    """A CoNLL folder (train.txt, valid.txt, test.txt; 2 or 4 columns) and its tag set."""

    path: str = field(default=MISSING, metadata=_help("Folder with train/valid/test.txt."))
    labels: list[str] = field(default_factory=lambda: list(CONLL2003_LABELS))
    num_classes: int = 9

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes != len(self.labels):
            raise ConfigError(
                f"data.num_classes={self.num_classes} but data.labels has {len(self.labels)} tags;"
                " make them agree."
            )


@dataclass
class Conll2003DataConfig(ConllDataConfig):
    """CoNLL-2003 NER through a fast tokenizer (sub-tokens, first one labelled)."""

    _target_: str = "fabricx.data.conll2003.Conll2003DataModule"
    tokenizer: str = field(
        default=MISSING, metadata=_help("Hub name, tokenizer directory, or a vocab.txt file.")
    )
    max_length: int = field(default=128, metadata=_help("Sub-tokens per sentence at most."))
    batch_size: int = 32
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_length < 3:
            raise ConfigError(f"data.max_length={self.max_length} must be >= 3.")


@dataclass
class Conll2003WordsDataConfig(ConllDataConfig):
    """CoNLL-2003 as word and character ids (vocabularies from train.txt), no tokenizer."""

    _target_: str = "fabricx.data.conll_words.Conll2003WordsDataModule"
    vocab_size: int = field(default=30000, metadata=_help("Word ids at most (embedding rows)."))
    char_vocab_size: int = field(default=128, metadata=_help("Character ids at most."))
    min_freq: int = field(default=1, metadata=_help("Training count a word needs for an id."))
    max_word_length: int = field(default=20, metadata=_help("Characters kept per word."))
    pad_to_multiple_of: int = field(default=8, metadata=_help("Sentence axis rounded up to it."))
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("vocab_size", "char_vocab_size"):
            if getattr(self, key) < 3:
                raise ConfigError(f"data.{key}={getattr(self, key)} must be >= 3 (pad, unk, one).")
        for key in ("min_freq", "max_word_length", "pad_to_multiple_of"):
            if getattr(self, key) < 1:
                raise ConfigError(f"data.{key}={getattr(self, key)} must be >= 1.")


@dataclass
class GlueSst2DataConfig(DataConfig):
    """GLUE SST-2 sentiment from the TSV folder: train.tsv (val held out of it) and dev.tsv,
    which is the test split (published SST-2 numbers are dev accuracy)."""

    _target_: str = "fabricx.data.glue.GlueSst2DataModule"
    path: str = field(default=MISSING, metadata=_help("Folder with train.tsv and dev.tsv."))
    tokenizer: str = field(
        default=MISSING, metadata=_help("Hub name, tokenizer directory, or a vocab.txt file.")
    )
    download: bool = field(default=False, metadata=_help("Fetch the GLUE archive (MD5)."))
    val_size: int = field(default=872, metadata=_help("train.tsv sentences held out for val."))
    num_classes: int = 2
    max_length: int = field(default=128, metadata=_help("Sub-tokens per sentence at most."))
    batch_size: int = 32
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes != 2:
            raise ConfigError(f"data.num_classes={self.num_classes}: SST-2 has 2 classes; set 2.")
        if self.val_size < 1:
            raise ConfigError(
                f"data.val_size={self.val_size} must be >= 1: val picks the best checkpoint."
            )
        if self.max_length < 3:
            raise ConfigError(f"data.max_length={self.max_length} must be >= 3.")


# --- model ------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """A plain nn.Module named by `_target_`; its other fields are constructor arguments."""

    _target_: str = MISSING


@dataclass
class MLPConfig(ModelConfig):
    _target_: str = "fabricx.models.mlp.MLP"
    in_features: int = II("data.num_features")
    num_classes: int = II("data.num_classes")
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = field(default=0.1, metadata=_help("Dropout after each hidden layer."))

    def __post_init__(self) -> None:
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ConfigError(f"model.hidden_sizes={self.hidden_sizes} needs sizes >= 1.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout} must be in [0, 1).")


@dataclass
class LeNet5Config(ModelConfig):
    _target_: str = "fabricx.models.lenet.LeNet5"
    num_classes: int = II("data.num_classes")
    in_channels: int = 1


@dataclass
class ResNet18Config(ModelConfig):
    _target_: str = "fabricx.models.resnet.ResNet18"
    num_classes: int = II("data.num_classes")
    in_channels: int = 3
    width: int = field(default=64, metadata=_help("First stage's channels (64 in the paper)."))


@dataclass
class AirbenchConfig(ModelConfig):
    _target_: str = "fabricx.models.airbench.AirbenchNet"
    num_classes: int = II("data.num_classes")
    widths: list[int] = field(default_factory=lambda: [64, 256, 256])
    stem_width: int = 24
    logit_scale: float = 1 / 9

    def __post_init__(self) -> None:
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise ConfigError(f"model.widths={self.widths}: give three positive widths.")


@dataclass
class HFTokenClassifierConfig(ModelConfig):
    """A Hugging Face token classifier: pretrained (name or directory) or built from config."""

    _target_: str = "fabricx.models.hf.HFTokenClassifier"
    num_labels: int = II("data.num_classes")
    pretrained: str | None = field(
        default=None, metadata=_help("Hub name or local directory; null builds from config.")
    )
    model_type: str = "bert"
    # Any, None until given: an override then sets the whole mapping (a typed `{}` default
    # is a closed node that refuses new keys; a typed None one trips an OmegaConf merge bug).
    config: Any = field(
        default=None, metadata=_help("Architecture fields when pretrained is null.")
    )

    def __post_init__(self) -> None:
        if self.config is not None and not isinstance(self.config, dict):
            raise ConfigError(
                f"model.config={self.config!r} must be a mapping of architecture fields, e.g. "
                "model.config={hidden_size:32,num_hidden_layers:2,vocab_size:100}."
            )
        if bool(self.pretrained) == bool(self.config):
            raise ConfigError(
                "model: give exactly one of model.pretrained (a name or directory) and "
                "model.config (architecture fields, e.g. {hidden_size: 32, vocab_size: 100})."
            )


@dataclass
class BiLSTMTaggerConfig(ModelConfig):
    """A from-scratch BiLSTM tagger with a character CNN (needs data=conll2003_words)."""

    _target_: str = "fabricx.models.bilstm.BiLSTMTagger"
    num_classes: int = II("data.num_classes")
    vocab_size: int = II("data.vocab_size")
    char_vocab_size: int = II("data.char_vocab_size")
    word_dim: int = 100
    char_dim: int = 30
    char_filters: int = 50
    char_width: int = 3
    hidden_size: int = field(default=200, metadata=_help("LSTM units per direction."))
    num_layers: int = 1
    dropout: float = 0.5
    word_dropout: float = field(default=0.05, metadata=_help("Chance a word becomes unknown."))

    def __post_init__(self) -> None:
        for key in ("word_dim", "char_dim", "char_filters", "char_width", "hidden_size",
                    "num_layers"):  # fmt: skip
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be >= 1.")
        for key in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be in [0, 1).")


@dataclass
class HFSequenceClassifierConfig(HFTokenClassifierConfig):
    """A Hugging Face sequence classifier: the token classifier's fields, another head."""

    _target_: str = "fabricx.models.hf.HFSequenceClassifier"


# --- task -------------------------------------------------------------------------------


@dataclass
class TaskConfig:
    """The LightningModule: loss, metrics, and which metric is "the metric" of the run."""

    _target_: str = MISSING
    metric: str = field(default=MISSING, metadata=_help("Name of the run's headline metric."))
    monitor: str = field(default=MISSING, metadata=_help("Logged key that picks the best ckpt."))
    mode: str = field(default="max", metadata=_help("Whether higher (max) or lower is better."))

    def __post_init__(self) -> None:
        check_choice("task.mode", self.mode, MODES)

    @property
    def logged_keys(self) -> list[str]:
        """What the task logs per epoch: what a checkpoint or early stopping may monitor."""
        return [f"{split}/{name}" for split in ("val", "train") for name in (self.metric, "loss")]


@dataclass
class ClassificationTaskConfig(TaskConfig):
    _target_: str = "fabricx.tasks.classification.ClassificationTask"
    num_classes: int = II("data.num_classes")
    label_smoothing: float = 0.0
    metric: str = "acc"
    monitor: str = "val/acc"
    mode: str = "max"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("task.metric", self.metric, CLASSIFICATION_METRICS)


@dataclass
class TokenClassificationTaskConfig(TaskConfig):
    _target_: str = "fabricx.tasks.token_classification.TokenClassificationTask"
    num_classes: int = II("data.num_classes")
    labels: list[str] = II("data.labels")
    metric: str = "f1"
    monitor: str = "val/f1"
    mode: str = "max"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("task.metric", self.metric, ("f1",))


# --- optimizer and schedule ---------------------------------------------------------------


@dataclass
class OptimConfig:
    """A torch optimizer, built as a partial and given the parameters by the task."""

    _target_: str = MISSING
    _partial_: bool = True
    lr: float = MISSING
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optim.lr={self.lr} must be > 0.")
        if self.weight_decay < 0:
            raise ConfigError(f"optim.weight_decay={self.weight_decay} must be >= 0.")


@dataclass
class AdamWConfig(OptimConfig):
    _target_: str = "torch.optim.AdamW"
    lr: float = 3e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.01


@dataclass
class SGDConfig(OptimConfig):
    _target_: str = "torch.optim.SGD"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4


@dataclass
class SchedulerConfig:
    """Learning-rate schedule, stepped every optimizer step; its length comes from the trainer."""

    name: str = field(default="none", metadata=_help(f"One of {SCHEDULERS}."))
    warmup_fraction: float = field(default=0.0, metadata=_help("Share of steps warming up."))
    min_lr_ratio: float = field(default=0.0, metadata=_help("Final lr as a share of optim.lr."))

    def __post_init__(self) -> None:
        check_choice("scheduler.name", self.name, SCHEDULERS)
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ConfigError(
                f"scheduler.warmup_fraction={self.warmup_fraction} must be in [0, 1)."
            )
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ConfigError(f"scheduler.min_lr_ratio={self.min_lr_ratio} must be in [0, 1].")


# --- precision, strategy, trainer -----------------------------------------------------------


@dataclass
class PrecisionConfig:
    name: str = field(default="32-true", metadata=_help(f"Lightning precision, {PRECISIONS}."))
    matmul_precision: str = field(
        default="highest", metadata=_help("torch fp32 matmul precision; 'high' allows TF32.")
    )

    def __post_init__(self) -> None:
        check_choice("precision.name", self.name, PRECISIONS)
        check_choice("precision.matmul_precision", self.matmul_precision, MATMUL_PRECISIONS)


@dataclass
class StrategyConfig:
    """strategy=auto: Lightning picks. The base of every strategy option's schema."""

    name: str = field(default="auto", metadata=_help(f"One of {STRATEGIES}."))

    def __post_init__(self) -> None:
        check_choice("strategy.name", self.name, STRATEGIES)


@dataclass
class DDPStrategyConfig(StrategyConfig):
    """strategy=ddp: Lightning's DDPStrategy, one process per device."""

    name: str = "ddp"
    find_unused_parameters: bool = False  # True costs a graph walk every step
    static_graph: bool = False
    gradient_as_bucket_view: bool = True  # True saves one copy of the gradients
    process_group_backend: str | None = field(
        default=None, metadata=_help("None picks nccl on GPU, gloo on CPU.")
    )
    timeout_s: int = field(default=1800, metadata=_help("Collective timeout, seconds."))

    def __post_init__(self) -> None:
        # "auto" too: runs saved before strategy=fsdp existed stored DDP's fields with
        # strategy=auto, and `fabricx eval` reads them back with this schema.
        check_choice("strategy.name", self.name, ("ddp", "auto"))
        _check_process_group(self.process_group_backend, self.timeout_s)


@dataclass
class FSDPStrategyConfig(StrategyConfig):
    """strategy=fsdp: Lightning's FSDPStrategy (torch FullyShardedDataParallel), CUDA only.

    Mixed precision has no field here: Lightning derives FSDP's MixedPrecision from
    `precision=` (bf16-mixed: bf16 params, gradients and buffers; 16-mixed: fp16 plus a
    sharded grad scaler; 32: fp32), so the two can never disagree.
    """

    name: str = "fsdp"
    sharding_strategy: str = field(
        default="FULL_SHARD", metadata=_help(f"One of {SHARDING_STRATEGIES}.")
    )
    auto_wrap: list[str] = field(
        default_factory=list,
        metadata=_help("Module class names wrapped as FSDP units, e.g. [BertLayer]."),
    )
    min_num_params: int | None = field(
        default=None,
        metadata=_help("Size-based wrapping instead: wrap submodules of at least this size."),
    )
    activation_checkpointing: list[str] = field(
        default_factory=list,
        metadata=_help("Module class names whose activations are recomputed in backward."),
    )
    cpu_offload: bool = field(default=False, metadata=_help("Keep parameters on the CPU."))
    state_dict_type: str = field(default="full", metadata=_help(f"One of {STATE_DICT_TYPES}."))
    limit_all_gathers: bool = True  # True caps memory by throttling all-gathers ahead
    use_orig_params: bool = True  # True: the optimizer sees the model's own parameters
    process_group_backend: str | None = field(
        default=None, metadata=_help("None picks nccl (FSDP runs on CUDA GPUs only).")
    )
    timeout_s: int = field(default=1800, metadata=_help("Collective timeout, seconds."))

    def __post_init__(self) -> None:
        check_choice("strategy.name", self.name, ("fsdp",))
        check_choice("strategy.sharding_strategy", self.sharding_strategy, SHARDING_STRATEGIES)
        check_choice("strategy.state_dict_type", self.state_dict_type, STATE_DICT_TYPES)
        _check_process_group(self.process_group_backend, self.timeout_s)
        if self.auto_wrap and self.min_num_params is not None:
            raise ConfigError(
                f"strategy.auto_wrap={self.auto_wrap} and strategy.min_num_params="
                f"{self.min_num_params} are two wrapping policies; set one, the other to"
                " [] / null."
            )
        if self.min_num_params is not None and self.min_num_params < 1:
            raise ConfigError(f"strategy.min_num_params={self.min_num_params} must be >= 1.")
        if self.sharding_strategy == "HYBRID_SHARD" and not (
            self.auto_wrap or self.min_num_params is not None
        ):
            raise ConfigError(
                "strategy.sharding_strategy=HYBRID_SHARD needs a wrapping policy: set"
                " strategy.auto_wrap=[<block class>] or strategy.min_num_params=<size>."
            )


def _check_process_group(backend: str | None, timeout_s: int) -> None:
    if backend is not None:
        check_choice("strategy.process_group_backend", backend, PROCESS_GROUP_BACKENDS)
    if timeout_s < 1:
        raise ConfigError(f"strategy.timeout_s={timeout_s} must be >= 1.")


@dataclass
class TrainerConfig:
    """Arguments of lightning.pytorch.Trainer that a user sets per experiment."""

    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    max_epochs: int = 20
    max_steps: int = -1
    limit_train_batches: float | None = None
    limit_val_batches: float | None = None
    limit_test_batches: float | None = None
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = None
    accumulate_grad_batches: int = 1
    deterministic: bool = True  # reproducible kernels; False may be faster on GPU
    fast_dev_run: int = field(default=0, metadata=_help("Run N batches of each loop; 0 = off."))
    num_sanity_val_steps: int = 2

    def __post_init__(self) -> None:
        check_choice("trainer.accelerator", self.accelerator, ACCELERATORS)
        _check_devices(self.devices)
        if self.max_epochs == 0 or self.max_epochs < -1:
            raise ConfigError(
                f"trainer.max_epochs={self.max_epochs} trains nothing: give a number >= 1, or -1"
                " to stop at trainer.max_steps."
            )
        if self.max_epochs == -1 and self.max_steps < 1:
            raise ConfigError(
                f"trainer.max_epochs=-1 needs trainer.max_steps >= 1 (got {self.max_steps}),"
                " or the run never ends."
            )
        if self.fast_dev_run < 0:
            raise ConfigError(f"trainer.fast_dev_run={self.fast_dev_run} must be >= 0.")


def _check_devices(devices: Any) -> None:
    """Lightning's `devices`: "auto", a count (-1 = all), a list of indices or "0,1"."""
    if devices == "auto" or (
        isinstance(devices, int) and not isinstance(devices, bool) and devices >= -1
    ):
        return
    if (
        isinstance(devices, list)
        and devices
        and all(isinstance(d, int) and d >= 0 for d in devices)
    ):
        return
    if isinstance(devices, str) and all(p.strip().isdigit() for p in devices.split(",")):
        return
    raise ConfigError(
        f"trainer.devices={devices!r} is not a device spec: use auto, a count such as 2 (-1 for"
        " all), a list such as [0,1], or a string such as '0,1'."
    )


# --- logging and callbacks ----------------------------------------------------------------


@dataclass
class LoggerConfig:
    backend: str = field(default="wandb", metadata=_help(f"One of {LOGGER_BACKENDS}."))
    mode: str = field(
        default="auto", metadata=_help("W&B mode; auto = online only when logged in.")
    )
    project: str = "fabricx"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    log_artifacts: bool = field(
        default=True, metadata=_help("Log the best checkpoint and exports as W&B artifacts.")
    )

    def __post_init__(self) -> None:
        check_choice("logger.backend", self.backend, LOGGER_BACKENDS)
        check_choice("logger.mode", self.mode, WANDB_MODES)


@dataclass
class CheckpointConfig:
    enabled: bool = True
    monitor: str = II("task.monitor")
    mode: str = II("task.mode")
    save_top_k: int = 1
    save_last: bool = field(
        default=True, metadata=_help("Keep checkpoints/last.ckpt current: what resume= uses.")
    )
    every_n_train_steps: int = field(
        default=0,
        metadata=_help("Also write last.ckpt every N optimizer steps mid-epoch; 0: epoch ends."),
    )

    def __post_init__(self) -> None:
        check_choice("callbacks.checkpoint.mode", self.mode, MODES)
        if self.every_n_train_steps < 0:
            raise ConfigError(
                f"callbacks.checkpoint.every_n_train_steps={self.every_n_train_steps} must be "
                ">= 0 (0 writes last.ckpt at epoch ends only)."
            )


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = II("task.monitor")
    mode: str = II("task.mode")
    patience: int = 5
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check_choice("callbacks.early_stopping.mode", self.mode, MODES)


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    progress_bar: str = field(default="rich", metadata=_help(f"One of {PROGRESS_BARS}."))
    progress_refresh_per_second: float = field(
        default=10.0,
        metadata=_help(
            "Progress-bar updates and redraws per second: each update reads the metrics off"
            " the device."
        ),
    )
    lr_monitor: bool = True

    def __post_init__(self) -> None:
        check_choice("callbacks.progress_bar", self.progress_bar, PROGRESS_BARS)
        if self.progress_refresh_per_second <= 0:
            raise ConfigError(
                f"callbacks.progress_refresh_per_second={self.progress_refresh_per_second} "
                "must be > 0; use callbacks.progress_bar=none for no bar."
            )


# --- export and verify --------------------------------------------------------------------


ONNX_TARGETS = ("onnx", "onnx_fp16", "onnx_int8")
EXPORT_TARGETS = (*ONNX_TARGETS, "tensorrt")


@dataclass
class Tolerance:
    """How close an artifact must stay to the eager fp32 model; set per target's precision."""

    atol: float = 1e-4
    rtol: float = 1e-3
    max_metric_drop: float = field(
        default=0.005, metadata=_help("Largest allowed test-metric loss through the runtime.")
    )

    def check_tolerance(self, key: str) -> None:
        if self.atol < 0 or self.rtol < 0 or self.max_metric_drop < 0:
            raise ConfigError(
                f"{key}: atol={self.atol}, rtol={self.rtol} and max_metric_drop="
                f"{self.max_metric_drop} must all be >= 0."
            )


@dataclass
class OnnxExportConfig(Tolerance):
    """model.onnx: fp32, from torch.onnx's dynamo exporter. Every ONNX target starts here."""

    opset: int = 18
    dynamic_batch: bool = True
    external_data: bool = field(
        default=False, metadata=_help("Keep weights in model.onnx.data beside the graph.")
    )

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx")
        if not self.dynamic_batch:
            raise ConfigError(
                "export.onnx.dynamic_batch=false: verification and bench run several batch "
                "sizes, so the exported graph needs a dynamic batch axis; keep it true."
            )


@dataclass
class OnnxFp16Config(Tolerance):
    """model.fp16.onnx: model.onnx with fp16 weights and compute (onnxruntime's converter)."""

    keep_io_types: bool = field(
        default=True, metadata=_help("Keep fp32 inputs/outputs, so callers feed the same data.")
    )
    atol: float = 1e-2
    rtol: float = 1e-2
    max_metric_drop: float = 0.005

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx_fp16")


@dataclass
class OnnxInt8Config(Tolerance):
    """model.int8.onnx: static Q/DQ quantization calibrated on training batches; the same
    file runs on ONNX Runtime (CPU) and TensorRT."""

    calibration_batches: int = field(
        default=16, metadata=_help("Training batches that calibrate the activation ranges.")
    )
    calibrate_method: str = field(
        default="minmax", metadata=_help(f"One of {CALIBRATION_METHODS}.")
    )
    per_channel: bool = True  # one scale per output channel: better accuracy, same speed
    op_types: list[str] = field(
        default_factory=lambda: ["MatMul", "Gemm", "Conv"],
        metadata=_help("Ops to quantize; the rest (Add, Softmax, norms) stay fp32."),
    )
    atol: float = 0.5
    rtol: float = 0.1
    max_metric_drop: float = 0.02

    def __post_init__(self) -> None:
        self.check_tolerance("export.onnx_int8")
        method = self.calibrate_method
        check_choice("export.onnx_int8.calibrate_method", method, CALIBRATION_METHODS)
        if self.calibration_batches < 1:
            raise ConfigError(
                f"export.onnx_int8.calibration_batches={self.calibration_batches} must be >= 1."
            )


@dataclass
class TensorrtConfig(Tolerance):
    """model.plan: a strongly typed TensorRT engine built from one of the ONNX files; its
    precision is that file's (fp32, fp16 or INT8 Q/DQ). Needs an NVIDIA GPU and tensorrt."""

    source: str = field(
        default="onnx", metadata=_help(f"The ONNX file to build from, {ONNX_TARGETS}.")
    )
    workspace_gb: float = field(default=4.0, metadata=_help("Builder scratch memory limit."))
    timing_cache: str = field(
        default="~/.cache/fabricx/tensorrt-timing.cache",
        metadata=_help("Kernel timings reused across builds on the same GPU; empty: none."),
    )
    atol: float = 1e-2  # TensorRT may run fp32 matmuls in TF32
    rtol: float = 1e-2
    max_metric_drop: float = 0.005

    def __post_init__(self) -> None:
        self.check_tolerance("export.tensorrt")
        check_choice("export.tensorrt.source", self.source, ONNX_TARGETS)
        if self.workspace_gb <= 0:
            raise ConfigError(f"export.tensorrt.workspace_gb={self.workspace_gb} must be > 0.")


@dataclass
class VerifyConfig:
    """How exported models are checked against the eager model (tolerances: per target)."""

    batch_sizes: list[int] = field(default_factory=lambda: [1, 16, 64])

    def __post_init__(self) -> None:
        if len(self.batch_sizes) < 2 or min(self.batch_sizes) < 1:
            raise ConfigError(
                f"export.verify.batch_sizes={self.batch_sizes}: give at least two sizes >= 1,"
                " so the dynamic batch dimension is exercised."
            )


TARGET_SCHEMAS: dict[str, type[Tolerance]] = {
    "onnx": OnnxExportConfig,
    "onnx_fp16": OnnxFp16Config,
    "onnx_int8": OnnxInt8Config,
    "tensorrt": TensorrtConfig,
}


@dataclass
class ExportConfig:
    """Export targets: each option of the `export` group fills in its own key, so
    `export=[onnx,onnx_int8]` selects several."""

    onnx: OnnxExportConfig | None = None
    onnx_fp16: OnnxFp16Config | None = None
    onnx_int8: OnnxInt8Config | None = None
    tensorrt: TensorrtConfig | None = None
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    def __post_init__(self) -> None:
        source = self.tensorrt.source if self.tensorrt is not None else "onnx"
        if source != "onnx" and getattr(self, source) is None:
            raise ConfigError(
                f"export.tensorrt.source={source} but export does not produce it; add it: "
                f"export=[onnx,{source},tensorrt]."
            )

    @property
    def targets(self) -> list[str]:
        return [name for name in EXPORT_TARGETS if getattr(self, name) is not None]

    @property
    def base_onnx(self) -> OnnxExportConfig:
        """Settings of the fp32 model.onnx that fp16 and INT8 derive from (defaults when only
        a derived target was asked for)."""
        return self.onnx or OnnxExportConfig()


@dataclass
class BenchConfig:
    """The bench stage: latency and throughput per runtime and batch size."""

    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 64])
    warmup_iters: int = 5
    min_iters: int = field(default=20, metadata=_help("Timed calls at least, per case."))
    max_iters: int = field(default=1000, metadata=_help("Timed calls at most, per case."))
    seconds_per_case: float = field(
        default=0.3, metadata=_help("Time budget per (runtime, batch size) after min_iters.")
    )

    def __post_init__(self) -> None:
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ConfigError(f"bench.batch_sizes={self.batch_sizes} needs sizes >= 1.")
        if not 1 <= self.min_iters <= self.max_iters:
            raise ConfigError(
                f"bench.min_iters={self.min_iters} and bench.max_iters={self.max_iters}: "
                "need 1 <= min_iters <= max_iters."
            )
        if self.warmup_iters < 0 or self.seconds_per_case < 0:
            raise ConfigError("bench.warmup_iters and bench.seconds_per_case must be >= 0.")


# --- primary configs ----------------------------------------------------------------------


@dataclass
class ExpectedConfig:
    """A recipe's published (or measured) result, which `fabricx reproduce` checks."""

    metric: str = field(default=MISSING, metadata=_help("Logged key, e.g. test/acc."))
    value: float = field(default=MISSING, metadata=_help("The expected mean over seeds."))
    tolerance: float = field(default=MISSING, metadata=_help("Allowed |mean - value|."))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source: str = field(default=MISSING, metadata=_help("Citation of the number."))
    hardware: str = field(default="", metadata=_help("Where the number was obtained."))
    time_budget_min: float = field(default=0.0, metadata=_help("Minutes one seed should take."))

    def __post_init__(self) -> None:
        if self.tolerance < 0 or not self.seeds:
            raise ConfigError(
                f"expected.tolerance={self.tolerance} must be >= 0 and expected.seeds="
                f"{self.seeds} non-empty."
            )


@dataclass
class PathsConfig:
    runs_dir: str = field(default="runs", metadata=_help("Root of every run directory."))


@dataclass
class TrainConfig:
    """`fabricx train`: the whole experiment."""

    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    task: TaskConfig = MISSING
    optim: OptimConfig = MISSING
    scheduler: SchedulerConfig = MISSING
    precision: PrecisionConfig = MISSING
    strategy: StrategyConfig = MISSING
    trainer: TrainerConfig = MISSING
    logger: LoggerConfig = MISSING
    callbacks: CallbacksConfig = MISSING
    export: ExportConfig = field(default_factory=ExportConfig)  # export=[] is none
    bench: BenchConfig = field(default_factory=BenchConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    expected: ExpectedConfig | None = field(
        default=None, metadata=_help("Set by a recipe: what `fabricx reproduce` checks.")
    )
    experiment: str = field(default="default", metadata=_help("Runs go to runs/<experiment>/."))
    seed: int = 0
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    allowed_target_prefixes: list[str] = field(
        default_factory=lambda: list(DEFAULT_TARGET_PREFIXES),
        metadata=_help("Modules that `_target_` may name; anything else is refused."),
    )
    extra_target_prefixes: list[str] = field(
        default_factory=list, metadata=_help("Your own modules to allow, e.g. [mylab].")
    )
    resume: str | None = field(
        default=None,
        metadata=_help(
            "null: a new run; auto: continue this experiment's newest unfinished run, or start"
            " a new one; a run directory: continue that run (fabricx.resume)."
        ),
    )

    def __post_init__(self) -> None:
        for stage in self.stages:
            check_choice("stages", stage, STAGES)
        if self.resume is not None and not self.resume.strip():
            raise ConfigError(
                "resume='' names nothing: give resume=auto, a run directory such as "
                "resume=runs/<experiment>/<timestamp>-<id>, or resume=null for a new run."
            )
        checkpoint = self.callbacks.checkpoint
        if self.resume is not None and not (checkpoint.enabled and checkpoint.save_last):
            raise ConfigError(
                f"resume={self.resume} continues from checkpoints/last.ckpt, but this config "
                "writes none (callbacks.checkpoint.enabled=false or callbacks.checkpoint."
                "save_last=false); set both to true."
            )
        keys = self.task.logged_keys
        check_choice("task.monitor", self.task.monitor, keys)
        if self.callbacks.checkpoint.enabled:
            check_choice("callbacks.checkpoint.monitor", self.callbacks.checkpoint.monitor, keys)
        if self.callbacks.early_stopping.enabled:
            check_choice(
                "callbacks.early_stopping.monitor", self.callbacks.early_stopping.monitor, keys
            )
        if not self.experiment or "/" in self.experiment:
            raise ConfigError(
                f"experiment={self.experiment!r} must be a non-empty name without '/'."
            )

    @property
    def target_prefixes(self) -> list[str]:
        return [*self.allowed_target_prefixes, *self.extra_target_prefixes]


@dataclass
class FinishedRunConfig:
    """What every verb on a finished run takes: the run, its checkpoint, allowed modules."""

    run: str = field(default=MISSING, metadata=_help("The run directory."))
    checkpoint: str = field(default="best", metadata=_help("best, last, or a file path."))
    extra_target_prefixes: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Modules to allow beyond fabricx's defaults; the run's own list is not trusted."
        ),
    )


@dataclass
class EvalConfig(FinishedRunConfig):
    """`fabricx eval run=<dir>`: re-evaluate a finished run with its own saved config."""

    verify_onnx: bool = field(
        default=True, metadata=_help("Also verify every exported file in export/.")
    )
    accelerator: str = "auto"


@dataclass
class ExportRunConfig(FinishedRunConfig):
    """`fabricx export run=<dir> export=[...]`: export a finished run again, no training."""

    export: ExportConfig = field(default_factory=ExportConfig)
    verify: bool = field(default=True, metadata=_help("Verify every artifact after export."))

    def __post_init__(self) -> None:
        if not self.export.targets:
            raise ConfigError(
                "export names no target: give some, e.g. export=[onnx] or "
                "export=[onnx,onnx_fp16,onnx_int8]."
            )


@dataclass
class BenchRunConfig(FinishedRunConfig):
    """`fabricx bench run=<dir>`: time a finished run's model on every runtime it has."""

    bench: BenchConfig = field(default_factory=BenchConfig)


# Group name -> {option schema name -> dataclass}. Options' YAML files name these in their
# defaults list; names start with `base_` so they never read as user-facing options.
GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "data": {
        "base_data": DataConfig,
        "base_digits": DigitsDataConfig,
        "base_mnist": MnistDataConfig,
        "base_cifar10": Cifar10DataConfig,
        "base_image_folder": ImageFolderDataConfig,
        "base_conll2003": Conll2003DataConfig,
        "base_glue_sst2": GlueSst2DataConfig,
        "base_conll2003_words": Conll2003WordsDataConfig,
    },
    "model": {
        "base_model": ModelConfig,
        "base_mlp": MLPConfig,
        "base_lenet5": LeNet5Config,
        "base_resnet18": ResNet18Config,
        "base_airbench": AirbenchConfig,
        "base_hf_token_classifier": HFTokenClassifierConfig,
        "base_hf_sequence_classifier": HFSequenceClassifierConfig,
        "base_bilstm_tagger": BiLSTMTaggerConfig,
    },
    "task": {
        "base_task": TaskConfig,
        "base_classification": ClassificationTaskConfig,
        "base_token_classification": TokenClassificationTaskConfig,
    },
    "optim": {"base_optim": OptimConfig, "base_adamw": AdamWConfig, "base_sgd": SGDConfig},
    "scheduler": {"base_scheduler": SchedulerConfig},
    "precision": {"base_precision": PrecisionConfig},
    "strategy": {
        "base_strategy": StrategyConfig,
        "base_ddp": DDPStrategyConfig,
        "base_fsdp": FSDPStrategyConfig,
    },
    "trainer": {"base_trainer": TrainerConfig},
    "logger": {"base_logger": LoggerConfig},
    "callbacks": {"base_callbacks": CallbacksConfig},
    "export": {"base_export": ExportConfig},
}
PRIMARY_SCHEMAS: dict[str, type] = {
    "base_train": TrainConfig,
    "base_eval": EvalConfig,
    "base_export_run": ExportRunConfig,
    "base_bench_run": BenchRunConfig,
}


def register_configs() -> None:
    """Put every schema in Hydra's ConfigStore; called once by fabricx.config.compose."""
    from hydra.core.config_store import ConfigStore

    from fabricx.config.sweep_schema import SweepRunConfig  # it builds on TrainConfig

    store = ConfigStore.instance()
    store.store(name="base_sweep", node=SweepRunConfig)
    for name, node in PRIMARY_SCHEMAS.items():
        store.store(name=name, node=node)
    for group, schemas in GROUP_SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)
