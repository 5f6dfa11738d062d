"""The TensorRT target: its pure-Python parts on CPU, the real engine where a GPU is present.

Profiles, sidecars, shape checks and messages run everywhere. Building and running an engine
needs tensorrt and a CUDA GPU; those tests skip with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fabricx.errors import ArtifactError, ConfigError, FabricxError
from fabricx.export.tensorrt import (
    EngineSidecar,
    Profile,
    TrtRunner,
    build_engine,
    check_input_shapes,
    check_sidecar,
    derive_profiles,
    match_profiles,
    onnx_sha256,
    sidecar_path,
    tensorrt_unavailable_reason,
    torch_dtype,
)
from tests.helpers.run_if import RunIf

REBUILD = "fabricx export run=<dir> export=[tensorrt]"
TRT_REASON = tensorrt_unavailable_reason()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )


def test_module_imports_without_tensorrt_or_torch() -> None:
    proc = _python(
        "import sys, fabricx.export.tensorrt, fabricx.verbs.doctor;"
        " print(sorted(m for m in ('tensorrt', 'torch') if m in sys.modules))"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- profiles -------------------------------------------------------------------------------


def test_profiles_for_image_batches() -> None:
    (profile,) = derive_profiles({"x": (16, 1, 8, 8)}, batch_sizes=[1, 16, 64])
    assert profile == Profile("x", min=(1, 1, 8, 8), opt=(16, 1, 8, 8), max=(64, 1, 8, 8))


def test_profiles_min_batch_is_one_whatever_the_smallest_size() -> None:
    # The last batch of a split can be any size, so the engine must take batch 1.
    (profile,) = derive_profiles({"x": (16, 64)}, batch_sizes=[16, 64])
    assert profile.min == (1, 64)


def test_profiles_for_text_batches() -> None:
    axes = {"batch": 0, "seq": 1}
    dynamic = {name: {i: label for label, i in axes.items()} for name in ("ids", "mask")}
    profiles = derive_profiles(
        {"ids": (8, 32), "mask": (8, 32)}, [1, 8, 32], dynamic_axes=dynamic, seq_lens=[16, 8, 128]
    )
    assert [p.name for p in profiles] == ["ids", "mask"]
    for p in profiles:
        assert (p.min, p.opt, p.max) == ((1, 8), (8, 32), (32, 128))


def test_profiles_keep_static_axes_and_honour_negative_axes() -> None:
    (profile,) = derive_profiles(
        {"x": (4, 10, 3)}, [1, 4], dynamic_axes={"x": {0: "batch", -2: "seq"}}, seq_lens=[5, 20]
    )
    assert (profile.min, profile.opt, profile.max) == ((1, 5, 3), (4, 10, 3), (4, 20, 3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shapes": {}, "batch_sizes": [1, 8]}, "no inputs given"),
        ({"input_shapes": {"x": (8, 4)}, "batch_sizes": []}, r"export\.verify\.batch_sizes=\[\]"),
        ({"input_shapes": {"x": (8, 4)}, "batch_sizes": [0, 8]}, "batch size >= 1"),
        (
            {"input_shapes": {"x": (128, 4)}, "batch_sizes": [1, 64]},
            r"typical size 128 is outside \[1, 64\] \(opt > max\); add 128 to"
            r" export\.verify\.batch_sizes=\[1, 64\]",
        ),
        (
            {"input_shapes": {"x": (8, 4)}, "batch_sizes": [8], "dynamic_axes": {"x": {2: "b"}}},
            r"names axis 2 \('b'\), but input 'x' has rank 2",
        ),
        (
            {"input_shapes": {"x": (8, 4)}, "batch_sizes": [8], "dynamic_axes": {"y": {0: "b"}}},
            "input 'y', which the model does not take",
        ),
        (
            {
                "input_shapes": {"ids": (8, 4)},
                "batch_sizes": [8],
                "dynamic_axes": {"ids": {1: "s"}},
            },
            "is dynamic but no seq_lens were given",
        ),
        (
            {
                "input_shapes": {"ids": (8, 4)},
                "batch_sizes": [8],
                "dynamic_axes": {"ids": {1: "seq"}},
                "seq_lens": [16, 64],
            },
            r"typical size 4 is outside \[16, 64\] \(opt < min\); add 4 to seq_lens",
        ),
        (
            {
                "input_shapes": {"ids": (8, 16), "mask": (8, 12)},
                "batch_sizes": [8],
                "dynamic_axes": {"ids": {1: "seq"}, "mask": {1: "seq"}},
                "seq_lens": [4, 64],
            },
            "inputs 'ids' and 'mask' disagree on axis 'seq': 16 vs 12",
        ),
        ({"input_shapes": {"x": (8, 4)}, "batch_sizes": [8], "seq_lens": []}, "seq_lens=\\[\\]"),
    ],
)
def test_profiles_refuse_impossible_requests(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        derive_profiles(**kwargs)


def test_profiles_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        derive_profiles(
            {"a": (128, 4), "b": (128,)}, [1, 64], dynamic_axes={"a": {0: "n"}, "b": {1: "n"}}
        )
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((1, 4), (8, 4), (16,)), "different ranks"),
        (((1, 4), (8, 4), (4, 4)), "on axis 0"),
        (((0, 4), (8, 4), (16, 4)), "on axis 0"),
        (((1, 4), (8, 5), (16, 4)), "on axis 1"),
    ],
)
def test_profile_checks_its_shapes(shapes: tuple, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Profile("x", *shapes)


# --- shape checks -------------------------------------------------------------------------

PROFILES = [Profile("x", (1, 16), (8, 16), (64, 16)), Profile("mask", (1, 16), (8, 16), (64, 16))]


def test_input_shapes_within_profile_pass_and_extras_are_ignored() -> None:
    check_input_shapes({"x": (1, 16), "mask": (64, 16), "labels": (3,)}, PROFILES)


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (
            {"x": (65, 16), "mask": (65, 16)},
            r"input 'x' has shape \(65, 16\) \(axis 0 out of range\); the engine's profile"
            r" allows min \(1, 16\) to max \(64, 16\)",
        ),
        ({"x": (8, 17), "mask": (8, 16)}, r"input 'x' has shape \(8, 17\) \(axis 1"),
        ({"x": (8, 16, 1), "mask": (8, 16)}, r"\(rank 3, the engine's is 2\)"),
        ({"x": (8, 16)}, "input 'mask' is missing"),
    ],
)
def test_input_shapes_outside_profile_are_refused(shapes: dict, match: str) -> None:
    with pytest.raises(FabricxError, match=match) as info:
        check_input_shapes(shapes, PROFILES)
    assert REBUILD in str(info.value)


def test_profiles_match_the_network_inputs() -> None:
    match_profiles({"x": (-1, 16), "mask": (-1, 16)}, PROFILES)
    with pytest.raises(ArtifactError) as info:  # no engine builds from this ONNX file
        match_profiles({"x": (-1, 8), "ids": (-1, -1)}, PROFILES)
    text = str(info.value)
    assert "input 'ids' but no profile" in text
    assert "profile for 'mask', but the ONNX model's inputs are ['ids', 'x']" in text
    assert "input 'x' is (-1, 8) in the ONNX model" in text


# --- sidecar ------------------------------------------------------------------------------


def _sidecar(**changes: object) -> EngineSidecar:
    sidecar = EngineSidecar(
        tensorrt_version="10.8.0",
        gpu_name="NVIDIA H200",
        compute_capability="9.0",
        profiles=list(PROFILES),
        onnx_file="model.onnx",
        onnx_sha256="a" * 64,
        workspace_bytes=1 << 30,
        build_seconds=3.25,
        built_at="2026-11-22T11:32:22+00:00",
    )
    return replace(sidecar, **changes)


def test_sidecar_json_round_trip(tmp_path: Path) -> None:
    sidecar = _sidecar()
    path = sidecar_path(tmp_path / "model.engine")
    assert path.name == "model.engine.json"
    sidecar.write(path)
    data = json.loads(path.read_text())
    assert data["precision"] == "strongly typed: from ONNX dtypes"
    assert data["profiles"][0] == {"name": "x", "min": [1, 16], "opt": [8, 16], "max": [64, 16]}
    assert EngineSidecar.read(path) == sidecar
    data["added_by_a_newer_fabricx"] = 1
    assert EngineSidecar.from_json(json.dumps(data)) == sidecar


def test_sidecar_missing_or_foreign_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FabricxError, match=r"model\.engine\.json is missing") as info:
        EngineSidecar.read(tmp_path / "model.engine.json")
    assert REBUILD in str(info.value)
    data = json.loads(_sidecar().to_json())
    del data["gpu_name"]
    with pytest.raises(FabricxError, match="not a fabricx engine sidecar"):
        EngineSidecar.from_json(json.dumps(data))
    with pytest.raises(FabricxError, match="not a fabricx engine sidecar"):
        EngineSidecar.from_json("{not json")


def test_a_broken_engine_read_back_is_an_artifact_error_not_a_config_error(
    tmp_path: Path,
) -> None:
    """An engine whose sidecar was damaged (here: a profile with min > max) exits 7, the
    artifact error, where it used to escape as a config error (2) from Profile's check."""
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not an engine")
    data = json.loads(_sidecar().to_json())
    data["profiles"][0]["min"] = [128, 16]  # above opt and max: no engine has this profile
    sidecar_path(engine).write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"model\.engine\.json is not a fabricx engine") as info:
        EngineSidecar.read(sidecar_path(engine))
    assert not isinstance(info.value, ConfigError)
    assert info.value.exit_code == ArtifactError.exit_code == 7
    assert REBUILD in str(info.value)
    sidecar_path(engine).unlink()  # no sidecar at all: the same status
    with pytest.raises(ArtifactError, match="is missing"):
        EngineSidecar.read(sidecar_path(engine))


