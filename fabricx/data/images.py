"""Small image datasets held as tensors: MNIST, Fashion-MNIST, CIFAR-10 and image folders.

Every datamodule here reads its files once, normalizes with the per-channel mean and std of
its own training split, and keeps every split as one float tensor on the trainer's device
(GPU memory on a GPU). Its loaders are `TensorBatches`: a batch is one index into that
tensor and augmentation is a batched tensor op, so no per-sample Python runs in the hot loop.
Batches are `(x, y)` tuples, as the classification task's `split_batch` expects.

Downloads (``download=True``) run in `prepare_data`, which Lightning calls on one process
only; every file's sha256 is checked against the constants below before it is used.

Each datamodule's `check_data()` reads and checks its files without training; the CLI calls
it before Hydra creates a run directory (fabricx.data.preflight), so a bad file is refused
(exit status 6) before any run exists. `setup` runs the same checks for API users.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import lightning.pytorch as pl
import torch
from annotated_types import Interval

from fabricx.config.constraints import NonNegativeInt, PositiveInt
from fabricx.data.cifar import find_batches_dir, read_cifar10
from fabricx.data.download import extract_tar, fetch, fetch_first
from fabricx.data.idx import read_idx
from fabricx.data.image_folder import (
    DEFAULT_MAX_IMAGE_PIXELS,
    check_image_folder,
    find_split_dirs,
    read_image_folder,
)
from fabricx.data.labels import check_label_range
from fabricx.data.tensor_loader import (
    TensorBatches,
    crop_and_flip,
    random_crop,
    resident_batches,
    trainer_device,
)
from fabricx.errors import ConfigError, DataError, check_choice

# MNIST: LeCun, Cortes and Burges. yann.lecun.com now refuses scripted downloads; these are
# the mirrors PyTorch and TensorFlow use. The sha256 sums are the files' published sums
# (torchvision, TensorFlow Datasets, nixpkgs' mnist package agree).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): the data folder of zalandoresearch/fashion-mnist
# and the S3 site its README links.
FASHION_MNIST_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
MNIST_SHA256 = {  # of the .gz files
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FASHION_MNIST_SHA256 = {  # of the .gz files
    "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
# variant -> (mirrors, sha256 of each gzipped file)
MNIST_VARIANTS = {
    "mnist": (MNIST_MIRRORS, MNIST_SHA256),
    "fashion_mnist": (FASHION_MNIST_MIRRORS, FASHION_MNIST_SHA256),
}
MNIST_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# CIFAR-10 python version (Krizhevsky 2009), from its author's page; the sha256 of the archive
# is the one Keras' cifar10.load_data checks.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"

Split = tuple[torch.Tensor, torch.Tensor]  # (images, labels)


def _hold_out(
    images: torch.Tensor, labels: torch.Tensor, n_held: int, seed: int
) -> tuple[Split, Split]:
    """Split off `n_held` random samples (fixed by `seed`): (rest, held), each (x, y)."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    held, rest = order[:n_held], order[n_held:]
    return (images[rest], labels[rest]), (images[held], labels[held])


def _normalize(splits: dict[str, Split]) -> tuple[dict[str, Split], torch.Tensor, torch.Tensor]:
    """uint8 images -> float, standardized per channel with the train split's mean and std."""
    train = splits["train"][0].float().div_(255)  # (N, C, H, W)
    mean = train.mean(dim=(0, 2, 3))  # (C,)
    # A constant channel (e.g. a tiny test folder) has std 0; clamping keeps values finite.
    std = train.std(dim=(0, 2, 3)).clamp_min(1e-6)  # (C,)
    out = {}
    for split, (x, y) in splits.items():
        x = x.float().div_(255).sub_(mean[:, None, None]).div_(std[:, None, None])
        out[split] = (x, y)
    return out, mean, std


def _check_labels(source: Any, labels: list[torch.Tensor], num_classes: int) -> None:
    """DataError when data.num_classes is not the number of classes the labels use.

    Labels at or above num_classes are refused before, as a DataError naming the file and
    the item (fabricx.data.labels); what is left is a data set with fewer classes.
    """
    found = max((int(y.max()) for y in labels if len(y)), default=-1) + 1
    if found != num_classes:
        raise DataError(
            f"data.num_classes={num_classes} but {source} has labels 0..{found - 1} "
            f"({found} classes); set data.num_classes={found}."
        )


def _check_val_size(val_size: int, n_train: int, source: Any) -> None:
    if not 0 < val_size < n_train:
        raise DataError(
            f"data.val_size={val_size} must be between 1 and {n_train - 1}: the validation "
            f"split is held out of the {n_train} training images of {source}."
        )


