"""Read a folder of images with one subfolder per class, PNG or JPEG, through Pillow.

The layout torchvision's ImageFolder made common: ``root/<class>/<image>.png``; class
names are the subfolder names in sorted order, so labels do not depend on the file system's
listing order. Optional ``train/``, ``val/`` and ``test/`` subfolders hold ready-made splits.
Every image is read once, converted to RGB and stacked into one uint8 tensor, so training
indexes memory instead of decoding files each epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fabricx.errors import FabricxError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SPLIT_DIRS = ("train", "val", "test")


def find_split_dirs(root: Path) -> dict[str, Path]:
    """The ``train/``, ``val/`` and ``test/`` subfolders of `root` that exist.

    Empty when `root` has no ``train/``: then `root` itself is the class folder tree.
    """
    root = Path(root)
    if not (root / "train").is_dir():
        return {}
    return {split: root / split for split in SPLIT_DIRS if (root / split).is_dir()}


def read_image_folder(
    root: Path, image_size: int | None = None, class_names: list[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every PNG/JPEG under ``root/<class>/``, as one uint8 tensor.

    Args:
        root: folder with one subfolder per class.
        image_size: resize every image to image_size x image_size (bilinear); None keeps
            the size, which must then be the same for every image.
        class_names: the label order to use (e.g. the train split's); a class folder not in
            it is an error. None: the sorted subfolder names.

    Returns:
        (images uint8 (N, 3, H, W), labels int64 (N,), class names).

    Raises:
        FabricxError: `root` is missing or holds no images, an image cannot be decoded, the
            sizes differ without `image_size`, or a class is unknown.

    Example::

        images, labels, names = read_image_folder(Path("flowers/train"), image_size=64)
    """
    from PIL import Image, UnidentifiedImageError  # only image folders need Pillow

    root = Path(root)
    if not root.is_dir():
        raise FabricxError(f"{root}: no such folder; point data.path at the image folder.")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = list(class_names) if class_names is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise FabricxError(
            f"{root}: class folders {unknown} are not among the training classes {names};"
            " every split needs the same class folders."
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    first: tuple[Path, tuple[int, ...]] | None = None
    for label, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            try:
                with Image.open(path) as img:
                    img = img.convert("RGB")  # grey, palette and RGBA -> 3 channels
                    if image_size is not None:
                        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
                    pixels = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                raise FabricxError(
                    f"{path}: cannot decode the image ({err}); the file is damaged, truncated"
                    " or not a PNG/JPEG. Replace or delete it."
                ) from err
            if first is None:
                first = (path, pixels.shape)
            elif pixels.shape != first[1]:
                raise FabricxError(
                    f"{path}: image is {pixels.shape[1]}x{pixels.shape[0]} but {first[0]} is "
                    f"{first[1][1]}x{first[1][0]}; set data.image_size to resize them all."
                )
            images.append(pixels)
            labels.append(label)
    if not images:
        raise FabricxError(
            f"{root}: no PNG or JPEG images in class subfolders (expected "
            f"{root}/<class>/<image>.png); found folders {found}."
        )
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N,3,H,W)
    return stacked, torch.tensor(labels, dtype=torch.int64), names
