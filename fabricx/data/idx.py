"""Read IDX files, the format MNIST and Fashion-MNIST ship in, gzipped or raw.

Layout (LeCun's MNIST page): two zero bytes, a type code, the number of dimensions, then each
dimension as a big-endian int32, then the values, big-endian, in row-major order. The payload
length is checked against the dimensions, so a truncated download fails here, naming the
file, instead of as a reshape error deep in a datamodule.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from fabricx.errors import DataError

# type code -> (big-endian numpy dtype, name used in messages)
_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "uint8"),
    0x09: (">i1", "int8"),
    0x0B: (">i2", "int16"),
    0x0C: (">i4", "int32"),
    0x0D: (">f4", "float32"),
    0x0E: (">f8", "float64"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> torch.Tensor:
    """The array stored in an IDX file, as a tensor of its dims and (native) dtype.

    Gzip is detected from the file's first bytes, not its name, so an unpacked file that kept
    its ``.gz`` name (or the reverse) still reads.

    Args:
        path: an IDX file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        A tensor of shape dims, e.g. (60000, 28, 28) uint8 for MNIST training images.

    Raises:
        DataError: the file is missing, not IDX, truncated, or longer than its dims say.

    Example::

        images = read_idx(Path("mnist/train-images-idx3-ubyte.gz"))  # (60000, 28, 28) uint8
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise DataError(
                f"{path}: the gzip stream is damaged or truncated ({err}); delete the file and"
                " download it again."
            ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(
            f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}; expected"
            " 0000 then a type code 08/09/0b/0c/0d/0e and the number of dims). Point data.path"
            " at the IDX files, or delete this one and download it again."
        )
    dtype, dtype_name = _DTYPES[raw[2]]
    ndim = raw[3]
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise DataError(
            f"{path}: header says {ndim} dims ({header_bytes} header bytes) but the file has "
            f"{len(raw)} bytes; the file is truncated. Delete it and download it again."
        )
    dims = [int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)]
    itemsize = np.dtype(dtype).itemsize
    expected = math.prod(dims) * itemsize  # Python ints: a garbage header cannot overflow
    found = len(raw) - header_bytes
    if found != expected:
        shape = " x ".join(map(str, dims))
        what = "truncated" if found < expected else "longer than its header says"
        raise DataError(
            f"{path}: expected {expected} bytes of data ({shape} {dtype_name}), found {found};"
            f" the file is {what}. Delete it and download it again."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header_bytes).reshape(dims)
    # Native byte order: torch has no big-endian tensors.
    return torch.from_numpy(values.astype(values.dtype.newbyteorder("="), copy=True))
