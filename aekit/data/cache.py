"""Content hash of decoded dataset arrays and the atomic on-disk .npz cache."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from aekit.data.npyfile import read_npz
from aekit.errors import AekitError
from aekit.fileio import atomic_write

log = logging.getLogger(__name__)

ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
Arrays = dict[str, np.ndarray]


def cache_root(cache_dir: str | Path | None) -> Path:
    """The cache folder: cache_dir, else $AEKIT_CACHE, else ~/.cache/aekit."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("AEKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aekit"


def canonical(arrays: Arrays) -> Arrays:
    """Images as contiguous uint8 and labels as little-endian int64, so hashes are stable."""
    out = {}
    for key in ARRAY_KEYS:
        dtype = np.uint8 if key.startswith("x") else np.dtype("<i8")
        out[key] = np.ascontiguousarray(arrays[key], dtype=dtype)
    return out


def array_sha256(arrays: Arrays) -> str:
    """SHA-256 over name, dtype, shape and bytes of x_train, y_train, x_test, y_test in that order."""
    h = hashlib.sha256()
    for key, arr in canonical(arrays).items():
        h.update(f"{key}:{arr.dtype.str}:{','.join(map(str, arr.shape))}\n".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def write_cache(path: Path, arrays: Arrays, source: str) -> None:
    """Write arrays (and a source note) to path atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **canonical(arrays), source=np.array(source), array_sha256=np.array(array_sha256(arrays)))
    atomic_write(path, buf.getvalue())


def read_cache(path: Path, expected_sha256: str | None) -> tuple[Arrays, str] | None:
    """Load a cached dataset if it matches the expected (else its recorded) hash; a bad file is deleted."""
    if not path.is_file():
        return None
    try:
        data = read_npz(path)
        arrays = {k: data[k] for k in ARRAY_KEYS}
        source = str(data["source"]) if "source" in data else "unknown source"
        expected = expected_sha256 or str(data["array_sha256"])
        if array_sha256(arrays) == expected:
            return arrays, source
        problem = "hash mismatch"
    except (AekitError, KeyError, ValueError) as e:
        problem = str(e)
    log.warning("cached %s is corrupt (%s); deleting it and fetching again", path, problem)
    path.unlink(missing_ok=True)
    return None
