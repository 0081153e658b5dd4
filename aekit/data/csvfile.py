"""Load a CSV of numeric columns (optional header row) as a float32 table."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from aekit.errors import AekitError

log = logging.getLogger(__name__)

MAX_CSV_BYTES = 2 * 1024**3


def _is_number(cell: str) -> bool:
    """True if the cell parses as a float."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(path: Path) -> np.ndarray:
    """Read all columns of a numeric CSV into a float32 (N, D) array; NaN/inf are refused."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise AekitError(f"{path} is too large to load as a CSV table")
    rows: list[list[float]] = []
    width = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as fp:
            for lineno, row in enumerate(csv.reader(fp), start=1):
                if not row or all(not c.strip() for c in row):
                    continue
                if not rows and width == 0 and not any(_is_number(c) for c in row):
                    width = len(row)
                    log.info("treating the first row of %s as a header", path)
                    continue
                width = width or len(row)
                if len(row) != width:
                    raise AekitError(f"{path}: row {lineno} has {len(row)} columns, expected {width}")
                values: list[float] = []
                for col, cell in enumerate(row, start=1):
                    try:
                        values.append(float(cell))
                    except ValueError:
                        bad = cell.strip()[:40]
                        raise AekitError(f"{path}: non-numeric value {bad!r} at row {lineno}, column {col}") from None
                rows.append(values)
    except UnicodeDecodeError:  # (its offset counts within the reader's chunk, not the file: not shown)
        raise AekitError(f"{path} is not UTF-8 text: not a CSV file aekit can read") from None
    if not rows:
        raise AekitError(f"{path} holds no data rows")
    x = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise AekitError(f"{path}: NaN or infinite value in data row {r + 1}, column {c + 1}")
    if np.abs(x).max() > np.finfo(np.float32).max:
        raise AekitError(f"{path}: values too large for float32")
    return x.astype(np.float32)
