"""Files aekit writes and reads back: JSON documents and safetensors tensors.

Every write is atomic (``aekit.fileio.atomic_write``), so a kill leaves either the old file or the new one. Every
read treats the file as untrusted: JSON has a size limit and one-line errors; tensors come from safetensors, never
from pickle (an optimiser's state travels as flat tensors plus JSON).

Checksums: every safetensors file aekit writes records, in its own header metadata (entry ``aekit.sha256``), the
SHA-256 of its contents with that entry left out: the header as canonical JSON (``json.dumps(header, sort_keys=True,
separators=(",", ":"))``: each tensor's name, dtype, shape and offsets, and the metadata), then the data bytes. Being
inside the file, it is replaced atomically with the file: no kill leaves weights and checksum out of step. Every read
(``load_tensors``) checks it first, so a damaged file is one error naming it, never a model computing NaN; a file
without one (written by an older aekit, or another tool) is read unchecked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from aekit.errors import AekitError
from aekit.fileio import atomic_write

MAX_JSON_BYTES = 1 << 24  # a JSON document larger than 16 MiB is not one of ours
CHECKSUM = "aekit.sha256"  # the metadata entry that holds a safetensors file's checksum (see above)
_PENDING = "0" * 64  # the entry's value while the checksum is computed; the same length as a hex SHA-256
MAX_HEADER = 100_000_000  # safetensors' own limit on a header's size


class ChecksumMismatch(AekitError):
    """A file's contents do not match the checksum recorded in it when it was written: it was damaged since."""


def write_json(path: str | Path, obj) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path) -> dict:
    """Read a JSON object from an untrusted file, with a size limit and one-line errors."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AekitError(f"{path} not found") from None
    if size > MAX_JSON_BYTES:
        raise AekitError(f"{path} is {size} bytes, too large for aekit's JSON files")
    try:
        obj = json.loads(path.read_text())
    except ValueError as e:  # bad UTF-8, bad JSON, or an integer of more digits than Python will parse
        raise AekitError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise AekitError(f"{path} should hold a JSON object")
    return obj


def sha256_stream(f, h=None):
    """``h`` (a new SHA-256 by default) updated with the rest of the open binary file ``f``, read in 1 MiB chunks."""
    h = h or hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h


def _canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _sealed(blob: bytes) -> bytes:
    """A serialised safetensors file whose ``CHECKSUM`` entry holds ``_PENDING``, with the real checksum in its
    place (the same length, so no offset moves)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    del header["__metadata__"][CHECKSUM]
    h = hashlib.sha256(_canonical(header))
    h.update(memoryview(blob)[8 + n :])
    slot = f'"{CHECKSUM}":"{_PENDING}"'.encode()
    at = blob.find(slot, 8, 8 + n)
    if at < 0:
        raise RuntimeError("safetensors wrote its header in an unexpected form; the checksum cannot be recorded")
    return blob[:at] + f'"{CHECKSUM}":"{h.hexdigest()}"'.encode() + blob[at + len(slot) :]


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    """Atomically write tensors (made contiguous, on CPU), optional JSON metadata and the file's checksum to a
    safetensors file."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = {"aekit": json.dumps(meta)} if meta is not None else {}
    metadata[CHECKSUM] = _PENDING
    atomic_write(path, _sealed(st_save(flat, metadata=metadata)))


def _header(f, size: int) -> dict | None:
    """The JSON header of an open safetensors file, leaving ``f`` at its data; None when it has no readable header
    (safetensors itself then says what is wrong)."""
    n = int.from_bytes(f.read(8), "little")
    if size < 8 or n > min(MAX_HEADER, size - 8):
        return None
    try:
        header = json.loads(f.read(n))
    except ValueError:
        return None
    return header if isinstance(header, dict) and isinstance(header.get("__metadata__", {}), dict) else None


def verify_checksum(path: str | Path) -> bool:
    """Check a safetensors file against the checksum recorded in it: True when they match, False when it has none
    (an older aekit's file, or another tool's); ``ChecksumMismatch`` naming the file when they differ."""
    path = Path(path)
    with open(path, "rb") as f:
        header = _header(f, path.stat().st_size)
        recorded = (header or {}).get("__metadata__", {}).pop(CHECKSUM, None)
        if recorded is None:
            return False
        actual = sha256_stream(f, hashlib.sha256(_canonical(header))).hexdigest()
    if actual != recorded:
        raise ChecksumMismatch(f"{path} is damaged: its contents no longer match the checksum recorded when it was "
                               "written")
    return True


def checksum_recorded(path: str | Path) -> bool:
    """Whether a safetensors file records its checksum (only its header is read)."""
    path = Path(path)
    with open(path, "rb") as f:
        header = _header(f, path.stat().st_size)
    return CHECKSUM in (header or {}).get("__metadata__", {})


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Read a safetensors file (no pickle), its checksum checked first: its tensors and the JSON metadata aekit
    stored in it."""
    path = Path(path)
    if not path.is_file():
        raise AekitError(f"{path} not found")
    verify_checksum(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = (f.metadata() or {}).get("aekit")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise AekitError(f"{path} is not a readable safetensors file ({e})") from None
    try:
        return tensors, json.loads(meta) if meta is not None else None
    except ValueError:
        raise AekitError(f"{path} has corrupt aekit metadata") from None


def check_state_dict(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str | Path) -> None:
    """Refuse, in one line, tensors with missing, unexpected or mis-shaped entries for a model (which may live on the
    meta device: checked before anything is allocated)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise AekitError(f"{where} does not match the model (missing {missing[:3]}, unexpected {extra[:3]})")
    for k, v in expected.items():
        if tensors[k].shape != v.shape:
            raise AekitError(f"{where}: {k} has shape {tuple(tensors[k].shape)}, the model needs {tuple(v.shape)}")


def load_state_dict_checked(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str | Path) -> None:
    """Load tensors into a model, refusing missing, unexpected or mis-shaped entries with one line."""
    check_state_dict(model, tensors, where)
    model.load_state_dict(tensors)


def optimizer_to_tensors(opt: torch.optim.Optimizer, prefix: str = "optim.") -> tuple[dict, dict]:
    """An optimiser's state as flat tensors plus JSON (param groups, scalar state), without pickle."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, val in state.items():
            if isinstance(val, torch.Tensor):
                tensors[f"{prefix}{pid}.{key}"] = val
            else:
                scalars[f"{pid}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict, meta: dict, prefix: str = "optim.") -> None:
    """Restore what ``optimizer_to_tensors`` saved into an optimiser built for the same parameters."""
    state: dict[int, dict] = {}
    for name, val in tensors.items():
        if name.startswith(prefix):
            pid, key = name[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[key] = val
    for name, val in meta.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as e:
        raise AekitError(f"checkpoint optimiser state does not fit this model ({e})") from None