HERE = {"trt_version": "10.8.0", "gpu_name": "NVIDIA H200", "compute_capability": "9.0"}


def test_check_sidecar_accepts_the_machine_it_was_built_on() -> None:
    check_sidecar(_sidecar(), **HERE, onnx_sha256="a" * 64)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        (
            "trt_version",
            "11.0.0",
            "TensorRT version: the engine was built with '10.8.0'; here it is '11.0.0'",
        ),
        (
            "gpu_name",
            "NVIDIA A100-SXM4-80GB",
            "GPU: the engine was built with 'NVIDIA H200'; here it is 'NVIDIA A100-SXM4-80GB'",
        ),
        (
            "compute_capability",
            "8.0",
            "compute capability: the engine was built with '9.0'; here it is '8.0'",
        ),
        (
            "onnx_sha256",
            "b" * 64,
            "ONNX file model.onnx: the engine was built from sha256 aaaaaaaaaaaa…;"
            " the file now has bbbbbbbbbbbb…",
        ),
    ],
)
def test_check_sidecar_names_each_mismatch(field: str, value: str, match: str) -> None:
    here = {**HERE, "onnx_sha256": "a" * 64, field: value}
    with pytest.raises(FabricxError) as info:
        check_sidecar(_sidecar(), **here, engine="export/model.engine")
    text = str(info.value)
    assert text.startswith("export/model.engine does not match")
    assert match in text
    assert REBUILD in text
    assert text.count("\n  - ") == 1


