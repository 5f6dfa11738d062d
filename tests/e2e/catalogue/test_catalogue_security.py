"""Catalogue, security family: nothing runs that the user did not ask for.

A finished run copied from elsewhere, a sweep directory, a checkpoint: fabricx reads them as
data. Each payload here only writes a marker file; each case checks it is refused (exit 2,
before any job, with the way to opt in) and that the marker was never written.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from tests.helpers.catalogue import marker_payload
from tests.helpers.cli import CliResult, run_cli

OPT_IN = "allow_unsafe_targets=["


class _Payload:
    """Unpickling this runs Python that writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (marker_payload(self.marker),))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


@pytest.fixture
def pickle_file(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "payload.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return path


@pytest.fixture
def hub_repo(tmp_path: Path, marker: Path) -> Path:
    repo = tmp_path / "hubrepo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(marker_payload(marker) + "\ndef x():\n    return None\n")
    return repo


@pytest.fixture
def copied_run(default_run: CliResult, tmp_path: Path) -> Path:
    """A finished digits run, copied as if it came from elsewhere."""
    (source,) = default_run.run_dirs()
    return Path(shutil.copytree(source, tmp_path / "copied-run"))


def _set_model(run: Path, model: dict[str, Any], **top: Any) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"] = model
    config.update(top)
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def _torch_load(pickle_file: Path) -> dict[str, Any]:
    return {"_target_": "torch.load", "f": str(pickle_file), "weights_only": False}


def _hf_holding(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "_target_": "fabricx.models.hf.HFTokenClassifier",
        "num_labels": 10,
        "config": {"hidden_size": node},
    }


def test_security_run_config_torch_load(fabricx, copied_run, pickle_file, marker) -> None:
    _set_model(copied_run, _torch_load(pickle_file))
    fabricx("eval", f"run={copied_run}").assert_refused("torch.load", OPT_IN + "torch.load]")
    assert not marker.exists()


def test_security_run_config_torch_hub(fabricx, copied_run, hub_repo, marker) -> None:
    node = {"_target_": "torch.hub.load", "repo_or_dir": str(hub_repo), "model": "x",
            "source": "local", "trust_repo": True}  # fmt: skip
    _set_model(copied_run, node)
    fabricx("eval", f"run={copied_run}").assert_refused("torch.hub", OPT_IN)
    assert not marker.exists()


def test_security_run_config_trust_remote_code(fabricx, copied_run, tmp_path, marker) -> None:
    node = {"_target_": "transformers.AutoConfig.from_pretrained",
            "pretrained_model_name_or_path": str(tmp_path), "trust_remote_code": True}  # fmt: skip
    _set_model(copied_run, node)
    fabricx("eval", f"run={copied_run}").assert_refused("trust_remote_code", OPT_IN)
    assert not marker.exists()


def test_security_run_config_lightning_cloud_io(fabricx, copied_run, pickle_file, marker) -> None:
    node = {"_target_": "lightning.fabric.utilities.cloud_io._load",
            "path_or_url": str(pickle_file), "weights_only": False}  # fmt: skip
    _set_model(copied_run, node)
    fabricx("eval", f"run={copied_run}").assert_refused("cloud_io", OPT_IN)
    assert not marker.exists()


def test_security_run_config_reexported_loader(fabricx, copied_run, pickle_file, marker) -> None:
    """Named through another module, the loader is still the loader."""
    node = {"_target_": "lightning.pytorch.core.saving.pl_load", "path_or_url": str(pickle_file)}
    _set_model(copied_run, node)
    fabricx("eval", f"run={copied_run}").assert_refused("refused", OPT_IN)
    assert not marker.exists()


def test_security_payload_nested_in_a_mapping(fabricx, copied_run, pickle_file, marker) -> None:
    """The shape found in the bug hunt: a loader nested in the HF model's config mapping."""
    _set_model(copied_run, _hf_holding(_torch_load(pickle_file)))
    fabricx("eval", f"run={copied_run}").assert_refused("model.config", "would not be built")
    assert not marker.exists()


def test_security_export_of_a_payload_run(fabricx, copied_run, pickle_file, marker) -> None:
    _set_model(copied_run, _torch_load(pickle_file))
    out = fabricx("export", f"run={copied_run}", "export=[onnx]")
    out.assert_refused("torch.load", OPT_IN)
    assert not marker.exists()


def test_security_bench_of_a_payload_run(fabricx, copied_run, pickle_file, marker) -> None:
    _set_model(copied_run, _torch_load(pickle_file))
    fabricx("bench", f"run={copied_run}").assert_refused("torch.load", OPT_IN)
    assert not marker.exists()


def test_security_run_cannot_widen_its_modules(fabricx, copied_run) -> None:
    """A harmless module the run's own lists allow is still outside what this command allows."""
    node = {"_target_": "collections.OrderedDict"}
    _set_model(
        copied_run, node, extra_target_prefixes=["collections"],
        allowed_target_prefixes=["fabricx", "torch", "collections"],
    )  # fmt: skip
    fabricx("eval", f"run={copied_run}").assert_refused(
        "collections.OrderedDict", "outside the allowed modules"
    )


def test_security_run_cannot_opt_in_for_the_user(fabricx, copied_run, pickle_file, marker) -> None:
    _set_model(copied_run, _torch_load(pickle_file), allow_unsafe_targets=["torch.load"])
    fabricx("eval", f"run={copied_run}").assert_refused("torch.load", OPT_IN)
    assert not marker.exists()


def _sweep_dir(root: Path, trial_overrides: list[str]) -> Path:
    sweep = root / "sweep"
    (sweep / "trials" / "0000").mkdir(parents=True)
    (sweep / "best.json").write_text(json.dumps({"best": {"trial": 0, "values": {}}}))
    (sweep / "sweep.json").write_text(json.dumps({"train_args": []}))
    (sweep / "trials" / "0000" / "overrides.yaml").write_text(yaml.safe_dump(trial_overrides))
    return sweep


def test_security_sweep_cannot_allow_builtins(fabricx, tmp_path, marker) -> None:
    sweep = _sweep_dir(
        tmp_path,
        [
            "allowed_target_prefixes=[fabricx,torch,lightning,builtins]",
            f"+callbacks.extra.pay={{_target_:builtins.open,file:'{marker}',mode:w}}",
        ],
    )
    out = fabricx("train", f"from_sweep={sweep}")
    out.assert_refused("allowed_target_prefixes", "cannot widen")
    assert not marker.exists()


def test_security_sweep_cannot_opt_in(fabricx, tmp_path) -> None:
    sweep = _sweep_dir(tmp_path, ["allow_unsafe_targets=[torch.load]", "optim.lr=0.01"])
    fabricx("train", f"from_sweep={sweep}").assert_refused("allow_unsafe_targets", "cannot widen")


def test_security_sweep_cannot_add_hydra_callbacks(fabricx, tmp_path, marker) -> None:
    """Hydra builds its callbacks itself, unchecked: a stored override may not add one."""
    sweep = _sweep_dir(tmp_path, ["+hydra.callbacks.x={_target_:builtins.print}"])
    fabricx("train", f"from_sweep={sweep}").assert_refused("hydra.callbacks", "cannot widen")
    assert not marker.exists()


def test_security_sweep_cannot_widen_by_list_index(fabricx, tmp_path) -> None:
    sweep = _sweep_dir(tmp_path, ["allowed_target_prefixes.4=evilpkg"])
    out = fabricx("train", f"from_sweep={sweep}")
    out.assert_refused("allowed_target_prefixes.4=evilpkg", "cannot widen")


def test_security_sweep_cannot_choose_the_config_folder(fabricx, tmp_path) -> None:
    """sweep.json's --config-dir is used only when the user's own command names it."""
    sweep = _sweep_dir(tmp_path, ["optim.lr=0.01"])
    (tmp_path / "their-conf").mkdir()
    (sweep / "sweep.json").write_text(
        json.dumps({"train_args": ["--config-dir", str(tmp_path / "their-conf")]})
    )
    out = fabricx("train", f"from_sweep={sweep}")
    out.assert_refused("--config-dir", "if you trust it")


def test_security_library_function_that_runs_a_command(fabricx, copied_run, marker) -> None:
    """No list knows every function in torch that runs code: only classes are built there."""
    node = {"_target_": "torch.utils.collect_env.run", "command": f"touch {marker}"}
    _set_model(copied_run, node)
    fabricx("eval", f"run={copied_run}").assert_refused("is a function, not a class", OPT_IN)
    assert not marker.exists()


def test_security_allowed_builtins_still_unsafe(fabricx) -> None:
    """Allowing a module does not allow its code runners: builtins.exec stays refused."""
    out = fabricx(
        "train", "extra_target_prefixes=[builtins]", "+callbacks.extra.pay={_target_:builtins.exec}"
    )
    out.assert_refused("builtins.exec", OPT_IN + "builtins]")


@pytest.mark.parametrize(
    "target", ["os.system", "subprocess.run", "pickle.loads", "runpy.run_path"]
)
def test_security_allowed_module_still_unsafe(fabricx, target: str) -> None:
    module = target.split(".")[0]
    out = fabricx(
        "train", f"extra_target_prefixes=[{module}]", f"+callbacks.extra.x={{_target_:{target}}}"
    )
    out.assert_refused(target, OPT_IN)


def test_security_users_file_naming_a_loader(fabricx, tmp_path) -> None:
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "pickled.yaml").write_text(
        "_target_: torch.load\nf: model.pkl\nweights_only: false\n"
    )
    out = fabricx("train", "--config-dir", str(tmp_path / "conf"), "model=pickled")
    out.assert_refused("model._target_=torch.load", OPT_IN + "torch.load]")


