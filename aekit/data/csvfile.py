"""Read a CSV file as text cells, column by column: its column names (from a header row, or numbers) and cells.

What the cells mean (numbers, categories, a label, an id, missing values) is decided by ``aekit.data.table``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from aekit.errors import AekitError

log = logging.getLogger(__name__)

MAX_CSV_BYTES = 2 * 1024**3


@dataclass
class RawTable:
    """A CSV file's cells as stripped text: ``columns[j][i]`` is row ``i``'s cell in column ``j``."""

    path: Path
    names: list[str]  # the header row's names; "1", "2", ... for a file without one
    header: bool  # whether the file's first row named the columns
    columns: list[list[str]]
    lines: list[int]  # the file line each data row was read from (for messages)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def where(self, row: int, column: int) -> str:
        """'row L, column C ('name')' for data row ``row`` of column ``column`` (0-based), as the file numbers them."""
        named = f" ({self.names[column]!r})" if self.header else ""
        return f"row {self.lines[row]}, column {column + 1}{named}"


def is_number(cell: str) -> bool:
    """True if the cell parses as a float."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _names(row: list[str], path: Path) -> list[str]:
    """Header names: stripped, an empty one named by its position (``column 1``), duplicates refused."""
    names = [c.strip() or f"column {j + 1}" for j, c in enumerate(row)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise AekitError(f"{path}: two columns are named {name!r}; rename one in the header row")
        seen.add(name)
    return names


def _rows(path: Path) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """The header row (None if the first row holds a number), the data rows and their line numbers."""
    header, rows, lines = None, [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fp:
            for lineno, row in enumerate(csv.reader(fp), start=1):
                if not row or all(not c.strip() for c in row):
                    continue
                if not rows and header is None and not any(is_number(c) for c in row):
                    header = row
                    log.info("treating the first row of %s as a header", path)
                    continue
                width = len(header if header is not None else rows[0] if rows else row)
                if len(row) != width:
                    raise AekitError(f"{path}: row {lineno} has {len(row)} columns, expected {width}")
                rows.append([c.strip() for c in row])
                lines.append(lineno)
    except UnicodeDecodeError:  # (its offset counts within the reader's chunk, not the file: not shown)
        raise AekitError(f"{path} is not UTF-8 text: not a CSV file aekit can read") from None
    except csv.Error as e:
        raise AekitError(f"{path} is not a CSV file aekit can read ({e})") from None
    return header, rows, lines


def read_table(path: str | Path) -> RawTable:
    """Every cell of a CSV file (optional header row: a first row without a number names the columns)."""
    path = Path(path)
    if path.stat().st_size > MAX_CSV_BYTES:
        raise AekitError(f"{path} is too large to load as a CSV table")
    header, rows, lines = _rows(path)
    if not rows:
        raise AekitError(f"{path} holds no data rows")
    width = len(rows[0])
    names = _names(header, path) if header is not None else [str(j + 1) for j in range(width)]
    columns = [[row[j] for row in rows] for j in range(width)]
    return RawTable(path, names, header is not None, columns, lines)