def test_check_sidecar_lists_every_mismatch() -> None:
    with pytest.raises(ArtifactError) as info:
        check_sidecar(
            _sidecar(), trt_version="11.0.0", gpu_name="RTX 4090", compute_capability="8.9"
        )
    assert str(info.value).count("\n  - ") == 3


def test_onnx_sha256_covers_external_data(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"graph")
    alone = onnx_sha256(model)
    (tmp_path / "model.onnx.data").write_bytes(b"weights")
    with_data = onnx_sha256(model)
    (tmp_path / "model.onnx.data").write_bytes(b"other weights")
    assert len({alone, with_data, onnx_sha256(model)}) == 3


# --- build_engine's sequencing, against a stand-in for tensorrt -----------------------------


class _FakeTrt:
    """Just enough of the tensorrt module's API to run build_engine on CPU: it checks what
    fabricx asks for and writes (flags, profile, workspace, cache, files), not TensorRT."""

    class ILogger:
        class Severity:
            INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self) -> None:
            pass

    class NetworkDefinitionCreationFlag:
        STRONGLY_TYPED = 0

    class MemoryPoolType:
        WORKSPACE = "workspace"

    def __init__(self, parse_ok: bool = True, build_ok: bool = True) -> None:
        self.parse_ok, self.build_ok = parse_ok, build_ok
        self.calls: dict[str, object] = {}
        fake = self

        class Builder:
            def __init__(self, logger: object) -> None:
                self.logger = logger

            def create_network(self, flags: int) -> object:
                fake.calls["network_flags"] = flags
                tensor = type("T", (), {"name": "x", "shape": (-1, 16)})
                return type("N", (), {"num_inputs": 1, "get_input": lambda _, i: tensor})()

            def create_builder_config(self) -> object:
                return _FakeConfig(fake)

            def create_optimization_profile(self) -> object:
                profile = type("P", (), {})()
                profile.set_shape = lambda *args: fake.calls.setdefault("shapes", []).append(args)
                return profile

            def build_serialized_network(self, network: object, config: object) -> bytes | None:
                if not fake.build_ok:
                    self.logger.log(fake.ILogger.Severity.ERROR, "out of memory")
                return b"ENGINE" if fake.build_ok else None

        class OnnxParser:
            def __init__(self, network: object, logger: object) -> None:
                self.num_errors = 0 if fake.parse_ok else 1

            def parse_from_file(self, path: str) -> bool:
                fake.calls["parsed"] = path
                return fake.parse_ok

            def get_error(self, index: int) -> str:
                return "In node 3 (Foo): UNSUPPORTED_NODE: no importer for op Foo"

        self.Builder, self.OnnxParser = Builder, OnnxParser