class MnistDataModule(pl.LightningDataModule):
    """MNIST or Fashion-MNIST from the four IDX files, gzipped or raw, held as tensors.

    Images are (1, 28, 28), standardized with the training split's mean and std. The
    validation split is `val_size` images held out of the 60,000 training images by `seed`.

    Args:
        path: folder with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
            t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz].
        variant: "mnist" or "fashion_mnist" (which files `download` fetches and checks).
        download: fetch missing files into `path`, checked by sha256.
        val_size: training images held out for validation.
        batch_size, eval_batch_size, seed: as for every datamodule.
        num_workers: unused (batches are sliced from memory); every datamodule takes it.
        num_classes: checked against the labels.
        augment: random crops with `crop_padding` (no flips: digits are not mirror-symmetric).
        crop_padding: pixels of padding for the random crop.

    Raises:
        ConfigError: an unknown variant.
        DataError: a missing, truncated, empty or mismatching file, a label outside
            0..num_classes-1 (the file and the item named), or data that contradicts
            data.val_size or data.num_classes.

    Example::

        data = MnistDataModule("~/data/mnist", download=True)
    """

    def __init__(
        self,
        path: str,
        variant: Literal["mnist", "fashion_mnist"] = "mnist",
        download: bool = False,
        val_size: PositiveInt = 5000,
        batch_size: PositiveInt = 128,
        eval_batch_size: PositiveInt = 512,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt = 10,
        augment: bool = False,
        crop_padding: NonNegativeInt = 2,
    ) -> None:
        super().__init__()
        check_choice("data.variant", variant, MNIST_VARIANTS)
        self.path = Path(path).expanduser()
        self.variant = variant
        self.download = download
        self.val_size = val_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.num_classes = num_classes
        self.augment = augment
        self.crop_padding = crop_padding
        self.splits: dict[str, Split] = {}

    def _find(self, stem: str) -> Path:
        for candidate in (self.path / stem, self.path / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
        raise DataError(
            f"{self.path}: neither {stem} nor {stem}.gz is there; set data.download=true to "
            f"download {self.variant}, or point data.path at the folder with the IDX files."
        )

    def prepare_data(self) -> None:
        if not self.download:
            return
        mirrors, sums = MNIST_VARIANTS[self.variant]
        for stem, sha256 in sums.items():
            if not (self.path / stem).is_file():  # an unpacked copy is used as it is
                urls = [f"{mirror}{stem}.gz" for mirror in mirrors]
                fetch_first(urls, self.path / f"{stem}.gz", sha256)

    def check_data(self) -> None:
        """Read the four IDX files and check them (sizes, item counts, labels in range)
        without training; fabricx calls this before it creates a run directory. With
        `download`, files that are not there yet are checked after the download, in setup."""
        stems = [stem for pair in MNIST_SPLIT_FILES.values() for stem in pair]
        if self.download and not all(self._exists(stem) for stem in stems):
            return
        self._read()

    def _exists(self, stem: str) -> bool:
        return (self.path / stem).is_file() or (self.path / f"{stem}.gz").is_file()

    def _read(self) -> dict[str, Split]:
        """The train and test splits as read, each (images uint8 (N, 1, H, W), labels)."""
        raw: dict[str, Split] = {}
        for split, (image_stem, label_stem) in MNIST_SPLIT_FILES.items():
            image_file, label_file = self._find(image_stem), self._find(label_stem)
            images, labels = read_idx(image_file), read_idx(label_file)
            if images.ndim != 3 or images.dtype != torch.uint8:
                raise DataError(
                    f"{image_file}: expected uint8 images (N, H, W), found {images.dtype} "
                    f"{tuple(images.shape)}; is this a labels file?"
                )
            if len(images) == 0:
                raise DataError(
                    f"{image_file}: holds 0 items (its header says "
                    f"{' x '.join(map(str, images.shape))}); the file is empty or was cut. "
                    "Delete it and download it again, or point data.path at a complete copy."
                )
            if labels.ndim != 1 or len(labels) != len(images):
                raise DataError(
                    f"{label_file}: {tuple(labels.shape)} labels for the {len(images)} images "
                    f"of {image_file}; the files do not belong together."
                )
            check_label_range(label_file, labels, self.num_classes)
            raw[split] = (images[:, None], labels.long())  # (N, 1, H, W)
        _check_labels(self.path, [y for _, y in raw.values()], self.num_classes)
        _check_val_size(self.val_size, len(raw["train"][0]), self.path)
        return raw

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        raw = self._read()
        raw["train"], raw["val"] = _hold_out(*raw["train"], self.val_size, self.seed)
        splits, self.mean, self.std = _normalize(raw)
        device = trainer_device(self)
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}

    def _crop(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_crop(x, self.crop_padding, generator)

    def train_dataloader(self) -> TensorBatches:
        transform = self._crop if self.augment else None
        return resident_batches(
            self, self.splits["train"], self.batch_size, self.seed, True, transform
        )

    def val_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["val"], self.eval_batch_size, self.seed)

    def test_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["test"], self.eval_batch_size, self.seed)


