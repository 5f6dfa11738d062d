"""Catalogue of bad data files: each case is one promise about data errors.

A data error names the file, the line or item, and what is wrong, exits with status 6 and
prints no traceback; for fabricx's own datasets it is found before Hydra creates a run
directory (the datamodule's `check_data()`, run by the CLI's preflight). Image size limits
stay on, with a knob to raise them; an empty class folder is refused unless allowed.

Every test writes its own tiny files in the real formats (IDX, CIFAR pickles, CoNLL, TSV,
PNG); nothing is downloaded. A few cases run `fabricx` as a user types it (a subprocess);
the rest call the readers, or `fabricx.cli.main` in-process stopped where Hydra would start
a job (tests/helpers/catalogue.py).
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.catalogue import Outcome, fabricx_in_process
from tests.helpers.cli import CliResult, run_cli
from tests.helpers.conll_files import TINY_BERT, write_conll

DATA_ERROR_EXIT = 6
MNIST = ("data=mnist", "data.val_size=5", "model=lenet5")
RUN_FAST = ("trainer.max_epochs=1", "logger=csv", "stages=[fit]")  # should a job start at all


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def fabricx_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """`fabricx_run(*argv)`: `fabricx ARGV` in-process in tmp_path, stopped where Hydra would
    start a job (tests/helpers/catalogue.py)."""

    def run(*argv: str) -> Outcome:
        return fabricx_in_process(list(argv), tmp_path, monkeypatch, capsys)

    return run


def data_error() -> type[Exception]:
    """fabricx's DataError; a test of code that has none fails (it does not error)."""
    try:
        from fabricx.errors import DataError
    except ImportError:
        pytest.fail("fabricx.errors has no DataError")
    return DataError


def assert_data_error_before_a_run(result: CliResult | Outcome, *fragments: str) -> None:
    """Exit 6, no traceback, every fragment on stderr, and no run directory."""
    output = result.stderr + getattr(result, "stdout", "")
    assert not getattr(result, "reached_a_job", False), f"not refused before a job:\n{output}"
    assert result.returncode == DATA_ERROR_EXIT, output
    assert "Traceback" not in output, output
    assert "data error" in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert not (result.cwd / "runs").exists(), "a run directory was created"


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file (gzipped for .gz): 0, 0, type code, ndim, big-endian dims, values."""
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_mnist(folder: Path, n_train: int = 60, n_test: int = 20) -> Path:
    """The four MNIST files, 28x28 images, labels cycling through 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", pixels)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return folder


