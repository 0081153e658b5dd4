"""Turn raw numpy arrays into validated image (uint8) or table (float32) arrays."""

from __future__ import annotations

import numpy as np

from aekit.data.dataset import IMAGE, TABLE, check_finite
from aekit.errors import AekitError


def _float_images(x: np.ndarray, what: str) -> np.ndarray:
    """Convert float images in [0, 1] to uint8 via round(x * 255)."""
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise AekitError(f"{what}: float image arrays must lie in [0, 1], got [{x.min():g}, {x.max():g}]")
    return np.rint(x.astype(np.float64) * 255.0).astype(np.uint8)


def _channels(x: np.ndarray, what: str) -> np.ndarray:
    """Accept (N,H,W) or (N,H,W,C) with C in {1, 3}; squeeze C=1 to grayscale."""
    if x.ndim == 4:
        if x.shape[3] == 1:
            return x[..., 0]
        if x.shape[3] != 3:
            raise AekitError(f"{what}: image arrays need 1 or 3 channels last, got shape {x.shape}")
    return x


def as_samples(x: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    """Classify and convert a sample array; returns (array, kind)."""
    if x.dtype.kind not in "uif":
        raise AekitError(f"{what}: unsupported array dtype {x.dtype} (need numbers)")
    check_finite(x, what)
    if x.ndim == 2:
        return x.astype(np.float32), TABLE
    if x.ndim not in (3, 4):
        raise AekitError(f"{what}: expected (N,D) table or (N,H,W[,C]) images, got shape {x.shape}")
    x = _channels(x, what)
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x), IMAGE
    if x.dtype.kind == "f":
        return _float_images(x, what), IMAGE
    if x.size and (x.min() < 0 or x.max() > 255):
        raise AekitError(f"{what}: integer image values must lie in 0..255, got {x.min()}..{x.max()}")
    return x.astype(np.uint8), IMAGE


def as_labels(y: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    """Validate a 1-D integer label array of length n and return it as int64."""
    if y is None:
        return None
    if y.ndim != 1 or len(y) != n:
        raise AekitError(f"{what}: labels have shape {y.shape}, expected ({n},)")
    if y.dtype.kind == "f":
        check_finite(y, what)
        if not np.array_equal(y, np.rint(y)):
            raise AekitError(f"{what}: labels must be whole numbers")
    elif y.dtype.kind not in "ui":
        raise AekitError(f"{what}: unsupported label dtype {y.dtype}")
    return y.astype(np.int64)
