"""The samples ``embed`` and ``anomalies`` work on: every image or row of a user's file or folder, each with its name
or row index, read as the run reads its data (a CSV through the run's columns, images in its colour mode and size);
or one split of a named dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.apps.inputs import image_files, read_model_image
from aekit.data.dataset import IMAGE, Samples
from aekit.data.load import read_all
from aekit.errors import AekitError
from aekit.runs.run import Run

SPLITS = ("train", "test")


def _image_folder(path: Path, shape: tuple[int, ...], resize: bool) -> Samples:
    """Every image in a folder (and its subfolders, one level), named by its path in it; labelled by subfolder
    when all of them lie in subfolders."""
    files = image_files(path)
    x = np.stack([read_model_image(f, shape, resize=resize) for f in files])
    names = [f.relative_to(path) for f in files]
    labels = np.array([n.parts[0] for n in names]) if all(len(n.parts) > 1 for n in names) else None
    return Samples(x, labels, np.array([str(n) for n in names]), f"all {len(files)} images in {path}")


def _split(run: Run, name: str, split: str) -> Samples:
    """One split of a named dataset, as the run reads its data; ids are indices into the split."""
    if split not in SPLITS:
        raise AekitError(f"`split` must be one of {SPLITS}, got {split!r}")
    ds = run.dataset(name)
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    return Samples(x, y, np.arange(len(x)), f"{ds.name} ({split} split)")


def run_samples(run: Run, data: str | None = None, split: str | None = None) -> Samples:
    """The samples of ``data`` (default: the run's own data): all of a file or folder, or the ``split`` of a named
    dataset (default "test"; a file or folder has no split to choose)."""
    source = data or run.config.data.source
    if not source or source == "array":
        raise AekitError(f"{run.path} was trained from an in-memory array; pass `data`")
    path = Path(source).expanduser()
    if not path.exists():  # a named dataset (load_dataset names the choices when it is not one)
        return _split(run, source, split or "test")
    if split is not None:
        raise AekitError(f"`split` chooses a split of a named dataset; {source} is a file or folder, and all of it "
                         "is read")
    info = run.config.data
    if path.is_dir() and run.normalizer.kind == IMAGE and image_files(path):
        return _image_folder(path, tuple(run.model.config.input_shape), resize=bool(info.image_size))
    return read_all(path, table=info.table(), image_size=info.image_size)