def write_cifar(folder: Path, per_batch: int = 6) -> Path:
    """cifar-10-batches-py/ with data_batch_1..5 and test_batch, labels 0..9."""
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        labels = [int(i) % 10 for i in range(per_batch)]
        labels[-1] = 9
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": labels,
        }
        (batches / name).write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def write_images(root: Path, classes=("a", "b"), per_class: int = 4, size: int = 8) -> Path:
    """root/<class>/<i>.png, RGB, size x size."""
    rng = np.random.default_rng(2)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header (IHDR, with a correct CRC) declares width x height pixels."""
    Image.new("1", (1, 1)).save(path)
    raw = bytearray(path.read_bytes())
    assert raw[12:16] == b"IHDR"
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return path


def line_of(path: Path, needle: bytes) -> int:
    """The 1-based number of the first line of `path` holding `needle`."""
    lines = path.read_bytes().split(b"\n")
    return next(i for i, line in enumerate(lines, 1) if needle in line)


# ------------------------------------------------------------ images: size limits, classes


def test_data_image_declaring_30000x30000_pixels_names_file_and_size(tmp_path: Path):
    root = write_images(tmp_path / "imgs")
    png_declaring(root / "b" / "huge.png", 30000, 30000)
    result = run_cli(
        "train", "data=image_folder", f"data.path={root}", "data.num_classes=2",
        "data.image_size=28", "model=lenet5", "model.in_channels=3", *RUN_FAST, cwd=tmp_path,
    )  # fmt: skip
    assert_data_error_before_a_run(result, "huge.png", "30000x30000", "data.max_image_pixels")


def test_data_image_size_limit_is_a_knob_and_stays_on(tmp_path: Path):
    from fabricx.data.images import ImageFolderDataModule

    root = write_images(tmp_path / "imgs", per_class=5, size=100)  # 10,000 pixels each
    pil_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(data_error(), match=r"0\.png.*100x100.*data\.max_image_pixels=5000"):
        ImageFolderDataModule(str(root), max_image_pixels=5000).setup()
    data = ImageFolderDataModule(str(root), max_image_pixels=20000)
    data.setup()  # raised above the images' size: they read
    assert data.splits["train"][0].shape[1:] == (3, 100, 100)
    assert pil_limit == Image.MAX_IMAGE_PIXELS and pil_limit is not None  # Pillow's stays on


def test_data_empty_class_folder_is_refused_before_a_run(tmp_path: Path):
    root = write_images(tmp_path / "imgs", classes=("a", "b", "c"))
    for image in (root / "b").iterdir():
        image.unlink()
    (root / "b" / "README.txt").write_text("not an image")
    result = run_cli(
        "train", "data=image_folder", f"data.path={root}", "data.num_classes=3",
        "data.image_size=28", "model=lenet5", "model.in_channels=3", *RUN_FAST, cwd=tmp_path,
    )  # fmt: skip
    assert_data_error_before_a_run(result, f"{root / 'b'}", "data.allow_empty_classes=true")


def test_data_empty_class_folder_reads_when_allowed(tmp_path: Path):
    from fabricx.data.images import ImageFolderDataModule

    root = write_images(tmp_path / "imgs", classes=("a", "b", "c"), per_class=6)
    for image in (root / "b").iterdir():
        image.unlink()
    with pytest.raises(data_error(), match=r"imgs/b: .*no PNG or JPEG"):
        ImageFolderDataModule(str(root), num_classes=3).setup()
    data = ImageFolderDataModule(str(root), num_classes=3, allow_empty_classes=True)
    data.setup()
    assert data.class_names == ["a", "b", "c"] and data.num_classes == 3
    assert set(data.splits["train"][1].tolist()) <= {0, 2}  # class b keeps its label, unused


def test_data_damaged_image_names_the_file(tmp_path: Path):
    from fabricx.data.images import ImageFolderDataModule

    root = write_images(tmp_path / "imgs")
    good = (root / "a" / "0.png").read_bytes()
    (root / "a" / "0.png").write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(data_error(), match=r"a/0\.png: cannot decode the image"):
        ImageFolderDataModule(str(root)).setup()


# ------------------------------------------------------------------------- IDX (MNIST)


def test_data_idx_with_zero_items_names_the_file(tmp_path: Path):
    folder = write_mnist(tmp_path / "mnist")
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    result = run_cli(
        "train", "data=mnist", f"data.path={folder}", "data.val_size=5", "model=lenet5",
        *RUN_FAST, cwd=tmp_path,
    )  # fmt: skip
    assert_data_error_before_a_run(result, "train-", "idx", "0 items")


def test_data_idx_truncated_names_file_and_sizes(tmp_path: Path):
    from fabricx.data.idx import read_idx

    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(data_error(), match=r"t10k-images-idx3-ubyte: expected 7840 bytes.*1984"):
        read_idx(path)


def test_data_idx_bad_magic_number_names_the_file(tmp_path: Path):
    from fabricx.data.idx import read_idx

    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x08\x03\x00\x01" + b"\x00" * 20)
    with pytest.raises(data_error(), match=r"train-labels-idx1-ubyte: not an IDX file.*08030001"):
        read_idx(path)


def test_data_idx_label_out_of_range_is_refused_before_a_run(tmp_path: Path, fabricx_run):
    folder = write_mnist(tmp_path / "mnist")
    labels = np.arange(20, dtype=np.uint8) % 10
    labels[5] = 11
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    outcome = fabricx_run("train", *MNIST, f"data.path={folder}")
    assert_data_error_before_a_run(
        outcome, "t10k-labels-idx1-ubyte.gz", "item 5", "label 11", "data.num_classes=10"
    )


def test_data_good_idx_files_reach_the_job(tmp_path: Path, fabricx_run):
    folder = write_mnist(tmp_path / "mnist")
    outcome = fabricx_run("train", *MNIST, f"data.path={folder}")
    assert outcome.reached_a_job, outcome.stderr  # the preflight refuses nothing good


# --------------------------------------------------------------------- CIFAR-10 pickles


def test_data_cifar_label_out_of_range_is_refused_before_a_run(tmp_path: Path):
    folder = write_cifar(tmp_path / "cifar")
    path = folder / "cifar-10-batches-py" / "test_batch"
    batch = pickle.loads(path.read_bytes(), encoding="bytes")
    batch[b"labels"][3] = 12
    path.write_bytes(pickle.dumps(batch, protocol=2))
    result = run_cli(
        "train", "data=cifar10", f"data.path={folder}", "data.val_size=5", "model=resnet18",
        *RUN_FAST, cwd=tmp_path,
    )  # fmt: skip
    assert_data_error_before_a_run(result, "test_batch", "item 3", "label 12")


class _Payload:
    """Unpickling this would run a shell command: the restricted unpickler must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_data_cifar_pickle_naming_another_global_is_refused(tmp_path: Path):
    from fabricx.data.cifar import read_cifar_batch

    marker = tmp_path / "ran"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Payload(marker), b"labels": [0]}, protocol=2))
    with pytest.raises(data_error(), match=r"data_batch_1: .*system.* is not allowed"):
        read_cifar_batch(path)
    assert not marker.exists()


