"""Safe .npy/.npz reading: headers are checked against the bytes present before loading."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aekit.errors import AekitError

MAX_ARRAY_BYTES = 16 * 1024**3


def _check_header(fp: BinaryIO, available: int, what: str) -> None:
    """Read an npy header and check the declared array fits in the available bytes."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except ValueError as e:
        raise AekitError(f"{what}: not a valid .npy array ({e})") from e
    if dtype.hasobject:
        raise AekitError(f"{what}: object arrays are not allowed (they would need pickle)")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise AekitError(f"{what}: declared array {shape} {dtype} is too large")
    if nbytes > available - fp.tell():
        raise AekitError(f"{what}: truncated array data (declares {shape} {dtype})")


def _load(fp: BinaryIO, what: str) -> np.ndarray:
    """np.load with pickles refused, converting failures into AekitError."""
    try:
        return np.load(fp, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise AekitError(f"{what}: cannot read array ({e})") from e


def read_npy(path: Path) -> np.ndarray:
    """Read a single-array .npy file."""
    size = path.stat().st_size
    with open(path, "rb") as fp:
        _check_header(fp, size, str(path))
        fp.seek(0)
        return _load(fp, str(path))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an .npz archive into a dict keyed by name (without .npy)."""
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                what = f"{path}[{info.filename[:-4]}]"
                with zf.open(info) as fp:
                    _check_header(fp, info.file_size, what)
                with zf.open(info) as fp:
                    out[info.filename[:-4]] = _load(fp, what)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise AekitError(f"cannot read {path}: {e}") from e
    if not out:
        raise AekitError(f"{path} holds no arrays")
    return out
