"""Image readers, tensor batches and image datamodules on small files written in the real formats.

IDX files (gzipped and raw), CIFAR-style pickle batches and PNG/JPEG class folders are made
at toy size (tests/helpers/image_files.py); downloads go to `file://` URLs, so nothing touches
the network.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from PIL import Image

from fabricx.data import images as images_module
from fabricx.data.cifar import read_cifar10
from fabricx.data.download import extract_tar, fetch, fetch_first
from fabricx.data.idx import read_idx
from fabricx.data.image_folder import read_image_folder
from fabricx.data.images import Cifar10DataModule, ImageFolderDataModule, MnistDataModule
from fabricx.data.tensor_loader import TensorBatches, random_crop, random_flip
from fabricx.errors import ConfigError, DataError, FabricxError, StageError
from tests.helpers.image_files import write_cifar, write_idx, write_image_folder, write_mnist

# ------------------------------------------------------------------------------------- idx


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips(tmp_path: Path, gz: bool) -> None:
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("x.gz" if gz else "x"), pixels)
    out = read_idx(path)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 4)
    assert torch.equal(out, torch.from_numpy(pixels))
    values = np.array([-5, 70000, 3], dtype=np.int32)  # multi-byte, big-endian on disk
    assert read_idx(write_idx(tmp_path / "y", values)).tolist() == [-5, 70000, 3]


def test_read_idx_detects_gzip_by_content(tmp_path: Path) -> None:
    labels = np.arange(5, dtype=np.uint8)
    path = write_idx(tmp_path / "labels-without-suffix", labels, gz=True)
    assert read_idx(path).tolist() == [0, 1, 2, 3, 4]


def test_read_idx_truncated_names_file_and_sizes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[: 16 + 1234])
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte: expected 7840 bytes .*found 1234"
    ):
        read_idx(path)


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "missing")
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"<html>not idx</html>")
    with pytest.raises(DataError, match=r"bad: not an IDX file"):
        read_idx(bad_magic)
    gz = write_idx(tmp_path / "cut.gz", np.zeros((50, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(DataError, match=r"cut.gz: the gzip stream is damaged or truncated"):
        read_idx(gz)
    longer = write_idx(tmp_path / "long", np.zeros(4, np.uint8))
    longer.write_bytes(longer.read_bytes() + b"\0")
    with pytest.raises(DataError, match=r"expected 4 bytes.*found 5.*longer than its header"):
        read_idx(longer)


# ----------------------------------------------------------------------------------- cifar


@pytest.mark.parametrize("nested", [True, False])
def test_read_cifar10(tmp_path: Path, nested: bool) -> None:
    folder = write_cifar(tmp_path, per_batch=6, nested=nested)
    splits = read_cifar10(folder)
    x, y = splits["train"]
    assert x.shape == (30, 3, 32, 32) and x.dtype == torch.uint8
    assert y.shape == (30,) and y.dtype == torch.int64
    assert splits["test"][0].shape == (6, 3, 32, 32)
    batches = folder / "cifar-10-batches-py" if nested else folder
    with (batches / "data_batch_1").open("rb") as f:
        first = pickle.load(f, encoding="bytes")
    # Channel-major rows: the first 1024 values are the red plane, row by row.
    assert torch.equal(x[0, 0].flatten(), torch.from_numpy(first[b"data"][0, :1024]))
    assert torch.equal(x[0, 2, 31], torch.from_numpy(first[b"data"][0, -32:]))
    assert y[:6].tolist() == first[b"labels"]


def test_read_cifar10_errors_name_the_file(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path / "c", per_batch=4)
    batches = folder / "cifar-10-batches-py"
    (batches / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"missing CIFAR-10 batches \['data_batch_3'\]"):
        read_cifar10(folder)

    def broken(content: bytes, pattern: str) -> None:
        (batches / "data_batch_3").write_bytes(content)
        with pytest.raises(DataError, match=rf"data_batch_3: .*{pattern}"):
            read_cifar10(folder)

    good = (batches / "data_batch_1").read_bytes()
    broken(good[: len(good) // 2], "cannot read the pickled batch")
    broken(b"garbage", "cannot read the pickled batch")
    broken(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "expected a dict with")
    broken(
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
        "100 values per image",
    )
    broken(
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
        "2 images but b'labels'",
    )
    broken(
        pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}),
        r"item 0 has label 12, outside 0\.\.9",
    )


def test_read_cifar10_refuses_code_in_pickles(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    folder = write_cifar(tmp_path / "c", per_batch=2)
    (folder / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataError, match=r"test_batch: cannot read.*is not allowed"):
        read_cifar10(folder)
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------------------- image folder


def test_read_image_folder(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs")
    x, y, names = read_image_folder(root)
    assert names == ["a", "b", "c"]
    assert x.shape == (12, 3, 8, 8) and x.dtype == torch.uint8
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    grey = np.array(Image.open(root / "a" / "1.png").convert("RGB"))
    assert torch.equal(x[1], torch.from_numpy(grey).permute(2, 0, 1))


def test_read_image_folder_sizes(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", sizes=((8, 8), (12, 6)))
    with pytest.raises(DataError, match=r"is 12x6 but .* is 8x8; set data.image_size"):
        read_image_folder(root)
    x, _, _ = read_image_folder(root, image_size=5)
    assert x.shape == (12, 3, 5, 5)


def test_read_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        read_image_folder(tmp_path / "empty")
    root = write_image_folder(tmp_path / "imgs")
    png = (root / "b" / "1.png").read_bytes()
    (root / "b" / "1.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(DataError, match=r"b/1.png: cannot decode the image"):
        read_image_folder(root)
    (root / "b" / "1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"b/1.png: cannot decode the image"):
        read_image_folder(root)
    (root / "b" / "1.png").unlink()
    with pytest.raises(DataError, match=r"class folders \['c'\] are not among"):
        read_image_folder(root, class_names=["a", "b"])


# --------------------------------------------------------------------------- tensor batches


def test_tensor_batches_length_and_order() -> None:
    x, y = torch.arange(10).float()[:, None], torch.arange(10)
    assert len(TensorBatches(x, y, 4)) == 3
    assert len(TensorBatches(x, y, 4, drop_last=True)) == 2
    assert [b[1].tolist() for b in TensorBatches(x, y, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    train = TensorBatches(x, y, 4, shuffle=True, seed=3)
    epoch0, epoch1 = [torch.cat([b[1] for b in train]) for _ in range(2)]
    assert sorted(epoch0.tolist()) == list(range(10)) and sorted(epoch1.tolist()) == list(range(10))
    assert not torch.equal(epoch0, epoch1)  # reshuffled each epoch
    again = TensorBatches(x, y, 4, shuffle=True, seed=3)
    assert torch.equal(torch.cat([b[1] for b in again]), epoch0)  # same seed, same order
    again.set_epoch(1)
    assert torch.equal(torch.cat([b[1] for b in again]), epoch1)  # an epoch replays
    other = TensorBatches(x, y, 4, shuffle=True, seed=4)
    assert not torch.equal(torch.cat([b[1] for b in other]), epoch0)
    for xb, yb in TensorBatches(x, y, 3, shuffle=True, drop_last=True):
        assert len(yb) == 3 and torch.equal(xb[:, 0].long(), yb)  # pairs stay together


def test_tensor_batches_shard_over_ranks() -> None:
    x, y = torch.zeros(11, 1), torch.arange(11)
    ranks = [TensorBatches(x, y, 2, shuffle=True, rank=r, world_size=3) for r in range(3)]
    seen = [torch.cat([b[1] for b in r]).tolist() for r in ranks]
    assert [len(r) for r in ranks] == [2, 2, 2] and all(len(s) == 3 for s in seen)
    assert len({i for s in seen for i in s}) == 9  # disjoint; the remainder of 11 is dropped
    with pytest.raises(StageError, match="rank=3"):  # a datamodule's bug, found mid-run
        TensorBatches(x, y, 2, rank=3, world_size=3)
    with pytest.raises(StageError, match="batch_size=0"):
        TensorBatches(x, y, 0)


def test_random_crop_matches_per_sample_crops() -> None:
    x = torch.randn(16, 3, 6, 5)
    gen = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, gen)
    assert out.shape == x.shape
    offsets = torch.randint(0, 5, (2, 16), generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(16):  # the per-sample loop the batched gather replaces
        dy, dx = offsets[:, i].tolist()
        assert torch.equal(out[i], padded[i, :, dy : dy + 6, dx : dx + 5])
    assert torch.equal(random_crop(x, 0, gen), x)
    assert random_crop(x, 2, gen, mode="reflect").shape == x.shape


def test_random_flip_flips_about_half() -> None:
    x = torch.randn(200, 1, 2, 3)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, s.flip(2)) for o, s in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, s) for o, s in zip(out, x, strict=True)])
    assert bool((flipped | kept).all()) and 60 < int(flipped.sum()) < 140


# ---------------------------------------------------------------------------- datamodules


def first_batch(loader) -> tuple[torch.Tensor, torch.Tensor]:
    return next(iter(loader))


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_datamodule(tmp_path: Path, gz: bool) -> None:
    path = write_mnist(tmp_path / "mnist", gz=gz)
    data = MnistDataModule(str(path), val_size=10, batch_size=8, eval_batch_size=16)
    data.setup("fit")
    x, y = data.splits["train"]
    assert x.shape == (30, 1, 10, 10) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert data.splits["val"][0].shape == (10, 1, 10, 10)
    assert data.splits["test"][0].shape == (20, 1, 10, 10)
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-2  # train-split stats
    assert len(data.train_dataloader()) == 4 and len(data.test_dataloader()) == 2
    xb, yb = first_batch(data.train_dataloader())
    assert xb.shape == (8, 1, 10, 10) and yb.shape == (8,)
    same = MnistDataModule(str(path), val_size=10, batch_size=8)
    same.setup()
    assert torch.equal(first_batch(same.train_dataloader())[0], xb)  # deterministic per seed
    other = MnistDataModule(str(path), val_size=10, batch_size=8, seed=1)
    other.setup()
    assert not torch.equal(other.splits["val"][1], data.splits["val"][1])


def test_mnist_datamodule_errors(tmp_path: Path) -> None:
    path = write_mnist(tmp_path / "mnist")
    with pytest.raises(DataError, match=r"item 5 has label 5, outside 0..4"):
        MnistDataModule(str(path), val_size=10, num_classes=5).setup()
    with pytest.raises(DataError, match=r"data.val_size=40 must be between 1 and 39"):
        MnistDataModule(str(path), val_size=40).setup()
    with pytest.raises(ConfigError, match="'fashion' is not one of"):
        MnistDataModule(str(path), variant="fashion")
    (path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"neither t10k-labels-idx1-ubyte nor .*data.download"):
        MnistDataModule(str(path), val_size=10).setup()
    write_idx(path / "t10k-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(DataError, match=r"\(7,\) labels for the 20 images"):
        MnistDataModule(str(path), val_size=10).setup()


def test_mnist_download_from_mirrors(tmp_path: Path, monkeypatch) -> None:
    source = write_mnist(tmp_path / "mirror")
    sums = {
        p.name.removesuffix(".gz"): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in source.iterdir()
    }
    mirrors = ((tmp_path / "down").as_uri() + "/", source.as_uri() + "/")  # first one fails
    monkeypatch.setitem(images_module.MNIST_VARIANTS, "mnist", (mirrors, sums))
    data = MnistDataModule(str(tmp_path / "data"), download=True, val_size=10)
    data.prepare_data()
    data.setup()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        p.name for p in source.iterdir()
    )
    assert data.splits["train"][0].shape == (30, 1, 10, 10)


def test_mnist_augment_changes_training_batches_only(tmp_path: Path) -> None:
    path = write_mnist(tmp_path / "mnist")
    plain = MnistDataModule(str(path), val_size=10, batch_size=8)
    crops = MnistDataModule(str(path), val_size=10, batch_size=8, augment=True)
    plain.setup()
    crops.setup()
    (xp, yp), (xa, ya) = (
        first_batch(plain.train_dataloader()),
        first_batch(crops.train_dataloader()),
    )
    assert torch.equal(yp, ya) and not torch.equal(xp, xa)  # same order, other pixels
    assert torch.equal(
        first_batch(plain.val_dataloader())[0], first_batch(crops.val_dataloader())[0]
    )


def test_cifar10_datamodule(tmp_path: Path) -> None:
    path = write_cifar(tmp_path / "cifar", per_batch=8)
    data = Cifar10DataModule(str(path), val_size=8, batch_size=16, eval_batch_size=5)
    data.setup()
    x = data.splits["train"][0]
    assert x.shape == (32, 3, 32, 32) and len(data.splits["val"][0]) == 8
    assert len(data.splits["test"][0]) == 8 and len(data.test_dataloader()) == 2
    means, stds = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    assert torch.allclose(means, torch.zeros(3), atol=1e-4)  # per channel
    assert torch.allclose(stds, torch.ones(3), atol=1e-2)
    raw = Cifar10DataModule(str(path), val_size=8, batch_size=16, eval_batch_size=5, augment=False)
    raw.setup()
    (xa, ya), (xr, yr) = first_batch(data.train_dataloader()), first_batch(raw.train_dataloader())
    assert torch.equal(ya, yr) and not torch.equal(xa, xr)  # crop + flip by default
    assert torch.equal(first_batch(data.val_dataloader())[0], first_batch(raw.val_dataloader())[0])
    loader = data.train_dataloader()
    assert not torch.equal(first_batch(loader)[0], first_batch(loader)[0])  # new crops per epoch
    with pytest.raises(DataError, match=r"data.num_classes=100"):
        Cifar10DataModule(str(path), val_size=8, num_classes=100).setup()


def test_cifar10_download_unpacks_checked_archive(tmp_path: Path, monkeypatch) -> None:
    source = write_cifar(tmp_path / "src", per_batch=4)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(images_module, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(images_module, "CIFAR10_SHA256", "0" * 64)
    data = Cifar10DataModule(str(tmp_path / "data"), download=True, val_size=4)
    with pytest.raises(DataError, match="sha256"):
        data.prepare_data()
    assert not (tmp_path / "data" / "cifar-10-batches-py").exists()
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(images_module, "CIFAR10_SHA256", sha)
    data.prepare_data()
    data.setup()
    assert data.splits["test"][0].shape == (4, 3, 32, 32)


def test_image_folder_datamodule(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", per_class=10)
    data = ImageFolderDataModule(str(root), val_fraction=0.2, test_fraction=0.1, batch_size=4)
    data.setup()
    assert data.num_classes == 3 and data.class_names == ["a", "b", "c"]
    sizes = {k: len(v[0]) for k, v in data.splits.items()}
    assert sizes == {"test": 3, "val": 6, "train": 21}
    assert data.splits["train"][0].shape[1:] == (3, 8, 8)
    xb, yb = first_batch(data.train_dataloader())
    assert xb.shape == (4, 3, 8, 8) and yb.dtype == torch.int64
    # Settings the data contradicts: found by reading it, so data errors (exit status 6).
    with pytest.raises(DataError, match=r"data.num_classes=5 but .* 3 class folders"):
        ImageFolderDataModule(str(root), num_classes=5).setup()
    with pytest.raises(DataError, match=r"data.val_fraction=0.01 holds out 0"):
        ImageFolderDataModule(str(root), val_fraction=0.01).setup()


def test_image_folder_datamodule_with_split_folders(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "imgs" / "train", sizes=((9, 7), (5, 5)), per_class=6)
    write_image_folder(tmp_path / "imgs" / "test", sizes=((6, 6),), per_class=2)
    data = ImageFolderDataModule(str(tmp_path / "imgs"), image_size=6, val_fraction=0.25,
                                 num_classes=3, augment=True)  # fmt: skip
    data.setup()
    sizes = {k: tuple(v[0].shape) for k, v in data.splits.items()}
    assert sizes == {"test": (6, 3, 6, 6), "val": (4, 3, 6, 6), "train": (14, 3, 6, 6)}
    xb, _ = first_batch(data.train_dataloader())
    assert xb.shape[1:] == (3, 6, 6)


class _TinyClassifier(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_datamodule_trains_under_lightning(tmp_path: Path) -> None:
    path = write_cifar(tmp_path / "cifar", per_batch=8)
    data = Cifar10DataModule(str(path), val_size=8, batch_size=8, eval_batch_size=8)
    model = _TinyClassifier()
    model.net(torch.zeros(1, 3, 32, 32))  # materialize the lazy layer
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, data)
    assert trainer.global_step == 8  # 32 training images / 8 per batch, two epochs
    assert data.splits["train"][0].device == trainer.strategy.root_device
    assert "val/loss" in trainer.callback_metrics


# ----------------------------------------------------------------------------------- fetch


def test_fetch_downloads_verifies_and_reuses(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"dataset bytes" * 1000)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert fetch(source.as_uri(), dest, sha) == dest
    assert dest.read_bytes() == source.read_bytes()
    source.unlink()  # a second fetch reuses the verified file, no download
    assert fetch(source.as_uri(), dest, sha.upper()) == dest
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left


def test_fetch_refuses_wrong_hash_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"other version")
    actual = hashlib.sha256(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(DataError, match=rf"sha256 {actual}, expected {'a' * 64}.*Check the URL"):
        fetch(source.as_uri(), dest, "a" * 64)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    dest.write_bytes(b"stale")
    stale = hashlib.sha256(b"stale").hexdigest()
    with pytest.raises(DataError, match=rf"file.bin: sha256 is {stale}, .*delete it"):
        fetch(source.as_uri(), dest, actual)
    assert dest.read_bytes() == b"stale"  # a user's file is never overwritten
    with pytest.raises(FabricxError, match="could not download"):
        fetch((tmp_path / "nowhere").as_uri(), tmp_path / "x", actual)


def test_fetch_first_lists_every_failure(tmp_path: Path) -> None:
    urls = [(tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()]
    with pytest.raises(FabricxError, match=r"every mirror failed:\n.*/a.*\n.*/b"):
        fetch_first(urls, tmp_path / "dest", "0" * 64)


def test_extract_tar_refuses_paths_outside(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(DataError, match=r"'../escaped.txt' is a link or lies outside"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"cut.tar.gz: cannot unpack"):
        extract_tar(truncated, tmp_path / "out")