def test_security_opt_in_only_on_the_command_line(fabricx, tmp_path) -> None:
    (tmp_path / "conf" / "optim").mkdir(parents=True)
    (tmp_path / "conf" / "optim" / "sneaky.yaml").write_text(
        "# @package _global_\noptim:\n  _target_: torch.optim.AdamW\n  _partial_: true\n"
        "allow_unsafe_targets: [torch.load]\n"
    )
    out = fabricx("train", "--config-dir", str(tmp_path / "conf"), "optim=sneaky")
    out.assert_refused("allow_unsafe_targets", "only from the command line")


def test_security_opt_in_on_the_command_line_is_honoured(fabricx, tmp_path) -> None:
    """The explicit opt-in lets the user's loader through the trust check (the signature
    check then says a loader is not a model: the point is that the refusal is not about trust)."""
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "pickled.yaml").write_text(
        "_target_: torch.load\nf: model.pkl\nweights_only: false\n"
    )
    out = fabricx(
        "train", "--config-dir", str(tmp_path / "conf"), "model=pickled",
        "allow_unsafe_targets=[torch.load]",
    )  # fmt: skip
    assert "refused: it loads a pickle" not in out.stderr, out.stderr
    assert "builds a Any, but the model group needs a Module" in out.stderr, out.stderr