class Cifar10DataModule(pl.LightningDataModule):
    """CIFAR-10 from the python pickle batches, held as tensors, augmented on the device.

    Images are (3, 32, 32), standardized with the training split's mean and std. Training
    batches get a random crop (padding `crop_padding`) and a random horizontal flip, the
    augmentation of the ResNet and airbench CIFAR recipes, as batched tensor ops.

    Args:
        path: folder holding ``cifar-10-batches-py/`` (or the batches themselves).
        download: fetch and unpack the official archive into `path`, checked by sha256. The
            batches are pickles, which can run code: only the official archive is read.
        val_size: training images held out for validation (by `seed`).
        batch_size, eval_batch_size, seed: as for every datamodule.
        num_workers: unused (batches are sliced from memory); every datamodule takes it.
        num_classes: checked against the labels.
        augment: crop and flip training batches.
        crop_padding: pixels of padding for the random crop.

    Raises:
        DataError: a missing or malformed batch file, a label outside 0..num_classes-1
            (the file and the item named), a download with another checksum, or data that
            contradicts data.val_size or data.num_classes.

    Example::

        data = Cifar10DataModule("~/data/cifar10", download=True)
    """

    def __init__(
        self,
        path: str,
        download: bool = False,
        val_size: PositiveInt = 5000,
        batch_size: PositiveInt = 512,
        eval_batch_size: PositiveInt = 1024,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt = 10,
        augment: bool = True,
        crop_padding: NonNegativeInt = 4,
    ) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.download = download
        self.val_size = val_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.num_classes = num_classes
        self.augment = augment
        self.crop_padding = crop_padding
        self.splits: dict[str, Split] = {}

    def prepare_data(self) -> None:
        if not self.download or (find_batches_dir(self.path) / "test_batch").is_file():
            return
        archive = fetch(CIFAR10_URL, self.path / CIFAR10_ARCHIVE, CIFAR10_SHA256)
        extract_tar(archive, self.path)

    def check_data(self) -> None:
        """Read the six batches and check them (contents, labels in range) without training;
        fabricx calls this before it creates a run directory. With `download`, an archive
        not unpacked yet is checked after the download, in setup."""
        if self.download and not (find_batches_dir(self.path) / "test_batch").is_file():
            return
        self._read()

    def _read(self) -> dict[str, Split]:
        raw = read_cifar10(self.path, self.num_classes)
        _check_labels(self.path, [y for _, y in raw.values()], self.num_classes)
        _check_val_size(self.val_size, len(raw["train"][0]), self.path)
        return raw

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        raw = self._read()
        raw["train"], raw["val"] = _hold_out(*raw["train"], self.val_size, self.seed)
        splits, self.mean, self.std = _normalize(raw)
        device = trainer_device(self)
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}

    def train_dataloader(self) -> TensorBatches:
        transform = crop_and_flip(self.crop_padding) if self.augment else None
        return resident_batches(
            self, self.splits["train"], self.batch_size, self.seed, True, transform
        )

    def val_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["val"], self.eval_batch_size, self.seed)

    def test_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["test"], self.eval_batch_size, self.seed)


