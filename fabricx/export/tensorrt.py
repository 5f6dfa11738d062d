"""TensorRT engines from the exported ONNX file: profiles, build, sidecar checks, a runner.

Written against the Python API that TensorRT 10 and 11 share. The network is strongly typed:
every tensor keeps the dtype the ONNX graph gives it, so model.onnx builds an fp32 engine,
model.fp16.onnx an fp16 one and the Q/DQ model.int8.onnx an INT8 one, with no builder
precision flags (TensorRT 11 removed FP16/INT8 flags; in 11 strong typing is always on).

An engine only runs on the GPU model and the TensorRT version that built it, so each engine
gets a JSON sidecar (`<engine>.json`) that the runner checks before it deserializes anything.

`tensorrt` and CUDA are imported inside the functions that need them: this module imports
on a CPU-only machine, where only its pure-Python parts (profiles, sidecars, shape checks)
can run, and `tensorrt_unavailable_reason()` says in one line what is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open
from fabricx.errors import ArtifactError, ConfigError, FabricxError, did_you_mean
from fabricx.export.sidecar import sidecar_path

log = logging.getLogger(__name__)

PRECISION_NOTE = "strongly typed: from ONNX dtypes"
REBUILD_HINT = "rebuild it on this machine: fabricx export run=<dir> export=[tensorrt]"
Shape = tuple[int, ...]


# --- optimization profiles ----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The shapes one engine input accepts: TensorRT tunes kernels for `opt` and runs
    anything from `min` to `max` on every axis.

    Raises:
        ConfigError: ranks differ, a size is below 1, or min <= opt <= max fails on an axis.
    """

    name: str
    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        for attr in ("min", "opt", "max"):  # JSON and TensorRT hand back lists; keep tuples
            object.__setattr__(self, attr, tuple(int(d) for d in getattr(self, attr)))
        if not len(self.min) == len(self.opt) == len(self.max):
            raise ConfigError(
                f"profile of input {self.name!r}: min {self.min}, opt {self.opt} and max"
                f" {self.max} have different ranks; give every shape one size per axis."
            )
        bad = [
            i
            for i, (a, b, c) in enumerate(zip(self.min, self.opt, self.max, strict=True))
            if not 1 <= a <= b <= c
        ]
        if bad:
            raise ConfigError(
                f"profile of input {self.name!r}: min {self.min}, opt {self.opt}, max {self.max}"
                f" break 1 <= min <= opt <= max on axis {bad[0]}; fix that axis."
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "min": list(self.min),
            "opt": list(self.opt),
            "max": list(self.max),
        }


