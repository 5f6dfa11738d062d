"""Read a folder of images with one subfolder per class, PNG or JPEG, through Pillow.

The layout torchvision's ImageFolder made common: ``root/<class>/<image>.png``; class
names are the subfolder names in sorted order, so labels do not depend on the file system's
listing order. Optional ``train/``, ``val/`` and ``test/`` subfolders hold ready-made splits.
Every image is read once, converted to RGB and stacked into one uint8 tensor, so training
indexes memory instead of decoding files each epoch.

Pillow's guard against decompression bombs stays on: an image whose header declares more
than `max_image_pixels` pixels is refused before it is decoded, naming the file and its
size; the limit is a datamodule argument (data.max_image_pixels), never switched off.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fabricx.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SPLIT_DIRS = ("train", "val", "test")
# Pillow's own default (PIL.Image.MAX_IMAGE_PIXELS): about 256 MiB of 24-bit pixels.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def find_split_dirs(root: Path) -> dict[str, Path]:
    """The ``train/``, ``val/`` and ``test/`` subfolders of `root` that exist.

    Empty when `root` has no ``train/``: then `root` itself is the class folder tree.
    """
    root = Path(root)
    if not (root / "train").is_dir():
        return {}
    return {split: root / split for split in SPLIT_DIRS if (root / split).is_dir()}


def list_images(
    root: Path, class_names: list[str] | None = None, allow_empty_classes: bool = False
) -> tuple[list[tuple[Path, int]], list[str]]:
    """Every PNG/JPEG file under ``root/<class>/`` with its label, without opening any.

    Args:
        root: folder with one subfolder per class.
        class_names: the label order to use (e.g. the train split's); a class folder not in
            it is an error, and one of them may be missing (a split need not hold every
            class). None: the sorted subfolder names.
        allow_empty_classes: keep a class folder without images as a class (its label is
            never seen); False refuses it.

    Returns:
        ([(file, label), ...] in label then file-name order, class names).

    Raises:
        DataError: `root` is missing or holds no images, a class folder is not among
            `class_names`, or (unless allowed) a class folder holds no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; point data.path at the image folder.")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = list(class_names) if class_names is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DataError(
            f"{root}: class folders {unknown} are not among the training classes {names};"
            " every split needs the same class folders."
        )
    files: list[tuple[Path, int]] = []
    empty: list[str] = []
    for label, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            continue
        images = [
            path
            for path in sorted(folder.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
        ]
        if not images:
            empty.append(name)
        files += [(path, label) for path in images]
    if not files:
        raise DataError(
            f"{root}: no PNG or JPEG images in class subfolders (expected "
            f"{root}/<class>/<image>.png); found folders {found}."
        )
    if empty and not allow_empty_classes:
        others = f" (and {len(empty) - 1} more: {empty[1:]})" if len(empty) > 1 else ""
        raise DataError(
            f"{root / empty[0]}: the class folder holds no PNG or JPEG images{others}, so its "
            "class would never be trained on. Add images, remove the folder, or set "
            "data.allow_empty_classes=true to keep it as a class without examples."
        )
    return files, names


@contextmanager
def _pixel_limit(max_image_pixels: int) -> Iterator[Any]:
    """Pillow with its decompression-bomb limit at `max_image_pixels` (never off).

    Pillow warns above its limit and refuses above twice it; the warning is silenced
    because `_check_pixels` refuses above the limit itself, with the file and its size.
    """
    from PIL import Image  # only image folders need Pillow

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield Image
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _too_large(path: Path, declared: str, max_image_pixels: int) -> DataError:
    return DataError(
        f"{path}: the image declares {declared}, more than the limit of "
        f"{max_image_pixels:,} (data.max_image_pixels={max_image_pixels}), which guards "
        "against decompression bombs. Shrink or remove the image, or raise "
        "data.max_image_pixels if you trust the file."
    )


def _check_pixels(path: Path, width: int, height: int, max_image_pixels: int) -> None:
    if width * height > max_image_pixels:
        raise _too_large(path, _declared(width, height), max_image_pixels)


def _declared(width: int, height: int) -> str:
    return f"{width}x{height} = {width * height:,} pixels"


def _bomb_error(path: Path, err: Exception, max_image_pixels: int) -> DataError:
    """Pillow refused the image in its own header check (above twice the limit), before
    its size could be read: a PNG's is read from its header, else taken from the message."""
    with path.open("rb") as f:
        head = f.read(24)
    # Pillow's message: "Image size (N pixels) exceeds limit of M pixels, ..."
    digits = str(err).split("(", 1)[-1].split(" ", 1)[0]
    declared = f"{int(digits):,} pixels" if digits.isdigit() else "too many pixels"
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        declared = _declared(*struct.unpack(">II", head[16:24]))
    return _too_large(path, declared, max_image_pixels)


def _cannot_decode(path: Path, err: Exception) -> DataError:
    return DataError(
        f"{path}: cannot decode the image ({type(err).__name__}: {err}); the file is damaged,"
        " truncated or not a PNG/JPEG. Replace or delete it."
    )


# What Pillow raises for a file it cannot read (SyntaxError and struct.error come from its
# format plugins, e.g. a broken PNG chunk).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error)


def check_image_folder(
    root: Path,
    class_names: list[str] | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    allow_empty_classes: bool = False,
    same_size: bool = True,
) -> list[str]:
    """Check an image folder without decoding its pixels: every image's header opens, its
    declared size is within `max_image_pixels` and its chunks are whole (Pillow's verify).

    Args:
        root, class_names, allow_empty_classes: as for `list_images`.
        max_image_pixels: the most pixels an image may declare.
        same_size: every image must have the first one's size (no resize asked for).

    Returns:
        The class names.

    Raises:
        DataError: as `list_images`, or an image that is damaged or too large (named).
    """
    files, names = list_images(root, class_names, allow_empty_classes)
    first: tuple[Path, tuple[int, int]] | None = None
    with _pixel_limit(max_image_pixels) as Image:
        for path, _ in files:
            try:
                with Image.open(path) as img:
                    _check_pixels(path, *img.size, max_image_pixels)
                    size = img.size
                    img.verify()  # reads the chunks and their checksums, decodes no pixels
            except Image.DecompressionBombError as err:
                raise _bomb_error(path, err, max_image_pixels) from None
            except _DECODE_ERRORS as err:
                raise _cannot_decode(path, err) from err
            if first is None:
                first = (path, size)
            elif same_size and size != first[1]:
                raise _size_differs(path, size, *first)
    return names


def _size_differs(
    path: Path, size: tuple[int, int], first: Path, first_size: tuple[int, int]
) -> DataError:
    return DataError(
        f"{path}: image is {size[0]}x{size[1]} but {first} is {first_size[0]}x{first_size[1]};"
        " set data.image_size to resize them all."
    )


def read_image_folder(
    root: Path,
    image_size: int | None = None,
    class_names: list[str] | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    allow_empty_classes: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every PNG/JPEG under ``root/<class>/``, as one uint8 tensor.

    Args:
        root: folder with one subfolder per class.
        image_size: resize every image to image_size x image_size (bilinear); None keeps
            the size, which must then be the same for every image.
        class_names: the label order to use (e.g. the train split's); a class folder not in
            it is an error. None: the sorted subfolder names.
        max_image_pixels: the most pixels an image may declare; larger ones are refused
            before they are decoded.
        allow_empty_classes: keep a class folder without images (see `list_images`).

    Returns:
        (images uint8 (N, 3, H, W), labels int64 (N,), class names).

    Raises:
        DataError: `root` is missing or holds no images, a class folder is empty (unless
            allowed) or unknown, an image cannot be decoded or declares too many pixels,
            or the sizes differ without `image_size`; the message names the file.

    Example::

        images, labels, names = read_image_folder(Path("flowers/train"), image_size=64)
    """
    files, names = list_images(root, class_names, allow_empty_classes)
    images: list[np.ndarray] = []
    labels: list[int] = []
    first: tuple[Path, tuple[int, int]] | None = None
    with _pixel_limit(max_image_pixels) as Image:
        for path, label in files:
            try:
                with Image.open(path) as img:
                    _check_pixels(path, *img.size, max_image_pixels)
                    img = img.convert("RGB")  # grey, palette and RGBA -> 3 channels
                    if image_size is not None:
                        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
                    pixels = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
            except Image.DecompressionBombError as err:
                raise _bomb_error(path, err, max_image_pixels) from None
            except _DECODE_ERRORS as err:
                raise _cannot_decode(path, err) from err
            size = (pixels.shape[1], pixels.shape[0])
            if first is None:
                first = (path, size)
            elif size != first[1]:
                raise _size_differs(path, size, *first)
            images.append(pixels)
            labels.append(label)
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N,3,H,W)
    return stacked, torch.tensor(labels, dtype=torch.int64), names
