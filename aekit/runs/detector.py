"""A detector folder's files: ``config.json`` (kind ``aekit-detector``) beside ``model.safetensors``.

A detector is not a run (it classifies images, it does not reconstruct them), but it lives in a folder of the same
two files, so the same rules hold: written atomically, read as untrusted, nothing unpickled.
"""

from __future__ import annotations

from pathlib import Path

import torch

from aekit._version import __version__
from aekit.errors import AekitError
from aekit.fileio import make_folder
from aekit.runs import files

KIND = "aekit-detector"
DETECTOR_FOLDER = (files.CONFIG, files.WEIGHTS)  # all a detector folder holds


def prepare_detector_dir(out: Path, force: bool) -> None:
    """Make folder ``out`` for a detector, refusing one that holds a detector or run unless ``force``, and, even with
    ``force``, the root or home folder or one that holds other files."""
    if out.exists() and not out.is_dir():
        raise AekitError(f"{out} exists and is not a folder")
    files.refuse_foreign(out, DETECTOR_FOLDER, "a detector")
    clash = [name for name in DETECTOR_FOLDER if (out / name).exists()]
    if clash and not force:
        raise AekitError(f"{out} already holds {' and '.join(clash)} (a detector or run?); choose another `out` "
                         "or pass `force` to replace it")
    make_folder(out)


def write_detector(out: Path, weights: dict[str, torch.Tensor], config: dict) -> None:
    """Write a detector's weights, then its config (with its kind and aekit's version)."""
    files.save_tensors(out / files.WEIGHTS, weights)
    files.write_json(out / files.CONFIG, {"kind": KIND, "aekit": __version__, **config})


def read_detector(path: str | Path) -> tuple[dict, dict[str, torch.Tensor], Path]:
    """A detector folder's config, its weights and the weights file's path; AekitError for anything else."""
    path = Path(path)
    if not (path / files.CONFIG).is_file():
        raise AekitError(f"{path} is not a detector folder (train one with aekit detect-train)")
    cfg = files.read_json(path / files.CONFIG)
    if cfg.get("kind") != KIND:
        raise AekitError(f"{path} is not an aekit detector (train one with aekit detect-train)")
    tensors, _ = files.load_tensors(path / files.WEIGHTS)
    return cfg, tensors, path / files.WEIGHTS