class ImageFolderDataModule(pl.LightningDataModule):
    """A folder with one subfolder per class (PNG/JPEG), held as tensors.

    With ``train/`` (and optionally ``val/``, ``test/``) subfolders those are the splits;
    a split that is missing is held out of train by `val_fraction` / `test_fraction`. Without
    ``train/``, `path` itself holds the classes and both splits are held out of it.

    Args:
        path: the image folder.
        image_size: resize every image to image_size x image_size; None keeps the size (all
            images must then have the same size).
        val_fraction: share of the training images held out for validation (when no val/).
        test_fraction: share of the training images held out for test (when no test/).
        batch_size, eval_batch_size, seed: as for every datamodule.
        num_workers: unused (batches are sliced from memory); every datamodule takes it.
        num_classes: checked against the number of class folders; None takes it from them.
        augment: random crop (padding image_size // 8) and flip on training batches.
        max_image_pixels: the most pixels an image may declare (Pillow's own default); a
            larger one is refused before it is decoded, as a guard against decompression
            bombs. Raise it for large images you trust; there is no "off".
        allow_empty_classes: keep a training class folder without images as a class (the
            model still has its output); False refuses it. Val and test folders may lack
            a class either way.

    Raises:
        ConfigError: a fraction outside [0, 1) (refused before, by the signature's type).
        DataError: a missing folder, an empty class folder, an image that cannot be
            decoded or is too large (the file named), or folders that contradict
            data.num_classes or leave a split empty at the fractions given.

    Example::

        data = ImageFolderDataModule("~/data/flowers", image_size=64, num_classes=5)
    """

    def __init__(
        self,
        path: str,
        image_size: PositiveInt | None = None,
        val_fraction: Annotated[float, Interval(ge=0.0, lt=1.0)] = 0.1,
        test_fraction: Annotated[float, Interval(ge=0.0, lt=1.0)] = 0.1,
        batch_size: PositiveInt = 64,
        eval_batch_size: PositiveInt = 256,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt | None = None,
        augment: bool = False,
        max_image_pixels: PositiveInt = DEFAULT_MAX_IMAGE_PIXELS,
        allow_empty_classes: bool = False,
    ) -> None:
        super().__init__()
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= value < 1:
                raise ConfigError(f"data.{key}={value} must be in [0, 1).")
        self.path = Path(path).expanduser()
        self.image_size = image_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.num_classes = num_classes
        self.augment = augment
        self.max_image_pixels = max_image_pixels
        self.allow_empty_classes = allow_empty_classes
        self.class_names: list[str] = []
        self.splits: dict[str, Split] = {}

    def check_data(self) -> None:
        """Check every image's header (opens, size within max_image_pixels, chunks whole)
        and the class folders, without decoding pixels; fabricx calls this before it
        creates a run directory."""
        dirs = find_split_dirs(self.path)
        same_size = self.image_size is None
        names = check_image_folder(
            dirs.get("train", self.path),
            max_image_pixels=self.max_image_pixels,
            allow_empty_classes=self.allow_empty_classes,
            same_size=same_size,
        )
        self._check_num_classes(names)
        for split in ("val", "test"):  # may lack a class: only training classes need images
            if split in dirs:
                check_image_folder(
                    dirs[split],
                    names,
                    self.max_image_pixels,
                    allow_empty_classes=True,
                    same_size=same_size,
                )

    def _check_num_classes(self, class_names: list[str]) -> None:
        if self.num_classes is not None and self.num_classes != len(class_names):
            raise DataError(
                f"data.num_classes={self.num_classes} but {self.path} has "
                f"{len(class_names)} class folders {class_names}; set "
                f"data.num_classes={len(class_names)}."
            )

    def _read_split(
        self, folder: Path, class_names: list[str] | None
    ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """One split's folder; `class_names` None for the training split, whose classes
        must each have images (unless allowed); val/ and test/ may lack some."""
        return read_image_folder(
            folder,
            self.image_size,
            class_names,
            self.max_image_pixels,
            allow_empty_classes=self.allow_empty_classes or class_names is not None,
        )

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        dirs = find_split_dirs(self.path)
        x, y, self.class_names = self._read_split(dirs.get("train", self.path), None)
        self._check_num_classes(self.class_names)
        if self.num_classes is None:
            self.num_classes = len(self.class_names)
        raw: dict[str, Split] = {}
        n_total = len(x)
        # Held-out splits are fractions of the images found, fixed by the seed.
        for split, fraction in (("test", self.test_fraction), ("val", self.val_fraction)):
            if split in dirs:
                raw[split] = self._read_split(dirs[split], self.class_names)[:2]
                continue
            n_held = round(fraction * n_total)
            if not 0 < n_held < len(x):
                raise DataError(
                    f"data.{split}_fraction={fraction} holds out {n_held} of the {len(x)} "
                    f"remaining images of {self.path}; choose a fraction that leaves at least "
                    f"one image in each split, or add a {split}/ folder."
                )
            (x, y), raw[split] = _hold_out(x, y, n_held, self.seed + len(raw))
        raw["train"] = (x, y)
        if raw["train"][0].shape[1:] != raw["val"][0].shape[1:] or (
            raw["train"][0].shape[1:] != raw["test"][0].shape[1:]
        ):
            raise DataError(
                f"{self.path}: the splits' images differ in size "
                f"{ {k: tuple(v[0].shape[1:]) for k, v in raw.items()} }; set data.image_size."
            )
        splits, self.mean, self.std = _normalize(raw)
        device = trainer_device(self)
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}

    def train_dataloader(self) -> TensorBatches:
        padding = max(1, self.splits["train"][0].shape[-1] // 8)
        transform = crop_and_flip(padding) if self.augment else None
        return resident_batches(
            self, self.splits["train"], self.batch_size, self.seed, True, transform
        )

    def val_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["val"], self.eval_batch_size, self.seed)

    def test_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["test"], self.eval_batch_size, self.seed)
