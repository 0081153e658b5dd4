"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


def refuse_existing(paths, force: bool, inputs=()) -> None:
    """Nothing the user had is overwritten: raise one line naming the first of ``paths`` that exists, unless
    ``force``; and, even with ``force``, when two outputs are one file or an output is one of ``inputs`` (files the
    command reads: the result would replace what it was made from). Call it for every output before writing any."""
    from aekit.errors import AekitError

    paths = [Path(p) for p in paths if p is not None]
    read = {Path(p).resolve() for p in inputs if p is not None}
    seen: set[Path] = set()
    for p in paths:
        where = p.resolve()
        if where in seen:
            raise AekitError(f"{p} is named for two outputs; give each its own name")
        if where in read:  # whatever force says: the result would replace what it was made from
            raise AekitError(f"{p} is one of the inputs; write the results elsewhere")
        seen.add(where)
    existing = [p for p in paths if p.exists()]
    folder = next((p for p in existing if p.is_dir()), None)
    if folder is not None:  # force never writes a file over a folder
        raise AekitError(f"{folder} is a folder; name a file to write")
    if existing and not force:
        raise AekitError(f"{existing[0]} exists; pass `force` to replace it")


def png_output(path: str | Path | None) -> Path | None:
    """An output that will hold PNG bytes (figures, marked images) must be named .png, so that no viewer is told
    it holds JPEG or PDF; one clear line otherwise."""
    from aekit.errors import AekitError

    if path is not None and Path(path).suffix.lower() != ".png":
        raise AekitError(f"{path}: this output is a PNG image; name it .png")
    return None if path is None else Path(path)


def not_a_file(path: str | Path):
    """The one-line error for an input that should be a file and is not: a folder, or nothing at all."""
    from aekit.errors import AekitError

    path = Path(path)
    return AekitError(f"{path} is a folder, not a file" if path.is_dir() else f"{path} not found")


def claim_outputs(sources, targets, force: bool, companions=lambda target: ()) -> None:
    """Check, before anything is written, that no two inputs map to one output and that no output (or a companion
    file such as a side-car) already exists, unless ``force``."""
    from aekit.errors import AekitError

    seen: dict[Path, Path] = {}
    for src, dst in zip(sources, targets):
        if dst in seen:  # named here by its inputs, before refuse_existing's plainer "named for two outputs"
            raise AekitError(f"{src} and {seen[dst]} would both be written to {dst}; rename one")
        seen[dst] = src
    refuse_existing([p for dst in targets for p in (dst, *companions(dst))], force, inputs=sources)


@functools.cache
def _umask() -> int:
    """The process's umask, read once on first write (Linux reports it; elsewhere it is set and put back)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_folder(path: str | Path, target: str | Path | None = None) -> Path:
    """``mkdir -p``, with one clear line (naming ``target``, the file to go there, if given) when a file stands
    where one of the folders should be."""
    from aekit.errors import AekitError

    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise AekitError(f"{p} is not a folder, so {target or path} cannot be written there")
            break
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_parent(path: str | Path) -> Path:
    """Create the folder an output file goes into (the user named the file; its folders follow, as with embed)."""
    path = Path(path)
    make_folder(path.parent, target=path)
    return path


def atomic_write(path: str | Path, data: bytes, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, then rename over the target. The
    file gets the permissions a plain ``open`` would give it (``mode`` less the umask; the temporary file's are
    owner-only), so ``mode=0o600`` keeps a private key private."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # name the file the user asked for, not the hidden temporary one
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