def test_security_weights_only_load_is_not_flagged(fabricx) -> None:
    out = fabricx("train", "+callbacks.extra.w={_target_:torch.load,f:x.pt,weights_only:true}")
    assert "allow_unsafe_targets" not in out.stderr, out.stderr
    # Past the trust check, the group check has the last word: a loader is no Callback.
    assert "builds a Any, but the callbacks.extra.w group needs a Callback" in out.stderr


def test_security_unsafe_argument_anywhere(fabricx) -> None:
    out = fabricx(
        "train", "+callbacks.extra.w={_target_:fabricx.models.mlp.MLP,trust_remote_code:true}"
    )
    out.assert_refused("trust_remote_code", OPT_IN + "trust_remote_code]")


def test_security_nested_in_args(fabricx, pickle_file, marker) -> None:
    out = fabricx(
        "train",
        f"+callbacks.extra.n={{_target_:torch.nn.Sequential,_args_:[{{_target_:torch.load,"
        f"f:'{pickle_file}',weights_only:false}}]}}",
    )
    out.assert_refused("torch.load", OPT_IN)
    assert not marker.exists()


def test_security_checkpoint_payload_never_unpickled(tmp_path, pickle_file, marker) -> None:
    """`init_from=` a checkpoint holding a pickle payload: loaded weights-only, refused."""
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload(marker)}, ckpt)
    result = run_cli("train", f"init_from={ckpt}", "trainer.max_epochs=1", cwd=tmp_path)
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    assert "weights" in result.stderr
    assert not marker.exists()


def test_security_eval_payload_through_the_real_command(copied_run, pickle_file, marker) -> None:
    """The whole command as a user types it, in a process of its own."""
    _set_model(copied_run, _torch_load(pickle_file))
    result = run_cli("eval", f"run={copied_run}", cwd=copied_run.parent)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    assert "allow_unsafe_targets=[torch.load]" in result.stderr
    assert not marker.exists()