def derive_profiles(
    input_shapes: dict[str, Shape],
    batch_sizes: list[int],
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    seq_lens: list[int] | None = None,
) -> list[Profile]:
    """One profile per input from a typical batch of the data and the sizes it must serve.

    Axis 0 is the batch: min 1 (the last batch of a split can have any size), opt the typical
    batch (axis 0 of `input_shapes`), max the largest of `batch_sizes`. Any other dynamic axis
    is a sequence: min the shortest of `seq_lens`, opt the typical length, max the longest.
    Static axes keep the typical size.

    Args:
        input_shapes: input name -> shape of one typical batch, e.g. {"x": (64, 1, 8, 8)}.
        batch_sizes: batch sizes the engine must run (export.verify.batch_sizes).
        dynamic_axes: input name -> {axis: label}; None: axis 0 of every input, as
            `export_onnx(dynamic_batch=True)` exports it.
        seq_lens: shortest and longest sequence lengths, needed when an axis other than 0
            is dynamic (text).

    Raises:
        ConfigError: every impossible request at once (empty lists, an axis beyond an input's
            rank, an unknown input, a typical size above the max or outside seq_lens).

    Example::

        >>> derive_profiles({"x": (16, 64)}, batch_sizes=[1, 16, 64])
        [Profile(name='x', min=(1, 64), opt=(16, 64), max=(64, 64))]
    """
    if not input_shapes:
        raise ConfigError("derive_profiles: no inputs given; pass the shapes of one batch.")
    if not batch_sizes or min(batch_sizes) < 1:
        raise ConfigError(
            f"export.verify.batch_sizes={batch_sizes}: the TensorRT profile needs at least one"
            " batch size >= 1, e.g. [1, 16, 64]."
        )
    if seq_lens is not None and (not seq_lens or min(seq_lens) < 1):
        raise ConfigError(f"seq_lens={seq_lens}: give the shortest and longest lengths, both >= 1.")
    if dynamic_axes is None:
        dynamic_axes = {name: {0: "batch"} for name in input_shapes}
    problems = [
        f"dynamic_axes names input {name!r}, which the model does not take; inputs:"
        f" {sorted(input_shapes)}.{did_you_mean(name, input_shapes)}"
        for name in dynamic_axes
        if name not in input_shapes
    ]
    typical: dict[str, tuple[int, str]] = {}  # label -> (size, input) to catch disagreements
    profiles = []
    for name, shape in input_shapes.items():
        lo, opt, hi = list(shape), list(shape), list(shape)
        for axis, label in dynamic_axes.get(name, {}).items():
            if not -len(shape) <= axis < len(shape):
                problems.append(
                    f"dynamic_axes[{name!r}] names axis {axis} ({label!r}), but input"
                    f" {name!r} has rank {len(shape)} (shape {tuple(shape)}); name an axis"
                    f" below {len(shape)}."
                )
                continue
            axis %= len(shape)
            if axis == 0:
                lo[0], hi[0] = 1, max(batch_sizes)
            elif seq_lens is None:
                problems.append(
                    f"input {name!r} axis {axis} ({label!r}) is dynamic but no seq_lens were"
                    " given; pass the shortest and longest lengths, e.g. seq_lens=[8, 128]."
                )
                continue
            else:
                lo[axis], hi[axis] = min(seq_lens), max(seq_lens)
            seen = typical.setdefault(label, (shape[axis], name))
            if seen[0] != shape[axis]:
                problems.append(
                    f"inputs {seen[1]!r} and {name!r} disagree on axis {label!r}: {seen[0]} vs"
                    f" {shape[axis]}; take both shapes from the same batch."
                )
            if not lo[axis] <= opt[axis] <= hi[axis]:
                side = "opt > max" if opt[axis] > hi[axis] else "opt < min"
                what = (
                    f"export.verify.batch_sizes={batch_sizes}"
                    if axis == 0
                    else f"seq_lens={seq_lens}"
                )
                problems.append(
                    f"input {name!r} axis {axis} ({label!r}): the typical size {opt[axis]} is"
                    f" outside [{lo[axis]}, {hi[axis]}] ({side}); add {opt[axis]} to {what}"
                    " or take the typical shape from a smaller batch."
                )
        if not problems:
            profiles.append(Profile(name, tuple(lo), tuple(opt), tuple(hi)))
    if problems:
        raise ConfigError(problems)
    return profiles


def check_input_shapes(shapes: Mapping[str, Shape], profiles: Iterable[Profile]) -> None:
    """Refuse inputs the engine's profile cannot run, before TensorRT sees them.

    TensorRT's own refusal is a log line and a False return; this names the input, its shape
    and the allowed range. Inputs without a profile are ignored, as ONNX Runtime ignores them.

    Raises:
        FabricxError: an input is missing, has another rank, or an axis is out of range.
    """
    problems = []
    for profile in profiles:
        shape = shapes.get(profile.name)
        if shape is None:
            problems.append(f"input {profile.name!r} is missing; the engine needs it.")
            continue
        shape = tuple(shape)
        if len(shape) != len(profile.min):
            where = f" (rank {len(shape)}, the engine's is {len(profile.min)})"
        else:
            limits = zip(shape, profile.min, profile.max, strict=True)
            axes = [i for i, (d, lo, hi) in enumerate(limits) if not lo <= d <= hi]
            if not axes:
                continue
            where = f" (axis {axes[0]} out of range)"
        problems.append(
            f"input {profile.name!r} has shape {shape}{where}; the engine's profile allows"
            f" min {profile.min} to max {profile.max}."
        )
    if problems:
        raise FabricxError(
            "the TensorRT engine cannot run these inputs:\n  - "
            + "\n  - ".join(problems)
            + "\nSplit the batch, or widen the profile (export.verify.batch_sizes, seq_lens) and "
            + REBUILD_HINT
        )


