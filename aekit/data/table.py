"""``TableSchema``: how a CSV table becomes the model's columns. Fitted on a run's training rows, recorded in its
config.json, and applied to every table the run reads later, so a user's CSV is read the same way by every command.

The policies (scikit-learn's ``SimpleImputer`` and ``OneHotEncoder(handle_unknown="ignore")`` are the model):

- The label column (``label_column``) and the id column (``id_column``) are not features. A label is a class: whole
  numbers, or text (its classes sorted, class ``i`` the ``i``-th). An id is any text, kept as written.
- A column whose cells are all numbers is a number column; one whose cells are all text is a category column, one
  model column per category seen in the training rows (one-hot, categories sorted). A column mixing numbers and text
  is refused, naming its first text cell (a typo in a number column must not turn it into categories); so is a
  category column of more than ``MAX_CATEGORIES`` values (free text or an id: name it as ``id_column``).
- Missing cells (empty, NA, N/A, NaN, null, None, ?, ... ``MISSING``) are filled with the training rows' mean
  (numbers) or most frequent category (ties: the first in sorted order); each read that fills cells warns once,
  naming how many per column. A column with no value in the training rows is left out, with a warning.
- A category the training rows did not have is encoded as none of the categories (all its columns 0), with a
  warning naming the column and the value. A missing label cell, and a missing feature column, are errors.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np

from aekit.data.csvfile import RawTable
from aekit.errors import AekitError

log = logging.getLogger(__name__)

MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "<na>", "#n/a", "#na", "?"})  # any case
MAX_CATEGORIES = 100
LABEL_NAMES = frozenset({"label", "labels", "class", "target"})  # a column so named is most likely a label (any case)
LISTED = 5  # columns named in one warning line at most
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Column:
    """One feature column: its name, what a missing cell becomes, and its categories (none for a number column)."""

    name: str
    fill: float | str | None = None  # None: missing cells are refused
    categories: tuple[str, ...] = ()

    def model_names(self) -> list[str]:
        """The model columns it becomes: its name, or ``name=category`` for each category."""
        return [f"{self.name}={c}" for c in self.categories] or [self.name]


@dataclass
class TableRows:
    """A table read through a schema: model columns (N, D) float32, each row's label (whole numbers, or text
    classes as written; None without a label column) and id (text; None without an id column)."""

    x: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray | None


def _missing(cells: list[str]) -> np.ndarray:
    return np.fromiter((c.lower() in MISSING for c in cells), dtype=bool, count=len(cells))


def _numbers(table: RawTable, j: int, missing: np.ndarray, must: bool = False) -> np.ndarray | None:
    """Column ``j`` as float64 (NaN where missing); None when every value is text (unless ``must``: an error). A
    column mixing numbers and text, an infinite value and one beyond float32 are errors naming the cell."""
    cells = table.columns[j]
    values = np.full(len(cells), np.nan)
    first_text = None
    for i in np.flatnonzero(~missing):
        try:
            values[i] = float(cells[i])
        except ValueError:
            first_text = i if first_text is None else first_text
    numbers = ~missing & ~np.isnan(values)
    if first_text is not None and (must or numbers.any()):
        raise AekitError(f"{table.path}: text {cells[first_text][:40]!r} at {table.where(first_text, j)}, in a "
                         "column of numbers; correct the cell, or leave it empty to mark it missing")
    if first_text is not None:
        return None
    bad = np.flatnonzero(numbers & (np.abs(values) > FLOAT32_MAX))
    if len(bad):
        what = "an infinite value" if np.isinf(values[bad[0]]) else "a value too large for float32"
        raise AekitError(f"{table.path}: {what} at {table.where(int(bad[0]), j)}")
    return values


def _row_counter(table: RawTable, j: int, values: np.ndarray) -> None:
    """Warn when a number column counts the rows (0, 1, 2, ...): a row index read as a feature."""
    n = len(values)
    if n >= 10 and any(np.array_equal(values, np.arange(start, start + n)) for start in (0, 1)):
        log.warning("%s: column %r counts the rows (%g, %g, %g, ...): a row index, not a feature? name it as "
                    "`id_column`", table.path, table.names[j], *values[:3])


def _label_like(table: RawTable, features: list[str]) -> None:
    """Warn when a feature column is named like a label (``LABEL_NAMES``): the model would learn to rebuild the
    answer, and nothing would report by it."""
    named = [name for name in features if name.lower() in LABEL_NAMES]
    if named:
        log.warning("%s: column %r is named like a label but is read as a feature; if it holds each row's class, name "
                    "it as `label_column` (eval, embed and anomalies then report by it)", table.path, named[0])


def _fit_column(table: RawTable, j: int, rows: np.ndarray) -> Column | None:
    """Column ``j`` as the training ``rows`` show it (None: it has no value there and is left out)."""
    cells, name = table.columns[j], table.names[j]
    missing = _missing(cells)
    values = _numbers(table, j, missing)
    if missing[rows].all():
        log.warning("%s: column %r has no values in the training rows: left out", table.path, name)
        return None
    if values is not None:
        _row_counter(table, j, values)
        return Column(name, float(values[rows][~missing[rows]].mean()))
    counts = Counter(cells[i] for i in rows if not missing[i])
    if len(counts) > MAX_CATEGORIES:
        raise AekitError(f"{table.path}: column {name!r} holds {len(counts)} different texts, too many for "
                         f"categories (at most {MAX_CATEGORIES}); if it names the rows, give it as `id_column`, "
                         "else leave it out of the file")
    categories = tuple(sorted(counts))
    return Column(name, max(categories, key=lambda c: counts[c]), categories)


def _label_classes(table: RawTable, j: int) -> tuple[str, ...]:
    """The classes of a text label column (sorted), or () for whole-number labels; checks every label cell."""
    missing = _missing(table.columns[j])
    if missing.any():
        raise AekitError(f"{table.path}: the label is missing at {table.where(int(np.argmax(missing)), j)}")
    values = _numbers(table, j, missing)
    if values is None:
        return tuple(sorted(set(table.columns[j])))
    frac = np.flatnonzero(values != np.rint(values))
    if len(frac):
        raise AekitError(f"{table.path}: label {table.columns[j][frac[0]]!r} at {table.where(int(frac[0]), j)} is "
                         "not a whole number; a label is a class (a whole number or text)")
    return ()


def _listed(items: list[str]) -> str:
    """Up to ``LISTED`` items, comma-separated."""
    return ", ".join(items[:LISTED]) + (", ..." if len(items) > LISTED else "")


def _counted(counts: dict[str, object]) -> str:
    return _listed([f"{name}: {v}" for name, v in counts.items()])


@dataclass(frozen=True)
class TableSchema:
    """Which columns of a CSV are features (numbers or categories, with their fill values), its label and its id
    column; ``header``: columns are found by name (else by position, named "1", "2", ...)."""

    features: tuple[Column, ...]
    header: bool = True
    label: str | None = None
    label_classes: tuple[str, ...] = ()  # a text label's classes; () for whole-number labels
    id: str | None = None

    @classmethod
    def fit(cls, table: RawTable, rows: np.ndarray, label: str | None = None, id: str | None = None) -> TableSchema:
        """The schema of ``table`` with its training ``rows`` (indices) deciding categories and fill values."""
        for role, name in (("label_column", label), ("id_column", id)):
            if name is not None and name not in table.names:
                raise AekitError(f"`{role}` {name!r} is not a column of {table.path} (its columns: "
                                 f"{_listed(table.names)})")
        if label is not None and label == id:
            raise AekitError(f"`label_column` and `id_column` are the same column, {label!r}")
        features = [_fit_column(table, j, rows) for j, name in enumerate(table.names) if name not in (label, id)]
        features = tuple(f for f in features if f is not None)
        if not features:
            raise AekitError(f"{table.path} has no feature columns besides its label and id")
        if label is None:
            _label_like(table, [c.name for c in features])
        classes = _label_classes(table, table.names.index(label)) if label is not None else ()
        return cls(features, table.header, label, classes, id)

    @classmethod
    def plain(cls, table: RawTable) -> TableSchema:
        """Every column of ``table`` a number column, missing cells refused: how a run with no recorded schema
        (trained on an array) reads a CSV."""
        return cls(tuple(Column(name) for name in table.names), table.header)

    def feature_names(self) -> list[str]:
        """One name per model column."""
        return [name for c in self.features for name in c.model_names()]

    def encode(self, table: RawTable) -> TableRows:
        """``table``'s rows as model columns, labels and ids."""
        names = table.names if self.header else [str(j + 1) for j in range(len(table.columns))]
        absent = [c.name for c in self.features if c.name not in names]
        if absent:
            hint = "" if table.header or not self.header else "; it has no header row naming its columns"
            raise AekitError(f"{table.path} has no column{'s' if len(absent) > 1 else ''} {_listed(absent)}, "
                             f"which the run was trained on{hint}")
        blocks, filled, unseen = [], {}, {}
        for col in self.features:
            block, n_filled, new = _encode_column(col, table, names.index(col.name))
            blocks.append(block)
            filled.update({col.name: n_filled} if n_filled else {})
            unseen.update({col.name: new} if new else {})
        _warn(table, filled, unseen)
        ignored = set(names) - {c.name for c in self.features} - {self.label, self.id}
        if ignored:
            log.info("%s: ignoring columns the run was not trained on: %s", table.path, _listed(sorted(ignored)))
        x = np.concatenate(blocks, axis=1).astype(np.float32)
        return TableRows(x, self._labels(table, names), self._ids(table, names))

    def _labels(self, table: RawTable, names: list[str]) -> np.ndarray | None:
        if self.label is None or self.label not in names:
            return None
        j = names.index(self.label)
        if _label_classes(table, j):  # text classes, as written
            return np.array(table.columns[j], dtype=str)
        return _numbers(table, j, _missing(table.columns[j]), must=True).astype(np.int64)

    def _ids(self, table: RawTable, names: list[str]) -> np.ndarray | None:
        return np.array(table.columns[names.index(self.id)], dtype=str) if self.id in names else None

    def label_codes(self, labels: np.ndarray | None) -> np.ndarray | None:
        """Labels as whole numbers: text labels become their class's index (-1, with a warning, for a class the
        run's training file did not have)."""
        if labels is None or labels.dtype.kind in "iu":
            return labels
        lookup = {c: i for i, c in enumerate(self.label_classes)}
        codes = np.array([lookup.get(v, -1) for v in labels], dtype=np.int64)
        if (codes < 0).any():
            log.warning("labels the run's training file did not have, counted as class -1: %s",
                        _listed(sorted(set(labels[codes < 0]))))
        return codes

    def to_dict(self) -> dict:
        """config.json's ``columns`` object (the label and id names are stored beside it)."""
        feats = [{"name": c.name, "fill": c.fill, **({"categories": list(c.categories)} if c.categories else {})}
                 for c in self.features]
        return {"header": self.header, "features": feats,
                **({"label_classes": list(self.label_classes)} if self.label_classes else {})}

    @classmethod
    def from_dict(cls, d: dict, label: str | None = None, id: str | None = None) -> TableSchema:
        """Rebuild from ``to_dict()`` output, checking every value."""
        bad = AekitError("the run's table columns (data columns in config.json) are not what aekit writes there")
        if not isinstance(d, dict) or not isinstance(d.get("features"), list) or not d["features"]:
            raise bad
        features = tuple(_column_from_dict(f, bad) for f in d["features"])
        classes = d.get("label_classes", [])
        if not isinstance(d.get("header", True), bool) or not isinstance(classes, list) or \
                not all(isinstance(c, str) for c in classes) or len({c.name for c in features}) != len(features):
            raise bad
        return cls(features, d.get("header", True), label, tuple(classes), id)