class _FakeConfig:
    def __init__(self, fake: _FakeTrt) -> None:
        self.fake = fake

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.fake.calls["pool"] = (pool, size)

    def add_optimization_profile(self, profile: object) -> None:
        self.fake.calls["profiles_added"] = 1

    def create_timing_cache(self, blob: bytes) -> bytes:
        self.fake.calls.setdefault("caches_loaded", []).append(bytes(blob))
        return bytes(blob) + b"+timings"

    def set_timing_cache(self, cache: bytes, ignore_mismatch: bool) -> bool:
        self.cache = cache
        return True

    def get_timing_cache(self) -> object:
        return type("C", (), {"serialize": lambda _: self.cache})()


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch) -> _FakeTrt:
    import fabricx.export.tensorrt as module

    fake = _FakeTrt()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    monkeypatch.setattr(module, "tensorrt_unavailable_reason", lambda: None)
    monkeypatch.setattr(module, "running_platform", lambda device=None: dict(HERE))
    return fake


def test_build_engine_sequence(fake_trt: _FakeTrt, tmp_path: Path) -> None:
    onnx_path, engine = tmp_path / "model.onnx", tmp_path / "model.engine"
    onnx_path.write_bytes(b"graph")
    (profile,) = derive_profiles({"x": (8, 16)}, batch_sizes=[1, 64])
    cache = tmp_path / "timing.cache"
    sidecar = build_engine(onnx_path, engine, [profile], 1 << 28, cache)
    assert fake_trt.calls["network_flags"] == 1  # 1 << STRONGLY_TYPED
    assert fake_trt.calls["parsed"] == str(onnx_path)
    assert fake_trt.calls["pool"] == ("workspace", 1 << 28)
    assert fake_trt.calls["shapes"] == [("x", (1, 16), (8, 16), (64, 16))]
    assert engine.read_bytes() == b"ENGINE"
    assert EngineSidecar.read(sidecar_path(engine)) == sidecar
    assert sidecar.onnx_sha256 == onnx_sha256(onnx_path)
    assert (sidecar.gpu_name, sidecar.workspace_bytes) == ("NVIDIA H200", 1 << 28)
    assert cache.read_bytes() == b"+timings"
    build_engine(onnx_path, engine, [profile], 1 << 28, cache)  # the next build reuses it
    assert fake_trt.calls["caches_loaded"] == [b"", b"+timings"]
    assert cache.read_bytes() == b"+timings+timings"