def match_profiles(network_inputs: Mapping[str, Shape], profiles: Iterable[Profile]) -> None:
    """Check profiles against the parsed network's inputs (-1 marks a dynamic axis).

    Raises:
        ArtifactError: an input without a profile (or the reverse), a rank mismatch, or a
            profile that changes a static axis: no engine can be built from this ONNX file
            with these profiles.
    """
    by_name = {p.name: p for p in profiles}
    problems = [
        f"the ONNX model has input {name!r} but no profile was given for it."
        for name in network_inputs
        if name not in by_name
    ]
    for name, profile in by_name.items():
        if name not in network_inputs:
            problems.append(
                f"profile for {name!r}, but the ONNX model's inputs are {sorted(network_inputs)}."
                f"{did_you_mean(name, network_inputs)}"
            )
            continue
        dims = tuple(network_inputs[name])
        if len(dims) != len(profile.min) or any(
            d != -1 and not lo == hi == d
            for d, lo, hi in zip(dims, profile.min, profile.max, strict=True)
        ):
            problems.append(
                f"input {name!r} is {dims} in the ONNX model (-1: dynamic) but its profile is"
                f" min {profile.min} to max {profile.max}; re-derive the profiles from the data."
            )
    if problems:
        raise ArtifactError(
            "the TensorRT profiles do not fit the ONNX model:\n  - " + "\n  - ".join(problems)
        )


# --- the sidecar --------------------------------------------------------------------------