def _warn(table: RawTable, filled: dict[str, int], unseen: dict[str, list[str]]) -> None:
    """One warning line for the cells filled in, one for the categories training did not have."""
    if filled:
        n = sum(filled.values())
        log.warning("%s: %d missing cell%s filled with the training rows' mean or most frequent category (%s)",
                    table.path, n, "" if n == 1 else "s", _counted(filled))
    if unseen:
        values = {name: ", ".join(repr(v) for v in new[:3]) + (", ..." if len(new) > 3 else "")
                  for name, new in unseen.items()}
        log.warning("%s: categories the run's training rows did not have, encoded as none of its categories (%s)",
                    table.path, _counted(values))


def _column_from_dict(f, bad: AekitError) -> Column:
    if not isinstance(f, dict) or not isinstance(f.get("name"), str):
        raise bad
    fill, categories = f.get("fill"), f.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise bad
    if categories and fill not in categories:
        raise bad
    if not categories and fill is not None and (isinstance(fill, bool) or not isinstance(fill, (int, float))
                                                 or not np.isfinite(fill)):
        raise bad
    return Column(f["name"], fill, tuple(categories))


def _encode_column(col: Column, table: RawTable, j: int) -> tuple[np.ndarray, int, list[str]]:
    """One feature column's model columns (N, width), how many cells were filled, and unseen categories."""
    cells = table.columns[j]
    missing = _missing(cells)
    if missing.any() and col.fill is None:
        raise AekitError(f"{table.path}: missing value at {table.where(int(np.argmax(missing)), j)}; this run has no "
                         "fill values (it was not trained on a CSV table)")
    if not col.categories:
        values = _numbers(table, j, missing, must=True)
        values[missing] = col.fill if missing.any() else 0.0
        return values[:, None], int(missing.sum()), []
    lookup = {c: k for k, c in enumerate(col.categories)}
    codes = np.array([lookup[col.fill] if m else lookup.get(c, -1) for c, m in zip(cells, missing)], dtype=np.int64)
    onehot = np.zeros((len(cells), len(col.categories)))
    known = np.flatnonzero(codes >= 0)
    onehot[known, codes[known]] = 1.0
    new = sorted({cells[i] for i in np.flatnonzero(codes < 0)})
    return onehot, int(missing.sum()), new
