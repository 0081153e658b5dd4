"""Run folders: ``config.json`` + ``model.safetensors`` + ``checkpoint.safetensors`` + ``metrics.jsonl``.

Every file is written atomically (temporary file in the same folder, fsync, rename), so a kill leaves either the old
file or the new one, never half of one. Nothing here unpickles: weights, optimiser state and RNG states are
safetensors tensors, everything else is JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from . import __version__
from .devices import pick_device
from .errors import AekitError
from .fileio import atomic_write
from .models import MAX_PARAMETERS, MODELS, Autoencoder, build_model, model_name
from .models.base import config_to_dict

log = logging.getLogger(__name__)
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
MAX_CONFIG_BYTES = 1 << 24  # a config.json larger than 16 MiB is not one of ours
# What training writes into a run folder, or derives from its weights (figures, evaluation, fitted priors): the files
# a --force retrain replaces. Anything else in the folder is the user's and stays.
RUN_FILES = (CONFIG, WEIGHTS, STATE, METRICS, "eval.json", "reconstructions.png", "swaps.png", "gmm.safetensors",
             "prior.safetensors")
REPLACED = ".replaced-run"  # a --force retrain keeps the old run's files here until the new one has trained


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
    if size > MAX_CONFIG_BYTES:
        raise AekitError(f"{path} is {size} bytes, too large for a config file")
    try:
        obj = json.loads(path.read_text())
    except ValueError as e:  # bad UTF-8, bad JSON, or an integer of more digits than Python will parse
        raise AekitError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise AekitError(f"{path} should hold a JSON object")
    return obj


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    """Atomically write tensors (made contiguous, on CPU) and optional JSON metadata to a safetensors file."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = {"aekit": json.dumps(meta)} if meta is not None else None
    atomic_write(path, st_save(flat, metadata=metadata))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Read a safetensors file (no pickle): its tensors and the JSON metadata aekit stored in it."""
    path = Path(path)
    if not path.is_file():
        raise AekitError(f"{path} not found")
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


def fingerprint(path: str | Path) -> str:
    """SHA-256 of a weights file: identifies the exact model that made an output."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_config(model: Autoencoder, data: dict, train: dict | None = None) -> dict:
    """The ``config.json`` document for a run: enough to rebuild the model and its data handling exactly."""
    return {
        "aekit": __version__,
        "model": model_name(model),
        "config": config_to_dict(model.config),
        "data": data,
        "train": train or {},
    }


CLI_ADVICE = "choose another --out, --resume it, or pass --force"


def check_run_dir(path: str | Path, force: bool = False, advice: str = CLI_ADVICE) -> Path:
    """Refuse a run folder that is a file, or that already holds a run unless ``force``; creates nothing (call it
    before slow or fallible set-up, so a failure leaves no empty folder behind)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AekitError(f"{path} exists and is not a folder")
    if not force:
        refuse_run_files(path, advice)
    return path


def refuse_run_files(path: Path, advice: str) -> None:
    """Refuse a folder holding any file a run would write (a run, or the user's own ``metrics.jsonl``): writing a run
    there would overwrite it. Other files are the user's and a run leaves them alone, so they do not count."""
    if not path.is_dir():
        return
    if (path / CONFIG).exists() and ((path / WEIGHTS).exists() or (path / STATE).exists()):
        raise AekitError(f"{path} already holds a run; {advice}")
    clash = [name for name in (*RUN_FILES, REPLACED) if (path / name).exists()]
    if clash:
        raise AekitError(f"{path} already holds {', '.join(clash)}, which a run would overwrite; {advice}")


def prepare_run_dir(path: str | Path, force: bool = False, advice: str = CLI_ADVICE) -> Path:
    """Create a run folder, refusing to reuse one that already holds a run unless ``force``. With ``force`` the old
    run's files move into ``REPLACED`` inside it (``new_run_dir`` deletes them once the new run has trained, or puts
    them back if it fails)."""
    path = check_run_dir(path, force, advice)
    path.mkdir(parents=True, exist_ok=True)
    if force:
        old = path / REPLACED
        if old.exists():  # an earlier replacement was cut short: the run files here are its partial run
            for name in RUN_FILES:
                (path / name).unlink(missing_ok=True)
        elif any((path / name).exists() for name in RUN_FILES):
            old.mkdir()
            for name in RUN_FILES:
                if (path / name).exists():
                    os.replace(path / name, old / name)
    return path


@contextlib.contextmanager
def new_run_dir(path: str | Path, force: bool = False, advice: str = CLI_ADVICE):
    """``prepare_run_dir``, then train inside the ``with``. If that fails with an error before the first checkpoint,
    this attempt's files go (and the folder, if it made it) and a replaced run comes back, so a failed ``--force``
    retrain loses nothing and a failed first try does not block the next. Once a checkpoint exists the attempt is
    kept for ``--resume`` (a divergence, a kill), the replaced run's files staying in ``REPLACED``, which the next
    ``--force`` keeps as they are. On success the replaced run's files are deleted."""
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
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        if old.is_dir():
            for f in old.iterdir():
                os.replace(f, path / f.name)
            old.rmdir()
        if not existed and not any(path.iterdir()):
            path.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


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


def load_state_dict_checked(model: Autoencoder, tensors: dict[str, torch.Tensor], where: str | Path) -> None:
    """Load tensors into a model, refusing missing, unexpected or mis-shaped entries with one line."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise AekitError(f"{where} does not match the model (missing {missing[:3]}, unexpected {extra[:3]})")
    for k, v in expected.items():
        if tensors[k].shape != v.shape:
            raise AekitError(f"{where}: {k} has shape {tuple(tensors[k].shape)}, the model needs {tuple(v.shape)}")
    model.load_state_dict(tensors)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Autoencoder, dict]:
    """The ready model (eval mode) of a run folder, and its config; never unpickles."""
    run_dir = Path(run_dir)
    device = pick_device(device) if isinstance(device, str) else device  # a bad name: one clear error, first
    cfg = read_run_config(run_dir)
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