def test_data_cifar_truncated_pickle_names_the_file(tmp_path: Path):
    from fabricx.data.cifar import read_cifar10

    folder = write_cifar(tmp_path / "cifar")
    path = folder / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(data_error(), match=r"data_batch_2: cannot read the pickled batch"):
        read_cifar10(folder)


# ------------------------------------------------------------------------------- CoNLL


def test_data_conll_latin1_byte_names_file_and_line(tmp_path: Path):
    folder = write_conll(tmp_path / "conll", sizes=(20, 6, 6))
    path = folder / "train.txt"
    text = path.read_bytes().replace(b"Paris", b"Par\xeds", 1)  # Latin-1 i-acute
    path.write_bytes(text)
    line = line_of(path, b"Par\xeds")
    result = run_cli(
        "train", "data=conll2003_words", f"data.path={folder}", "model=bilstm_tagger",
        "task=token_classification", *RUN_FAST, cwd=tmp_path,
    )  # fmt: skip
    assert_data_error_before_a_run(result, f"train.txt:{line}", "UTF-8")


def test_data_conll_unknown_tag_is_refused_before_a_run(tmp_path: Path, fabricx_run):
    folder = write_conll(tmp_path / "conll", sizes=(20, 6, 6))
    path = folder / "valid.txt"
    path.write_text(path.read_text().replace("B-LOC", "B-GPE", 1))
    line = line_of(path, b"B-GPE")
    outcome = fabricx_run(
        "train", "data=conll2003_words", f"data.path={folder}", "model=bilstm_tagger",
        "task=token_classification",
    )  # fmt: skip
    assert_data_error_before_a_run(outcome, f"valid.txt:{line}", "B-GPE", "data.labels")


def test_data_conll_unknown_tag_with_a_tokenizer_is_refused_before_a_run(
    tmp_path: Path, fabricx_run
):
    folder = write_conll(tmp_path / "conll", sizes=(20, 6, 6))
    path = folder / "test.txt"
    path.write_text(path.read_text().replace("B-PER", "B-ANIMAL", 1))
    line = line_of(path, b"B-ANIMAL")
    outcome = fabricx_run(
        "train", "data=conll2003", f"data.path={folder}", f"data.tokenizer={folder}/vocab.txt",
        "model=hf_token_classifier", TINY_BERT, "task=token_classification",
    )  # fmt: skip
    assert_data_error_before_a_run(outcome, f"test.txt:{line}", "B-ANIMAL")


