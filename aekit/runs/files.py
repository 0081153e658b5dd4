"""Run folders: ``config.json`` + ``model.safetensors`` + ``checkpoint.safetensors`` + ``metrics.jsonl``.

Every file is written atomically (temporary file in the same folder, fsync, rename), so a kill leaves either the old
file or the new one, never half of one. Nothing here unpickles: weights, optimiser state and RNG states are
safetensors tensors, everything else is JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

import torch

from aekit._version import __version__
from aekit.errors import AekitError
from aekit.fileio import atomic_write
from aekit.models import MAX_PARAMETERS, MODELS, Autoencoder, build_model, model_name
from aekit.models.base import config_to_dict
from aekit.storage import (  # noqa: F401 (run files are these kinds of file)
    ChecksumMismatch,
    checksum_recorded,
    load_state_dict_checked,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_json,
    save_tensors,
    sha256_stream,
    verify_checksum,
    write_json,
)
from aekit.training.devices import pick_device

log = logging.getLogger(__name__)
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
EVAL = "eval.json"
FIGURE = "reconstructions.png"
SWAPS = "swaps.png"
GMM = "gmm.safetensors"
PRIOR = "prior.safetensors"
SAMPLES = "samples.png"
INTERPOLATION = "interpolation.png"
TENSORBOARD = "tensorboard"
REPLACED = ".replaced-run"
# Everything a run folder may hold, and why: what training writes, what applications derive from the weights and keep
# beside them, and the folder a forced retrain keeps the replaced run in. No run is written into a folder holding
# anything else (the user's files), even with ``force``; a file a run writes from now on (a log, a model card) joins
# this table, which every check reads.
RUN_FOLDER = {
    CONFIG: "the model, its data handling and its training recipe",
    WEIGHTS: "the trained weights",
    STATE: "the resumable training state",
    METRICS: "one record per epoch",
    EVAL: "test-set metrics (aekit eval, after training)",
    FIGURE: "reconstructions (after training; aekit reconstruct)",
    SWAPS: "a swap run's figure",
    GMM: "the code mixture generate fits to flat codes",
    PRIOR: "the code prior generate fits to a VQ-VAE",
    SAMPLES: "aekit generate's default output",
    INTERPOLATION: "aekit interpolate's default output",
    TENSORBOARD: "a folder: the TensorBoard log of training (`tensorboard`)",
    REPLACED: "a folder: the run a forced retrain replaces, until the new one has trained",
}
# The files (all but REPLACED; TENSORBOARD a folder): what a forced retrain (``force``) replaces, since each was made by
# the old weights.
RUN_FILES = tuple(name for name in RUN_FOLDER if name != REPLACED)


def fingerprint(path: str | Path) -> str:
    """SHA-256 of a weights file: identifies the exact model that made an output."""
    with open(path, "rb") as f:
        return sha256_stream(f).hexdigest()


def run_config(model: Autoencoder, data: dict, train: dict | None = None) -> dict:
    """The ``config.json`` document for a run: enough to rebuild the model and its data handling exactly."""
    return {
        "aekit": __version__,
        "model": model_name(model),
        "config": config_to_dict(model.config),
        "data": data,
        "train": train or {},
    }


ADVICE = "choose another `out`, resume it (`resume`), or pass `force` to replace it"


def check_run_dir(path: str | Path, force: bool = False, advice: str = ADVICE) -> Path:
    """Refuse a run folder that is a file, the root or home folder, or a folder holding anything a run does not
    write (even with ``force``), or one that already holds a run unless ``force``; creates nothing (call it before
    slow or fallible set-up, so a failure leaves no empty folder behind)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AekitError(f"{path} exists and is not a folder")
    refuse_foreign(path, RUN_FOLDER, "a run")
    if not force:
        refuse_run_files(path, advice)
    return path


