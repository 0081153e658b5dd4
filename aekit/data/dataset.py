"""The Dataset container, shape helpers and the deterministic train/test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aekit.errors import AekitError

if TYPE_CHECKING:
    from aekit.data.table import TableSchema

IMAGE = "image"
TABLE = "table"


@dataclass
class Dataset:
    """Train/test arrays plus where they came from; images are uint8, tables float32."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    kind: str
    source: str
    table: TableSchema | None = None  # a CSV table's columns: how they became the model's


@dataclass
class Samples:
    """Every sample of a file or folder, in its order, each with an id: ``x`` in data units (uint8 images or
    float32 table rows), labels (whole numbers, or text as written; None if the data has none), ids (int64 row
    numbers, or text: file names, a CSV's id column, ``x_test[3]``) and where they came from."""

    x: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray
    source: str


def sample_shape(ds: Dataset) -> tuple[int, ...]:
    """Model-space shape of one sample: (C, H, W) for images, (D,) for tables."""
    shape = ds.x_train.shape
    if ds.kind == TABLE:
        return (int(shape[1]),)
    if len(shape) == 3:
        return (1, int(shape[1]), int(shape[2]))
    return (int(shape[3]), int(shape[1]), int(shape[2]))


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise AekitError if a float array holds NaN or infinity."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise AekitError(f"{what} contains NaN or infinite values")


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted (train, test) indices of ``n`` samples split by a seeded permutation."""
    if not 0.0 < test_fraction < 1.0:
        raise AekitError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if n < 2:
        raise AekitError(f"need at least 2 samples to make a train/test split, got {n}")
    n_test = min(max(int(round(n * test_fraction)), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def split(
    x: np.ndarray, y: np.ndarray | None, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Split samples into train/test with a seeded permutation."""
    train_idx, test_idx = split_indices(len(x), test_fraction, seed)
    y_train = None if y is None else y[train_idx]
    y_test = None if y is None else y[test_idx]
    return x[train_idx], y_train, x[test_idx], y_test
