"""Download public dataset files once, verified by hash, and unpack archives safely.

A download that dies half-way, or a mirror that serves an HTML error page, must not leave a
file that the next run reads as data: bytes go to a temporary name beside the destination,
are hashed while they stream, and are renamed into place only when the hash matches.

Wrong bytes (a checksum that does not match, a damaged or unsafe archive) are a DataError
(exit status 6); a download that could not happen (network, URL) is a FabricxError (1).
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fabricx.atomic import atomic_open
from fabricx.errors import DataError, FabricxError

_CHUNK_BYTES = 1 << 20


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file under `algorithm` ("sha256" or "md5"), read in 1 MiB chunks."""
    digest = _hasher(algorithm)
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hasher(algorithm: str) -> Any:
    # MD5 checks integrity here, not authenticity; saying so keeps FIPS builds working.
    return hashlib.new(algorithm, usedforsecurity=algorithm != "md5")


def _expected_digest(sha256: str | None, md5: str | None) -> tuple[str, str]:
    """(algorithm, lower-case hex) from exactly one of the two checksums."""
    if (sha256 is None) == (md5 is None):
        raise FabricxError("fetch needs exactly one checksum: sha256=... or md5=...")
    return ("sha256", sha256.lower()) if sha256 is not None else ("md5", str(md5).lower())


def fetch(
    url: str,
    dest: Path,
    sha256: str | None = None,
    timeout_s: float = 60.0,
    *,
    md5: str | None = None,
) -> Path:
    """Download `url` to `dest` unless `dest` already holds the file with this checksum.

    Args:
        url: where to download from (``https://``, ``http://`` or ``file://``).
        dest: the file to create; its folder is created when missing.
        sha256: the expected hex digest; the file is only renamed into place when it matches.
        timeout_s: seconds to wait for the server before giving up.
        md5: the expected hex MD5 instead of `sha256`, for datasets whose only published
            checksum is an MD5 (GLUE SST-2). Give exactly one of the two.

    Returns:
        `dest`.

    Raises:
        DataError: `dest` exists with another hash (it is left alone: it may be the user's
            own file), or the downloaded bytes have another hash (nothing is left behind).
        FabricxError: the download failed.

    Example::

        fetch(CIFAR10_URL, Path("data/cifar-10-python.tar.gz"), CIFAR10_SHA256)
        fetch(SST2_URL, Path("data/SST-2.zip"), md5=SST2_MD5)
    """
    dest = Path(dest)
    algorithm, expected = _expected_digest(sha256, md5)
    if dest.is_file():
        actual = file_digest(dest, algorithm)
        if actual != expected:
            raise DataError(
                f"{dest}: {algorithm} is {actual}, expected {expected}. The file is damaged or is "
                f"another version; delete it to download it again from {url}, or check that "
                "the path points at the right file."
            )
        return dest
    digest = _hasher(algorithm)
    try:
        response = urllib.request.urlopen(url, timeout=timeout_s)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise FabricxError(
            f"could not download {url} to {dest}: {err}. Check the network and the URL, or "
            f"download the file yourself and put it at {dest}."
        ) from err
    # atomic_open removes the temporary file when the block raises, so a failed or
    # mismatching download leaves neither a partial file nor a wrong one at `dest`.
    with response, atomic_open(dest, "wb") as f:
        try:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                f.write(chunk)
        except OSError as err:
            raise FabricxError(f"download of {url} broke off: {err}; run again.") from err
        actual = digest.hexdigest()
        if actual != expected:
            raise DataError(
                f"{url}: the downloaded file has {algorithm} {actual}, expected {expected}; "
                f"nothing was written to {dest}. Check the URL (a mirror may serve another "
                "version or an error page) and download again."
            )
    return dest


def fetch_first(urls: Sequence[str], dest: Path, sha256: str, timeout_s: float = 60.0) -> Path:
    """`fetch` from the first of several mirrors that answers with the right file.

    Why: the original MNIST host now refuses scripted downloads, so each dataset keeps a list
    of mirrors that serve the same bytes (the hash proves it).

    Raises:
        DataError: `dest` exists with another hash, or every mirror served other bytes.
        FabricxError: every mirror failed, some to answer (each reason is listed).
    """
    if Path(dest).is_file():
        return fetch(urls[0], dest, sha256, timeout_s)
    errors: list[FabricxError] = []
    for url in urls:
        try:
            return fetch(url, dest, sha256, timeout_s)
        except FabricxError as err:
            errors.append(err)
    kind = DataError if all(isinstance(e, DataError) for e in errors) else FabricxError
    raise kind(f"{dest}: every mirror failed:\n  " + "\n  ".join(map(str, errors)))


def _lands_inside(root: Path, name: str) -> bool:
    """Whether an archive member called `name` unpacks inside the resolved folder `root`."""
    target = (root / name).resolve()
    return target == root or root in target.parents


def extract_tar(archive: Path, dest: Path) -> Path:
    """Unpack a .tar/.tar.gz into `dest`, refusing members that would land outside it.

    Why: a crafted archive can hold ``../`` paths or links that overwrite files elsewhere;
    Python before 3.12 does not filter them by default.

    Raises:
        DataError: the archive is truncated or not a tar file, or a member is unsafe.
    """
    archive, dest = Path(archive), Path(dest)
    root = dest.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                unsafe = member.issym() or member.islnk() or member.isdev()
                if unsafe or not _lands_inside(root, member.name):
                    raise DataError(
                        f"{archive}: member {member.name!r} is a link or lies outside {dest};"
                        " refusing to unpack it. Download the official archive again."
                    )
            if hasattr(tarfile, "data_filter"):  # 3.11.4+: also strips odd modes
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(
            f"{archive}: cannot unpack ({err}); the archive is truncated or damaged. Delete it"
            " and download it again."
        ) from err
    return dest


def extract_zip(archive: Path, dest: Path) -> Path:
    """Unpack a .zip into `dest`, refusing members that would land outside it.

    Why: as with tar, a crafted zip can name ``../`` or absolute paths; every member is
    checked before anything is written, so a refused archive leaves `dest` untouched.

    Raises:
        DataError: the archive is truncated or not a zip file, or a member is unsafe.
    """
    archive, dest = Path(archive), Path(dest)
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for member in members:
                if not _lands_inside(root, member.filename):
                    raise DataError(
                        f"{archive}: member {member.filename!r} lies outside {dest}; refusing"
                        " to unpack it. Download the official archive again."
                    )
            bad = zf.testzip()  # CRC of every member, before any file is written
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad!r} fails its CRC check")
            zf.extractall(dest, members=members)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(
            f"{archive}: cannot unpack ({err}); the archive is truncated or damaged. Delete it"
            " and download it again."
        ) from err
    return dest
