"""Reader for IDX files (the MNIST format), plain or gzipped, with size checks before allocation."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aekit.errors import AekitError

MAX_ELEMENTS = 1_000_000_000
UBYTE = 0x08
IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$")


def _read_exact(fp: BinaryIO, n: int, path: Path) -> bytes:
    """Read exactly n bytes or raise a truncation error."""
    data = fp.read(n)
    if len(data) != n:
        raise AekitError(f"truncated IDX file: {path} (expected {n} more bytes, got {len(data)})")
    return data


def _read_stream(fp: BinaryIO, path: Path) -> np.ndarray:
    """Parse an IDX header, validate the declared size, then read the payload."""
    magic = _read_exact(fp, 4, path)
    if magic[0] != 0 or magic[1] != 0:
        raise AekitError(f"bad IDX magic in {path}: not an IDX file")
    if magic[2] != UBYTE:
        raise AekitError(f"unsupported IDX data type 0x{magic[2]:02x} in {path} (only unsigned byte 0x08)")
    ndim = magic[3]
    if not 1 <= ndim <= 4:
        raise AekitError(f"unsupported IDX dimension count {ndim} in {path}")
    dims = tuple(int(d) for d in np.frombuffer(_read_exact(fp, 4 * ndim, path), dtype=">u4"))
    count = 1
    for d in dims:
        count *= d
    if count > MAX_ELEMENTS:
        raise AekitError(f"IDX file {path} declares an absurd size {dims}")
    payload = fp.read(count + 1)
    if len(payload) < count:
        raise AekitError(f"truncated IDX file: {path} (declares {dims}, holds {len(payload)} of {count} bytes)")
    if len(payload) > count:
        raise AekitError(f"IDX file {path} has trailing bytes after the declared {dims} data")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims).copy()


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX (optionally .gz) file of unsigned bytes into a uint8 array."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fp:
                return _read_stream(fp, path)
        with open(path, "rb") as fp:
            return _read_stream(fp, path)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise AekitError(f"IDX file not found: {path}") from e
        raise AekitError(f"cannot read IDX file {path}: {e}") from e


def find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """Map (split, 'images'|'labels') to IDX files found in a folder."""
    found: dict[tuple[str, str], Path] = {}
    for p in sorted(folder.iterdir()):
        m = IDX_NAME.match(p.name)
        if m and p.is_file():
            found.setdefault((m.group(1), m.group(2)), p)
    return found


def read_labels(path: Path, n: int) -> np.ndarray:
    """Read an IDX label file and check it matches n images."""
    y = read_idx(path)
    if y.ndim != 1 or len(y) != n:
        raise AekitError(f"label file {path} has shape {y.shape}, expected ({n},) to match the images")
    return y.astype(np.int64)