@dataclass
class EngineSidecar:
    """What an engine was built from and for, written beside it as `<engine>.json`."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0" for an H100/H200
    profiles: list[Profile]
    onnx_file: str  # its name, for messages; the hash is what is checked
    onnx_sha256: str  # the .onnx file and its external .data, if any
    workspace_bytes: int
    build_seconds: float
    built_at: str  # ISO 8601, UTC
    precision: str = PRECISION_NOTE

    def to_json(self) -> str:
        data = asdict(self)
        data["profiles"] = [p.as_dict() for p in self.profiles]
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> EngineSidecar:
        """Parse `to_json` output; keys a newer fabricx added are ignored.

        Raises:
            ArtifactError: not JSON, keys missing (an older or foreign file), or profiles
                no engine can have (a sidecar written by hand or damaged).
        """
        try:
            data = json.loads(text)
            data["profiles"] = [Profile(**p) for p in data["profiles"]]
            return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        except (ValueError, KeyError, TypeError, ConfigError) as err:
            raise ArtifactError(
                f"{source} is not a fabricx engine sidecar ({err}); {REBUILD_HINT}"
            ) from err

    def write(self, path: Path) -> None:
        with atomic_open(path, "w") as f:
            f.write(self.to_json() + "\n")

    @classmethod
    def read(cls, path: Path) -> EngineSidecar:
        if not path.exists():
            raise ArtifactError(
                f"{path} is missing: without it fabricx cannot tell which GPU and TensorRT the"
                f" engine was built for; {REBUILD_HINT}"
            )
        return cls.from_json(path.read_text(), source=str(path))


def onnx_sha256(onnx_path: Path) -> str:
    """sha256 over the ONNX file and, when present, its external data `<name>.data`."""
    digest = hashlib.sha256()
    for path in (onnx_path, onnx_path.with_name(onnx_path.name + ".data")):
        if path.exists():
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def check_sidecar(
    sidecar: EngineSidecar,
    *,
    trt_version: str,
    gpu_name: str,
    compute_capability: str,
    onnx_sha256: str | None = None,
    engine: Path | str = "the engine",
) -> None:
    """Refuse an engine built for another GPU or TensorRT, or from another ONNX file.

    TensorRT itself may deserialize a foreign engine and then fail or run slowly; this says
    which field differs and how to rebuild.

    Raises:
        ArtifactError: naming every mismatch.
    """
    checks = [
        ("TensorRT version", sidecar.tensorrt_version, trt_version),
        ("GPU", sidecar.gpu_name, gpu_name),
        ("compute capability", sidecar.compute_capability, compute_capability),
    ]
    problems = [
        f"{what}: the engine was built with {built!r}; here it is {now!r}"
        for what, built, now in checks
        if built != now
    ]
    if onnx_sha256 is not None and sidecar.onnx_sha256 != onnx_sha256:
        problems.append(
            f"ONNX file {sidecar.onnx_file}: the engine was built from sha256"
            f" {sidecar.onnx_sha256[:12]}…; the file now has {onnx_sha256[:12]}… (re-exported)"
        )
    if problems:
        raise ArtifactError(
            f"{engine} does not match this machine or its ONNX file:\n  - "
            + "\n  - ".join(problems)
            + f"\nA TensorRT engine only runs where it was built; {REBUILD_HINT}"
        )


# --- availability and the running platform -------------------------------------------------


def tensorrt_unavailable_reason() -> str | None:
    """None when TensorRT can run here; otherwise one line: what is missing, how to get it."""
    import torch

    prefix = "TensorRT target skipped:"
    upgrade = "pip install -U 'fabricx[tensorrt]'"
    if not torch.cuda.is_available():
        build = (
            f"; torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None else ""
        )
        return (
            f"{prefix} no CUDA GPU visible (torch.cuda.is_available() is False{build}); run on a"
            " machine with an NVIDIA GPU and a CUDA build of torch"
        )
    try:
        import tensorrt as trt
    except ImportError:
        return (
            f"{prefix} the tensorrt package is not installed; pip install 'fabricx[tensorrt]'"
            " (needs an NVIDIA GPU and driver)"
        )
    except Exception as err:  # a broken install raises OSError/RuntimeError from its .so
        return f"{prefix} tensorrt failed to import ({err}); reinstall it: {upgrade}"
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        return f"{prefix} tensorrt {trt.__version__} is older than 10; {upgrade}"
    return None


def _require_tensorrt() -> Any:
    reason = tensorrt_unavailable_reason()
    if reason is not None:
        raise FabricxError(reason)
    import tensorrt as trt

    return trt


def running_platform(device: int | None = None) -> dict[str, str]:
    """The sidecar fields of this machine: TensorRT version, GPU name, compute capability."""
    import tensorrt as trt
    import torch

    device = torch.cuda.current_device() if device is None else device
    major, minor = torch.cuda.get_device_capability(device)
    return {
        "trt_version": str(trt.__version__),
        "gpu_name": torch.cuda.get_device_name(device),
        "compute_capability": f"{major}.{minor}",
    }


def _make_logger(trt: Any) -> Any:
    """A TensorRT logger that forwards to `logging` and keeps errors for our exceptions."""

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(msg)
                log.error("TensorRT: %s", msg)
            elif severity == trt.ILogger.Severity.WARNING:
                log.warning("TensorRT: %s", msg)
            else:
                log.debug("TensorRT: %s", msg)

    return _Logger()


# --- build --------------------------------------------------------------------------------


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    profiles: list[Profile],
    workspace_bytes: int = 1 << 30,
    timing_cache_path: Path | None = None,
) -> EngineSidecar:
    """Build a strongly typed engine from `onnx_path`; write it and its sidecar atomically.

    Args:
        onnx_path: the .onnx file (external data beside it is read by the parser).
        engine_path: where the engine goes; the sidecar is `<engine_path>.json`.
        profiles: one per network input (see `derive_profiles`).
        workspace_bytes: the builder's scratch-memory limit; more lets it try more tactics.
        timing_cache_path: kernel timings kept across builds (a rebuild of the same layers on
            the same GPU then skips the timing); None: no cache.

    Raises:
        FabricxError: TensorRT unavailable.
        ArtifactError: the parser rejected the graph (its errors listed), the build failed
            (TensorRT's errors listed), or the profiles do not fit the network's inputs.
        ConfigError: workspace_bytes < 1.
    """
    if workspace_bytes < 1:
        raise ConfigError(
            f"workspace_bytes={workspace_bytes}: give a positive size, e.g. {1 << 30}."
        )
    trt = _require_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    logger = _make_logger(trt)
    builder = trt.Builder(logger)
    # TensorRT 11 is always strongly typed and keeps the flag only for compatibility.
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    network = builder.create_network(0 if flag is None else 1 << int(flag))
    parser = trt.OnnxParser(network, logger)
    # parse_from_file, not parse(bytes): it resolves external data relative to the file.
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)] or logger.errors
        raise ArtifactError(
            f"TensorRT's ONNX parser rejected {onnx_path}:\n  - "
            + "\n  - ".join(errors)
            + "\nAn unsupported op needs another opset (export.onnx.opset) or a TensorRT plugin."
        )
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    match_profiles({t.name: tuple(t.shape) for t in inputs}, profiles)

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    profile = builder.create_optimization_profile()
    for p in profiles:
        profile.set_shape(p.name, p.min, p.opt, p.max)
    config.add_optimization_profile(profile)
    if timing_cache_path is not None:
        _load_timing_cache(config, Path(timing_cache_path))

    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise ArtifactError(
            f"TensorRT could not build an engine from {onnx_path}:\n  - "
            + "\n  - ".join(logger.errors or ["(no error logged)"])
            + f"\nIf it ran out of scratch memory, raise workspace_bytes (now {workspace_bytes})."
        )
    if timing_cache_path is not None:
        with atomic_open(Path(timing_cache_path), "wb") as f:
            f.write(memoryview(config.get_timing_cache().serialize()))

    here = running_platform()
    sidecar = EngineSidecar(
        tensorrt_version=here["trt_version"],
        gpu_name=here["gpu_name"],
        compute_capability=here["compute_capability"],
        profiles=list(profiles),
        onnx_file=onnx_path.name,
        onnx_sha256=onnx_sha256(onnx_path),
        workspace_bytes=workspace_bytes,
        build_seconds=round(seconds, 3),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    # The old sidecar goes first: a crash before the new one is written leaves an engine
    # without a sidecar, which the runner refuses, never one that a stale sidecar vouches for.
    sidecar_path(engine_path).unlink(missing_ok=True)
    with atomic_open(engine_path, "wb") as f:
        f.write(memoryview(serialized))
    sidecar.write(sidecar_path(engine_path))
    return sidecar


def _load_timing_cache(config: Any, path: Path) -> None:
    """Give the builder the timings of earlier builds; start empty if there are none or they
    came from another GPU or TensorRT (TensorRT then refuses them)."""
    blob = path.read_bytes() if path.exists() else b""
    cache = config.create_timing_cache(blob)
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        log.warning("timing cache %s does not fit this GPU/TensorRT; starting a new one", path)
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


# --- run ----------------------------------------------------------------------------------


def torch_dtype(trt_dtype_name: str) -> Any:
    """The torch dtype of a TensorRT DataType (by its name, e.g. "HALF")."""
    import torch

    dtypes = {
        "FLOAT": torch.float32,
        "HALF": torch.float16,
        "BF16": torch.bfloat16,
        "INT8": torch.int8,
        "UINT8": torch.uint8,
        "INT32": torch.int32,
        "INT64": torch.int64,
        "BOOL": torch.bool,
        "FP8": torch.float8_e4m3fn,
    }
    if trt_dtype_name not in dtypes:
        raise ArtifactError(
            f"engine tensor dtype {trt_dtype_name} has no torch equivalent; fabricx runs engines"
            f" whose inputs and outputs are one of {sorted(dtypes)}."
        )
    return dtypes[trt_dtype_name]


class TrtRunner:
    """A TensorRT engine called like the eager model: runner(**inputs) -> first output.

    Inputs may be CUDA or CPU tensors; the output comes back on the first input's device, so
    the parity and metric checks treat it like `OrtRunner`. Runs on the current torch CUDA
    stream (on a stream of its own when that is the legacy default stream, which TensorRT
    synchronizes around) and waits for the engine before returning.

    Args:
        engine_path: the engine; its sidecar `<engine>.json` must sit beside it.
        onnx_path: when given, also refuse an engine built from another version of this file.

    Raises:
        FabricxError: TensorRT unavailable.
        ArtifactError: the sidecar missing, broken or not matching this machine, or the
            engine failing to deserialize.
    """

    def __init__(self, engine_path: Path, onnx_path: Path | None = None) -> None:
        trt = _require_tensorrt()
        import torch

        engine_path = Path(engine_path)
        self.device = torch.device("cuda", torch.cuda.current_device())
        sidecar = EngineSidecar.read(sidecar_path(engine_path))
        # Checked before deserializing: a foreign engine may load and then misbehave.
        check_sidecar(
            sidecar,
            **running_platform(self.device.index),
            onnx_sha256=None if onnx_path is None else onnx_sha256(Path(onnx_path)),
            engine=engine_path,
        )
        self._logger = _make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise ArtifactError(
                f"TensorRT could not load {engine_path}: {'; '.join(self._logger.errors)}; "
                + REBUILD_HINT
            )
        self.context = self.engine.create_execution_context()
        self._stream = torch.cuda.Stream(self.device)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {n: torch_dtype(self.engine.get_tensor_dtype(n).name) for n in names}
        self.profiles = [
            Profile(n, *(tuple(s) for s in self.engine.get_tensor_profile_shape(n, 0)))
            for n in self.input_names
        ]

    def __call__(self, **inputs: Any) -> Any:
        import torch

        check_input_shapes({n: tuple(t.shape) for n, t in inputs.items()}, self.profiles)
        self._logger.errors.clear()  # only this call's errors go into its exception
        return_device = next(iter(inputs.values())).device
        current = torch.cuda.current_stream(self.device)
        # Copies and casts run on the current stream; TensorRT reads the tensors' memory, so
        # they must be contiguous and stay referenced until the stream is synchronized.
        feed = {n: inputs[n].to(self.device, self.dtypes[n]).contiguous() for n in self.input_names}
        stream = current
        if current.cuda_stream == 0:  # the legacy default stream: TensorRT warns and syncs
            self._stream.wait_stream(current)  # the copies above land before the engine reads
            stream = self._stream
        for name, tensor in feed.items():
            if not self.context.set_input_shape(name, tuple(tensor.shape)):
                raise FabricxError(
                    f"TensorRT refused shape {tuple(tensor.shape)} for input {name!r}: "
                    + "; ".join(self._logger.errors)
                )
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise FabricxError(
                    f"output {name!r} has a data-dependent shape {shape}; fabricx's runner needs"
                    " outputs whose shape follows from the inputs."
                )
            out = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise FabricxError(
                f"TensorRT failed to run the engine: {'; '.join(self._logger.errors)}"
            )
        stream.synchronize()
        return outputs[0].to(return_device)