def test_build_engine_reports_parser_and_builder_errors(fake_trt: _FakeTrt, tmp_path: Path) -> None:
    onnx_path, engine = tmp_path / "model.onnx", tmp_path / "model.engine"
    onnx_path.write_bytes(b"graph")
    profiles = derive_profiles({"x": (8, 16)}, batch_sizes=[1, 64])
    fake_trt.parse_ok = False
    with pytest.raises(FabricxError, match=r"parser rejected .*\n  - In node 3 .*op Foo"):
        build_engine(onnx_path, engine, profiles, 1 << 28, None)
    fake_trt.parse_ok, fake_trt.build_ok = True, False
    with pytest.raises(FabricxError, match=r"could not build .*\n  - out of memory"):
        build_engine(onnx_path, engine, profiles, 1 << 28, None)
    with pytest.raises(ArtifactError, match=r"input 'x' is \(-1, 16\) in the ONNX model"):
        build_engine(onnx_path, engine, derive_profiles({"x": (8, 9)}, [8]), 1 << 28, None)
    assert not engine.exists() and not sidecar_path(engine).exists()


# --- availability -------------------------------------------------------------------------


@RunIf(no_tensorrt=True)
def test_unavailable_reason_is_one_line_saying_what_is_missing() -> None:
    assert "\n" not in TRT_REASON
    assert TRT_REASON.startswith("TensorRT target skipped: ")
    assert "tensorrt package is not installed" in TRT_REASON or "no CUDA GPU" in TRT_REASON