def refuse_foreign(path: Path, table, what: str) -> None:
    """Refuse folder ``path`` as the home of ``what`` (a folder of the files named in ``table``) when it is the root or
    home folder, or holds anything else: the user's files, which a forced rewrite would otherwise mix with ours
    (names them, the first few, and counts the rest)."""
    where = path.resolve()
    if where == Path(where.anchor) or where == _home():
        raise AekitError(f"{path} is {'the root' if where == Path(where.anchor) else 'your home'} folder; "
                         f"{what} goes into a folder of its own: choose another `out`")
    if not path.is_dir():
        return
    foreign = sorted(p.name for p in path.iterdir() if not _ours(p.name, table))
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise AekitError(f"{path} holds files that are not {what}'s ({', '.join(foreign[:3])}{more}); {what} goes "
                         "into a new or empty folder, or replaces one (`force`): choose another `out`")


def _ours(name: str, table) -> bool:
    """Whether ``name`` is in ``table``, or the hidden temporary file of an interrupted write of one that is."""
    return name in table or any(name.startswith(f".{n}.") and name.endswith(".tmp") for n in table)


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except RuntimeError:  # no home folder to find
        return None


def refuse_run_files(path: Path, advice: str) -> None:
    """Refuse a folder holding any file a run would write (a run, or a partial one): writing a run there would
    overwrite it."""
    if not path.is_dir():
        return
    if (path / CONFIG).exists() and ((path / WEIGHTS).exists() or (path / STATE).exists()):
        raise AekitError(f"{path} already holds a run; {advice}")
    clash = [name for name in RUN_FOLDER if (path / name).exists()]
    if clash:
        raise AekitError(f"{path} already holds {', '.join(clash)}, which a run would overwrite; {advice}")


def prepare_run_dir(path: str | Path, force: bool = False, advice: str = ADVICE) -> Path:
    """Create a run folder, refusing to reuse one that already holds a run unless ``force``. With ``force`` the old
    run's files move into ``REPLACED`` inside it (``new_run_dir`` deletes them once the new run has trained, or puts
    them back if it fails)."""
    path = check_run_dir(path, force, advice)
    path.mkdir(parents=True, exist_ok=True)
    if force:
        old = path / REPLACED
        if old.exists():  # an earlier replacement was cut short: the run files here are its partial run
            _remove(path, RUN_FILES)
        elif any((path / name).exists() for name in RUN_FILES):
            old.mkdir()
            for name in RUN_FILES:
                if (path / name).exists():
                    os.replace(path / name, old / name)
    return path


@contextlib.contextmanager
def new_run_dir(path: str | Path, force: bool = False, advice: str = ADVICE):
    """``prepare_run_dir``, then train inside the ``with``. If that fails with an error before the first checkpoint,
    this attempt's files go (and the folder, if it made it) and a replaced run comes back, so a failed forced
    retrain loses nothing and a failed first try does not block the next. Once a checkpoint exists the attempt is
    kept for resuming (a divergence, a kill), the replaced run's files staying in ``REPLACED``, which the next
    forced retrain keeps as they are. On success the replaced run's files are deleted."""
    path = Path(path)
    existed = path.exists()
    prepare_run_dir(path, force, advice)
    old = path / REPLACED
    try:
        yield path
    except Exception:
        if (path / STATE).exists():
            if old.is_dir():
                log.warning("the run replaced by this one is kept in %s", old)
            raise
        _remove(path, RUN_FILES)
        if old.is_dir():
            for f in old.iterdir():
                os.replace(f, path / f.name)
            old.rmdir()
        if not existed and not any(path.iterdir()):
            path.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path, names) -> None:
    """Delete the run files ``names`` in ``path``, folders (the TensorBoard log) with what they hold."""
    for name in names:
        if (path / name).is_dir() and not (path / name).is_symlink():
            shutil.rmtree(path / name)
        else:
            (path / name).unlink(missing_ok=True)