def test_data_conll_wrong_columns_names_file_and_line(tmp_path: Path):
    from fabricx.data.conll import read_conll

    path = tmp_path / "train.txt"
    path.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nGerman JJ B-NP\n")
    with pytest.raises(data_error(), match=r"train\.txt:4: expected 2 columns .* found 3"):
        read_conll(path)


# ------------------------------------------------------------------------- GLUE (TSV)


def test_data_glue_non_utf8_byte_names_the_exact_line(tmp_path: Path):
    from fabricx.data.glue import read_sst2_tsv

    rows = [f"a fine sentence number {i}\t{i % 2}" for i in range(2000)]
    rows[1498] = "a caf\udce9 sentence\t1"  # line 1500 (after the header): a Latin-1 byte
    path = tmp_path / "train.tsv"
    path.write_bytes("\n".join(["sentence\tlabel", *rows, ""]).encode("utf-8", "surrogateescape"))
    with pytest.raises(data_error(), match=r"train\.tsv: line 1500: .*UTF-8"):
        read_sst2_tsv(path)


def test_data_glue_bad_label_names_file_and_line(tmp_path: Path):
    from fabricx.data.glue import read_sst2_tsv

    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nbad\t0\nodd\t2\n")
    with pytest.raises(data_error(), match=r"dev\.tsv: line 4: label '2' is not 0 or 1"):
        read_sst2_tsv(path)


# -------------------------------------------------------------------- downloads, user code


def test_data_checksum_mismatch_is_a_data_error(tmp_path: Path):
    from fabricx.data.download import fetch

    dest = tmp_path / "cifar-10-python.tar.gz"
    dest.write_bytes(b"an HTML error page")
    actual = hashlib.sha256(dest.read_bytes()).hexdigest()
    with pytest.raises(data_error(), match=rf"cifar-10-python.tar.gz: sha256 is {actual}"):
        fetch("https://example.invalid/cifar.tgz", dest, "0" * 64)


USER_DATA = """
import lightning.pytorch as pl

try:
    from fabricx.errors import DataError
except ImportError:  # fabricx before DataError
    from fabricx.errors import FabricxError as DataError


class {name}(pl.LightningDataModule):
    def __init__(self, path: str, num_features: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.path = path
        self.num_features, self.num_classes = num_features, num_classes
        with open({marker!r}, "a") as f:
            f.write("built\\n")
{check}
"""
CHECK = """
    def check_data(self) -> None:
        raise DataError(f"{self.path}:3: not a sample; fix line 3.")
"""


def _user_datamodule(tmp_path: Path, monkeypatch, name: str, check: str) -> list[str]:
    """A user's datamodule module and config folder; returns the CLI arguments using it."""
    package = tmp_path / "userdata"
    package.mkdir()
    module = f"catalogue_{name.lower()}"
    marker = tmp_path / "built.txt"
    source = USER_DATA.format(name=name, marker=str(marker), check=check)
    (package / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(package))
    sys.modules.pop(module, None)
    conf = tmp_path / "conf" / "data"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text(f"_target_: {module}.{name}\npath: samples.csv\n")
    conf_dir = str(tmp_path / "conf")
    return ["--config-dir", conf_dir, "data=mine", f"extra_target_prefixes=[{module}]"]


def test_data_user_check_data_runs_before_a_run(tmp_path: Path, monkeypatch, fabricx_run):
    argv = _user_datamodule(tmp_path, monkeypatch, "CheckedData", CHECK)
    outcome = fabricx_run("train", *argv)
    assert_data_error_before_a_run(outcome, "samples.csv:3", "not a sample")


def test_data_user_datamodule_without_check_data_is_not_built(
    tmp_path: Path, monkeypatch, fabricx_run
):
    argv = _user_datamodule(tmp_path, monkeypatch, "PlainData", "")
    outcome = fabricx_run("train", *argv)
    assert outcome.reached_a_job, outcome.stderr
    assert not (tmp_path / "built.txt").exists(), "the preflight built a datamodule"