def test_unavailable_reason_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` raises ImportError
    reason = tensorrt_unavailable_reason()
    assert reason == (
        "TensorRT target skipped: the tensorrt package is not installed;"
        " pip install 'fabricx[tensorrt]' (needs an NVIDIA GPU and driver)"
    )


def test_unavailable_reason_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    reason = tensorrt_unavailable_reason()
    assert reason is not None
    assert "no CUDA GPU visible (torch.cuda.is_available() is False" in reason


@RunIf(no_tensorrt=True)
def test_build_and_run_refuse_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(FabricxError, match="TensorRT target skipped"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", PROFILES, 1 << 20, None)
    with pytest.raises(FabricxError, match="TensorRT target skipped"):
        TrtRunner(tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()


def test_build_refuses_a_non_positive_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workspace_bytes=0"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", PROFILES, 0, None)


def test_torch_dtypes() -> None:
    assert torch_dtype("HALF") is torch.float16
    assert torch_dtype("INT64") is torch.int64
    with pytest.raises(FabricxError, match="FP4 has no torch equivalent"):
        torch_dtype("FP4")


# --- fabricx doctor -----------------------------------------------------------------------


def test_doctor_prints_versions_and_the_self_check() -> None:
    proc = _python("import sys, fabricx.verbs.doctor; sys.exit(fabricx.verbs.doctor.run([]))")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for name in ("python", "torch", "lightning", "hydra-core", "onnxruntime", "wandb", "tensorrt"):
        assert f" {name} " in out, name
    assert "CPUExecutionProvider" in out
    if TRT_REASON is None:
        assert "TensorRT self-check: PASS: batch 1: max abs diff" in out
    else:
        assert f"TensorRT self-check: SKIPPED: {TRT_REASON.split(': ', 1)[1]}" in out


# --- on a GPU with tensorrt -----------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_engine(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, Path]:
    from fabricx.export.onnx import export_onnx
    from fabricx.models.mlp import MLP

    tmp = tmp_path_factory.mktemp("trt")
    torch.manual_seed(0)
    model = MLP(in_features=64, num_classes=10, hidden_sizes=[32]).eval()
    files = export_onnx(model, {"x": torch.randn(16, 64)}, tmp / "model.onnx")
    onnx_path = next(f for f in files if f.suffix == ".onnx")
    profiles = derive_profiles({"x": (16, 64)}, batch_sizes=[1, 16, 64])
    build_engine(onnx_path, tmp / "model.engine", profiles, 256 << 20, tmp / "timing.cache")
    return model, onnx_path, tmp / "model.engine"


@RunIf(tensorrt=True)
def test_engine_matches_eager_at_several_batch_sizes(mlp_engine: tuple) -> None:
    model, onnx_path, engine = mlp_engine
    runner = TrtRunner(engine, onnx_path=onnx_path)
    for batch in (1, 7, 64):
        x = torch.randn(batch, 64, device="cuda")
        got = runner(x=x)
        assert got.device.type == "cuda" and got.shape == (batch, 10)
        want = model.to("cuda")(x)
        torch.testing.assert_close(got.float(), want, atol=1e-2, rtol=1e-2)
    cpu_out = runner(x=torch.randn(3, 64))  # CPU in, CPU out: parity checks treat it like ORT
    assert cpu_out.device.type == "cpu"


@RunIf(tensorrt=True)
def test_engine_sidecar_and_timing_cache_are_written(mlp_engine: tuple) -> None:
    _, onnx_path, engine = mlp_engine
    sidecar = EngineSidecar.read(sidecar_path(engine))
    assert sidecar.gpu_name == torch.cuda.get_device_name()
    assert sidecar.compute_capability == "{}.{}".format(*torch.cuda.get_device_capability())
    assert sidecar.onnx_sha256 == onnx_sha256(onnx_path)
    assert sidecar.profiles == derive_profiles({"x": (16, 64)}, batch_sizes=[1, 16, 64])
    cache = engine.parent / "timing.cache"
    assert cache.stat().st_size > 0
    # A second build reads the cache (and writes it back); the engine is rebuilt in place.
    again = build_engine(onnx_path, engine, sidecar.profiles, 256 << 20, cache)
    assert again.profiles == sidecar.profiles


@RunIf(tensorrt=True)
def test_runner_refuses_shapes_outside_the_profile(mlp_engine: tuple) -> None:
    _, _, engine = mlp_engine
    runner = TrtRunner(engine)
    with pytest.raises(FabricxError, match=r"input 'x' has shape \(65, 64\)"):
        runner(x=torch.randn(65, 64, device="cuda"))


@RunIf(tensorrt=True)
def test_runner_refuses_an_engine_from_another_gpu(mlp_engine: tuple, tmp_path: Path) -> None:
    _, _, engine = mlp_engine
    copy = tmp_path / "model.engine"
    copy.write_bytes(engine.read_bytes())
    sidecar = replace(EngineSidecar.read(sidecar_path(engine)), gpu_name="Some Other GPU")
    sidecar.write(sidecar_path(copy))
    with pytest.raises(FabricxError, match="GPU: the engine was built with 'Some Other GPU'"):
        TrtRunner(copy)
    (tmp_path / "model.onnx").write_bytes(b"re-exported")
    with pytest.raises(FabricxError, match="re-exported"):
        TrtRunner(engine, onnx_path=tmp_path / "model.onnx")
    sidecar_path(copy).unlink()
    with pytest.raises(FabricxError, match="is missing"):
        TrtRunner(copy)