def save_model(run_dir: str | Path, model: Autoencoder, config: dict) -> None:
    """Write ``config.json`` and ``model.safetensors`` for a ready model."""
    run_dir = Path(run_dir)
    save_tensors(run_dir / WEIGHTS, model.state_dict())
    write_json(run_dir / CONFIG, config)


def read_run_config(run_dir: str | Path) -> dict:
    """Read and check a run's ``config.json``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AekitError(f"{run_dir} is not a run folder")
    if not (run_dir / CONFIG).is_file():
        raise AekitError(f"{run_dir} is not a run folder (it has no {CONFIG})")
    cfg = read_json(run_dir / CONFIG)
    if cfg.get("kind") == "aekit-detector":
        raise AekitError(f"{run_dir} is a swap detector (aekit detect-train), not a model run; use it with aekit detect")
    if not isinstance(cfg.get("model"), str) or cfg["model"] not in MODELS:
        raise AekitError(f"{run_dir / CONFIG}: unknown model {cfg.get('model')!r}; aekit knows {sorted(MODELS)}")
    if not isinstance(cfg.get("config"), dict):
        raise AekitError(f"{run_dir / CONFIG}: missing model config")
    for key in ("data", "train"):
        if not isinstance(cfg.get(key) or {}, dict):
            raise AekitError(f"{run_dir / CONFIG}: '{key}' should be a JSON object")
    return cfg


def build_from_config(cfg: dict, where: str | Path = "config", weights: Path | None = None) -> Autoencoder:
    """Rebuild the exact model a ``config.json`` describes (weights not loaded). With ``weights`` (the file it
    will load), a config describing more weights than that file can hold (at 1 byte each, and then some) is refused
    before the model is allocated: a hostile config.json of a few bytes cannot ask for gigabytes."""
    limit = {}
    if weights is not None:
        if not weights.is_file():
            raise AekitError(f"{weights} not found")
        limit = {"limit": min(MAX_PARAMETERS, weights.stat().st_size + (1 << 20))}
    try:
        return build_model(cfg["model"], cfg["config"], **limit)
    except (TypeError, ValueError) as e:
        raise AekitError(f"{where}: bad model config ({e})") from None


def load_model(run_dir: str | Path, device: str | torch.device = "cpu",
               cfg: dict | None = None) -> tuple[Autoencoder, dict]:
    """The ready model (eval mode) of a run folder, and its config (``cfg``, if already read and checked, is not
    read again); never unpickles."""
    run_dir = Path(run_dir)
    device = pick_device(device) if isinstance(device, str) else device  # a bad name: one clear error, first
    cfg = cfg if cfg is not None else read_run_config(run_dir)
    model = build_from_config(cfg, run_dir / CONFIG, weights=run_dir / WEIGHTS)
    tensors, _ = load_tensors(run_dir / WEIGHTS)
    load_state_dict_checked(model, tensors, run_dir / WEIGHTS)
    return model.to(device).eval(), cfg


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Per-epoch records from ``metrics.jsonl`` (empty when training has not finished an epoch)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    rows = []
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise AekitError(f"{path} is not UTF-8 text") from None
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise AekitError(f"{path} has a corrupt line")
        rows.append(row)
    return rows


def epochs_done(rows: list[dict]) -> float:
    """Epochs a run has trained, from its metrics: fractional when a time limit ended the last one (runs written
    before the ``epochs_done`` field count their records)."""
    if not rows:
        return 0.0
    return float(rows[-1].get("epochs_done", len(rows)))


def trained_for(rows: list[dict]) -> str:
    """'N epochs in S s' for a run's summary line."""
    done, secs = round(epochs_done(rows), 2), rows[-1]["seconds"] if rows else float("nan")
    return f"{done:g} epoch{'' if done == 1 else 's'} in {secs:.1f} s"


def write_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    """Atomically rewrite ``metrics.jsonl``."""
    atomic_write(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())


