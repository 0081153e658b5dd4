"""load_dataset: one entry point for named datasets and local files or folders."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from aekit.data.arrays import as_labels, as_samples
from aekit.data.csvfile import read_table
from aekit.data.dataset import IMAGE, TABLE, Dataset, Samples, split, split_indices
from aekit.data.idx import IDX_NAME, find_idx_files, read_idx, read_labels
from aekit.data.images import read_image_folder, read_images, resize_images
from aekit.data.named import load_named_dataset, named_datasets
from aekit.data.npyfile import read_npy, read_npz
from aekit.data.patches import cut_patches
from aekit.data.table import TableSchema
from aekit.errors import AekitError

log = logging.getLogger(__name__)

Split = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def _npz_parts(path: Path) -> Split:
    """Pick x_train/y_train/x_test/y_test, or x/y, or a single array out of an npz."""
    d = read_npz(path)
    if "x_train" in d:
        if "x_test" not in d:
            raise AekitError(f"{path} has x_train but no x_test")
        return d["x_train"], d.get("y_train"), d["x_test"], d.get("y_test")
    if "x" in d:
        return d["x"], d.get("y"), None, None
    if len(d) == 1:
        return next(iter(d.values())), None, None, None
    raise AekitError(f"{path}: expected keys x_train/x_test, or x, or a single array; found {', '.join(sorted(d))}")


def _idx_parts(path: Path) -> Split:
    """Read an IDX folder (train/t10k images and labels) or a single IDX image file."""
    if path.is_file():
        return read_idx(path), None, None, None
    found = find_idx_files(path)
    if ("train", "images") not in found:
        raise AekitError(f"no train-images-idx3-ubyte[.gz] file in {path}")
    x_tr = read_idx(found["train", "images"])
    y_tr = read_labels(found["train", "labels"], len(x_tr)) if ("train", "labels") in found else None
    if ("t10k", "images") not in found:
        return x_tr, y_tr, None, None
    x_te = read_idx(found["t10k", "images"])
    y_te = read_labels(found["t10k", "labels"], len(x_te)) if ("t10k", "labels") in found else None
    if (y_tr is None) != (y_te is None):
        y_tr = y_te = None
        log.warning("labels present for only one split in %s; ignoring labels", path)
    return x_tr, y_tr, x_te, y_te


def _from_parts(name: str, parts: Split, source: str, test_fraction: float, seed: int) -> Dataset:
    """Validate arrays, split when there is no test set, and build the Dataset."""
    x_tr, y_tr, x_te, y_te = parts
    whole = x_te is None  # one array, split here: its samples are not the user's "training data"
    x_tr, kind = as_samples(x_tr, source if whole else f"{source} training data")
    y_tr = as_labels(y_tr, len(x_tr), f"{source} labels" if whole else f"{source} training labels")
    if x_te is None:
        x_tr, y_tr, x_te, y_te = split(x_tr, y_tr, test_fraction, seed)
    else:
        x_te, kind_te = as_samples(x_te, f"{source} test data")
        if kind_te != kind or x_te.shape[1:] != x_tr.shape[1:]:
            raise AekitError(f"{source}: test samples {x_te.shape[1:]} do not match training samples {x_tr.shape[1:]}")
        y_te = as_labels(y_te, len(x_te), f"{source} test labels")
        if (y_tr is None) != (y_te is None):
            raise AekitError(f"{source}: labels are given for only one of train and test")
    return Dataset(name, x_tr, y_tr, x_te, y_te, kind, source)


def _csv_dataset(path: Path, columns: dict | None, label: str | None, id: str | None, test_fraction: float,
                 seed: int) -> Dataset:
    """A CSV table split into train and test rows, read through the schema ``columns`` (a run's), or through one
    fitted on the training rows (with ``label`` and ``id`` naming the label and id columns)."""
    table = read_table(path)
    train, test = split_indices(table.n_rows, test_fraction, seed)
    schema = TableSchema.from_dict(columns, label, id) if columns else TableSchema.fit(table, train, label, id)
    rows = schema.encode(table)
    y = schema.label_codes(rows.labels)
    return Dataset(path.stem, rows.x[train], None if y is None else y[train], rows.x[test],
                   None if y is None else y[test], TABLE, f"CSV {path}", table=schema)


def _is_idx(path: Path) -> bool:
    """True for an IDX file by name, or a folder holding IDX files."""
    if path.is_dir():
        return bool(find_idx_files(path))
    return bool(IDX_NAME.match(path.name)) or path.name.endswith(("-ubyte", "-ubyte.gz"))


def _folder_split(path: Path, test_fraction: float, seed: int) -> tuple[list[np.ndarray], np.ndarray | None,
                                                                        np.ndarray, np.ndarray]:
    """A folder of images of any sizes, split by image: (images, labels or None, train indices, test indices)."""
    images, y, _ = read_images(path, same_size=False)
    if len(images) < 2:
        raise AekitError(f"patches are split into train and test by image: {path} needs at least 2 images")
    train_idx, _, test_idx, _ = split(np.arange(len(images)), None, test_fraction, seed)
    return images, y, train_idx, test_idx


def _folder_patches(path: Path, patches: tuple, test_fraction: float, seed: int) -> Dataset:
    """Patches of a folder of images of any sizes: split by image, then crop (``patches``: size, per image)."""
    images, y, train_idx, test_idx = _folder_split(path, test_fraction, seed)
    sides = []
    for part, idx in enumerate((train_idx, test_idx)):
        labels = None if y is None else y[idx]
        sides += cut_patches([images[i] for i in idx], labels, patches[0], patches[1], seed=seed + part,
                             what=f"{('training', 'test')[part]} images in {path}")
    source = f"image folder {path}"
    return _from_parts(path.name, tuple(sides), source, test_fraction, seed)


def load_whole_images(source: str, *, image_size: tuple[int, int] | None = None, test_fraction: float = 0.1,
                      seed: int = 0, cache_dir: str | Path | None = None) -> tuple[list[np.ndarray], np.ndarray | None,
                                                                                   list[np.ndarray], np.ndarray | None]:
    """The images ``load_dataset(source, patches=...)`` cuts its patches from, whole and split the same way:
    (train images, their labels or None, test images, their labels or None). Images are uint8 (H, W[, C]); an image
    folder's keep their own sizes unless ``image_size`` is given."""
    path = Path(source).expanduser()
    if image_size is None and path.is_dir() and not _is_idx(path):
        images, y, train_idx, test_idx = _folder_split(path, test_fraction, seed)
        return ([images[i] for i in train_idx], None if y is None else y[train_idx],
                [images[i] for i in test_idx], None if y is None else y[test_idx])
    ds = load_dataset(source, image_size=image_size, test_fraction=test_fraction, seed=seed, cache_dir=cache_dir)
    if ds.kind != IMAGE:
        raise AekitError(f"{ds.source} holds a table, not images")
    return list(ds.x_train), ds.y_train, list(ds.x_test), ds.y_test


def _patched(ds: Dataset, patches: tuple, seed: int) -> Dataset:
    """The same dataset as patches of its images, the train and test images each cropped on their own side."""
    if ds.kind != IMAGE:
        raise AekitError(f"patches need images, and {ds.source} holds a table")
    ds.x_train, ds.y_train = cut_patches(ds.x_train, ds.y_train, patches[0], patches[1], seed, "training images")
    ds.x_test, ds.y_test = cut_patches(ds.x_test, ds.y_test, patches[0], patches[1], seed + 1, "test images")
    return ds


def _load_path(path: Path, image_size: tuple[int, int] | None, test_fraction: float, seed: int,
               table: dict) -> Dataset:
    """Load a local file or folder according to its type (``table``: how to read a CSV's columns)."""
    name = path.stem if path.is_file() else path.name
    if _is_idx(path):
        return _from_parts(name, _idx_parts(path), f"IDX {path}", test_fraction, seed)
    suffix = path.suffix.lower()
    if path.is_file() and suffix == ".npy":
        return _from_parts(name, (read_npy(path), None, None, None), f"array file {path}", test_fraction, seed)
    if path.is_file() and suffix == ".npz":
        return _from_parts(name, _npz_parts(path), f"array file {path}", test_fraction, seed)
    if path.is_file() and suffix == ".csv":
        return _csv_dataset(path, **table, test_fraction=test_fraction, seed=seed)
    if path.is_dir():
        x, y, classes = read_image_folder(path, image_size)
        if classes:
            mapping = ", ".join(f"{i}={c}" for i, c in enumerate(classes))
            log.info("class labels from subfolders of %s: %s", path, mapping)
        return _from_parts(name, (x, y, None, None), f"image folder {path}", test_fraction, seed)
    raise AekitError(f"don't know how to load {path} (expected a folder, .npy, .npz, .csv or IDX file)")


def _whole_csv(path: Path, table: TableSchema | None) -> Samples:
    """Every row of a CSV, read through ``table`` (every column a number when None), named by its id column."""
    raw = read_table(path)
    rows = (table or TableSchema.plain(raw)).encode(raw)
    ids = rows.ids if rows.ids is not None else np.arange(raw.n_rows)
    return Samples(rows.x, rows.labels, ids, f"all {raw.n_rows} rows of {path}")


def read_all(path: str | Path, table: TableSchema | None = None,
             image_size: tuple[int, int] | None = None) -> Samples:
    """Every sample of an array file (.npy, .npz: train and test arrays both), IDX file or folder, or CSV table (read
    through ``table``), in file order; images resized to ``image_size`` when given."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix.lower() == ".csv":
        return _whole_csv(path, table)
    if _is_idx(path):
        parts = _idx_parts(path)
    elif path.is_file() and path.suffix.lower() in (".npy", ".npz"):
        parts = (read_npy(path), None, None, None) if path.suffix.lower() == ".npy" else _npz_parts(path)
    else:
        raise AekitError(f"don't know how to read {path} (expected a .npy, .npz, .csv or IDX file, or a folder)")
    x_tr, y_tr, x_te, y_te = parts
    if x_te is not None and x_te.shape[1:] != x_tr.shape[1:]:
        raise AekitError(f"{path}: test samples {x_te.shape[1:]} do not match training samples {x_tr.shape[1:]}")
    x, kind = as_samples(x_tr if x_te is None else np.concatenate([x_tr, x_te]), str(path))
    if x_te is None:
        y = y_tr
    else:
        y = None if y_tr is None or y_te is None else np.concatenate([y_tr, y_te])
    y = as_labels(y, len(x), f"{path} labels")
    if x_te is None:
        ids = np.arange(len(x))
    else:
        ids = np.array([f"train[{i}]" for i in range(len(x_tr))] + [f"test[{i}]" for i in range(len(x_te))])
    if image_size is not None and kind == IMAGE and x.shape[1:3] != tuple(image_size):
        x = resize_images(x, image_size)
    return Samples(x, y, ids, f"all {len(x)} samples of {path}")


def load_dataset(
    source: str,
    *,
    image_size: tuple[int, int] | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    patches: tuple[int, int] | None = None,
    patches_per_image: int | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    columns: dict | None = None,
) -> Dataset:
    """Load a named dataset (mnist, fashion-mnist, digits, mnist-bold and the other identities of
    ``aekit.data.identities``) or a local path; image_size is (height, width).

    A CSV table's ``label_column`` and ``id_column`` are not features (its labels become the dataset's, as whole
    numbers); its columns are read as ``aekit.data.table`` says (categories one-hot, missing cells filled), by the
    schema ``columns`` (``TableSchema.to_dict()``, a run's) when given, else by one fitted on the training rows
    (``Dataset.table``). Other sources ignore ``columns``.

    ``patches`` (height, width): the samples are instead seeded random crops of that size of each image
    (``patches_per_image`` of them, default enough to cover each image about twice), cut after the train/test
    split; an image folder may then hold images of any sizes (``aekit.data.patches``)."""
    for what, size in (("image size", image_size), ("patch size", patches)):
        if size is not None and (len(size) != 2 or min(int(v) for v in size) < 1):
            raise AekitError(f"{what} must be two positive integers (height, width), got {size}")
    path = Path(source).expanduser()
    table = {"columns": columns, "label": label_column, "id": id_column}
    if columns is None and (label_column or id_column) and not (path.is_file() and path.suffix.lower() == ".csv"):
        raise AekitError(f"`label_column` and `id_column` name columns of a CSV table; {source} is not one")
    if patches is not None and image_size is None and path.is_dir() and not _is_idx(path):
        ds = _folder_patches(path, (tuple(patches), patches_per_image), test_fraction, seed)
        log.info("loaded %s: %d train / %d test patches of %dx%d", ds.source, len(ds.x_train), len(ds.x_test),
                 *patches)
        return ds
    if path.exists():
        ds = _load_path(path, image_size, test_fraction, seed, table)
    elif source in named_datasets():
        ds = load_named_dataset(source, cache_dir)
    else:
        names = ", ".join(named_datasets())
        raise AekitError(f"no such file or folder, and not a named dataset: {source} (named: {names})")
    if image_size is not None:
        if ds.kind != IMAGE:
            log.warning("ignoring image size for table data from %s", ds.source)
        elif ds.x_train.shape[1:3] != tuple(image_size):
            ds.x_train = resize_images(ds.x_train, image_size)
            ds.x_test = resize_images(ds.x_test, image_size)
    if patches is not None:
        ds = _patched(ds, (tuple(patches), patches_per_image), seed)
    log.info("loaded %s: %d train / %d test samples, kind %s", ds.source, len(ds.x_train), len(ds.x_test), ds.kind)
    return ds
