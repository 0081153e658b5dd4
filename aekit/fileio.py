"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def refuse_existing(paths, force: bool) -> None:
    """Nothing the user had is overwritten: raise one line naming the first of ``paths`` that exists, unless
    ``force``. Call it for every output before writing any."""
    from .errors import AekitError

    existing = [Path(p) for p in paths if p is not None and Path(p).exists()]
    if existing and not force:
        raise AekitError(f"{existing[0]} exists; pass --force to replace it")


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
