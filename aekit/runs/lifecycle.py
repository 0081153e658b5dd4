"""Run-level workflows the CLI calls: resolve settings, train into a run folder, resume, evaluate, describe."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import torch

from aekit.runs import files as ckpt
from aekit.data import Dataset, Normalizer, load_dataset, sample_shape
from aekit.training.devices import pick_device
from aekit.errors import AekitError
from aekit.metrics.reconstruction import active_dims, pca_mse, reconstruct, reconstruction_metrics
from aekit.fileio import png_output, refuse_existing
from aekit.models import build_model
from aekit.runs.options import size_value, widths_value
from aekit.runs.presets import get_preset
from aekit.runs.provenance import make_mark
from aekit.runs.writer import train
from aekit.training.config import train_config_from_dict

log = logging.getLogger(__name__)


def _read_toml(path: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise AekitError(f"config file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AekitError(f"config file {path} is not valid TOML ({e})") from None
    except IsADirectoryError:
        raise AekitError(f"config file {path} is a folder") from None


def resolve_settings(preset: str = "seed", config_file: str | None = None, dataset: str | None = None,
                     data: str | None = None, image_size: tuple[int, int] | None = None, test_fraction: float = 0.1,
                     model: str | None = None, model_options: dict | None = None,
                     train_options: dict | None = None, patches: tuple[int, int] | None = None,
                     patches_per_image: int | None = None) -> dict:
    """Merge preset ← TOML file ← explicit options (None means "not given") into one settings dict.

    Sizes are (height, width) pairs and widths (the model's ``hidden``, ``disc_channels``) lists; a TOML file may
    also write them as text, "28x28" and "256,128" (``aekit.runs.options``)."""
    file = _read_toml(config_file) if config_file else {}
    preset = file.get("preset", preset)
    try:
        s = get_preset(preset)
    except ValueError as e:
        raise AekitError(str(e)) from None
    unknown = set(file) - {"preset", "dataset", "data", "image_size", "patches", "patches_per_image", "test_fraction",
                           "model", "config", "train"}
    if unknown:
        raise AekitError(f"config file {config_file}: unknown keys {sorted(unknown)}")
    if data or dataset:
        path, name = data, dataset
    else:
        path, name = file.get("data"), file.get("dataset") or s["dataset"]
    source = str(Path(path).expanduser().resolve()) if path else name
    given_model = model or file.get("model")
    if given_model and given_model != s["model"]:
        s["config"] = {}  # another model's options would not fit
    config = {**s["config"], **file.get("config", {})}
    config.update({k: v for k, v in (model_options or {}).items() if v is not None})
    if "hidden" in config:
        config["hidden"] = widths_value(config["hidden"], "hidden")
    tr = {**s["train"], **file.get("train", {})}
    tr.update({k: v for k, v in (train_options or {}).items() if v is not None})
    if "disc_channels" in tr:
        tr["disc_channels"] = widths_value(tr["disc_channels"], "disc_channels")
    try:
        train_config_from_dict(tr)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad training option: {e}") from None
    size = image_size or file.get("image_size")
    per_image = patches_per_image if patches_per_image is not None else file.get("patches_per_image")
    if per_image is not None and (not isinstance(per_image, int) or per_image < 1):
        raise AekitError(f"patches_per_image must be a positive whole number, got {per_image!r}")
    patch_size = size_value(patches or file.get("patches"), "patches")
    if per_image is not None and patch_size is None:
        raise AekitError("`patches_per_image` needs a patch size (`patches`, e.g. 64x64)")
    fraction = file.get("test_fraction", test_fraction)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise AekitError(f"test fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    return {"source": source, "image_size": size_value(size), "model": given_model or s["model"],
            "config": config, "train": tr, "test_fraction": float(fraction),
            "patches": patch_size, "patches_per_image": per_image, "preset": preset}


DATA_KEYS = ("image_size", "test_fraction", "patches", "patches_per_image")


def _load(source: str, info: dict) -> Dataset:
    """Load ``source`` as a run's settings or config.json "data" (``info``) describe: size, split, patches."""
    size, patches = info.get("image_size"), info.get("patches")
    return load_dataset(source, image_size=tuple(size) if size else None, test_fraction=info.get("test_fraction", 0.1),
                        patches=tuple(patches) if patches else None, patches_per_image=info.get("patches_per_image"))


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _trained_start(init: str | Path, ds: Dataset) -> tuple:
    """For fine-tuning on ``ds``: run ``init``'s model, its data scaling, and the record of where training started."""
    model, cfg = ckpt.load_model(init)
    if cfg["model"] == "swap":  # one decoder per domain: plain training would tune only the first
        raise AekitError(f"`init` {init}: a swap run trains with its domains (aekit swap-train), not here")
    norm, shape = run_normalizer(cfg), tuple(sample_shape(ds))
    if shape != tuple(model.config.input_shape) or ds.kind != norm.kind:
        raise AekitError(f"`init` {init}: its model takes {norm.kind}s of shape {tuple(model.config.input_shape)}, "
                         f"this data has {ds.kind}s of shape {shape}")
    return model, norm, {"init": {"run": str(Path(init).resolve()),
                                  "fingerprint": ckpt.fingerprint(Path(init) / ckpt.WEIGHTS)}}


def train_run(settings: dict, out: str | Path, force: bool = False, progress: bool | None = None,
              init: str | Path | None = None) -> Path | None:
    """Train the model ``settings`` describe into run folder ``out``; returns it (None on ranks other than 0).

    With ``init`` (a run folder) the model is that run's trained model instead, fine-tuned on this data with
    ``settings``' training options: its config and data scaling are kept (``settings``' model is ignored), and the
    new run's config.json names the run and the fingerprint of the weights it started from."""
    if init is not None and Path(init).resolve() == Path(out).resolve():
        raise AekitError(f"`init` {init} is the run being written; use `resume` to continue it")
    main = _is_main_process()
    if main:
        ckpt.check_run_dir(out, force=force)
    ds = _load(settings["source"], settings)
    try:
        cfg = train_config_from_dict(settings["train"])
        torch.manual_seed(cfg.seed)  # initialisation is part of the seeded run
        model, norm, started_from = _trained_start(init, ds) if init is not None else (
            build_model(settings["model"], {**settings["config"], "input_shape": sample_shape(ds)}),
            Normalizer.fit(ds), {})
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad model option: {e}") from None
    x = torch.from_numpy(norm.transform(ds.x_train))
    data_info = {"source": settings["source"], **{k: settings.get(k) for k in DATA_KEYS}, "kind": ds.kind,
                 "origin": ds.source, "normalizer": norm.to_dict(), **started_from}
    # the folder only now, so that bad data or options leave none behind; a failed forced retrain restores the old run
    with ckpt.new_run_dir(out, force=force) if main else contextlib.nullcontext():
        train(model, x, cfg, out, data_info=data_info, progress=progress)
    return Path(out) if main else None


def resume_run(run: str | Path, progress: bool | None = None) -> Path | None:
    """Continue a run from its ``checkpoint.safetensors`` with the settings in its ``config.json``."""
    run = Path(run)
    cfg = ckpt.read_run_config(run)
    if cfg["model"] == "swap":
        raise AekitError(f"{run} is a swap run: continue it with aekit swap-train --resume {run}")
    if not (run / ckpt.STATE).exists():
        raise AekitError(f"{run} has no checkpoint to resume from")
    data = cfg.get("data") or {}
    if not data.get("source") or data["source"] == "array":
        raise AekitError(f"{run} was trained from an in-memory array; resume it from Python")
    ds = _load(data["source"], data)
    norm = Normalizer.from_dict(data["normalizer"])
    x = torch.from_numpy(norm.transform(ds.x_train))
    model = ckpt.build_from_config(cfg, run / ckpt.CONFIG, weights=run / ckpt.STATE)  # bounded by the checkpoint
    try:
        tcfg = train_config_from_dict(cfg.get("train") or {})
    except (TypeError, ValueError) as e:
        raise AekitError(f"{run / ckpt.CONFIG}: bad training config ({e})") from None
    train(model, x, tcfg, run, data_info=data, resume=True, progress=progress)
    return run if _is_main_process() else None


def run_normalizer(cfg: dict) -> Normalizer:
    """How a run maps raw data into model space (from its config.json)."""
    info = cfg.get("data") or {}
    if not info.get("normalizer"):
        raise AekitError("the run's config.json has no data normalisation")
    return Normalizer.from_dict(info["normalizer"])


def run_data(run: Path, cfg: dict, data: str | None) -> tuple[Dataset, Normalizer]:
    """The run's dataset (or ``data`` instead) and its normaliser."""
    info = cfg.get("data") or {}
    norm = run_normalizer(cfg)
    source = data or info.get("source")
    if not source or source == "array":
        raise AekitError(f"{run} was trained from an in-memory array; pass `data`, the path of its data")
    return _load(source, info), norm


def open_run(run: str | Path, data: str | None = None, device: str = "cpu") -> tuple:
    """A run's ready model, its config, its dataset (or ``data``) and normaliser, loaded once for several uses."""
    run = Path(run)
    model, cfg = ckpt.load_model(run, pick_device(device))
    return (model, cfg, *run_data(run, cfg, data))


def run_info(run: str | Path) -> dict:
    """What a run folder holds: model, sizes, data, training, progress, fingerprint."""
    run = Path(run)
    cfg = ckpt.read_run_config(run)
    weights = next((run / f for f in (ckpt.WEIGHTS, ckpt.STATE) if (run / f).is_file()), None)  # bounds the size
    model = ckpt.build_from_config(cfg, run / ckpt.CONFIG, weights=weights)
    hist = ckpt.read_metrics(run)
    info = {"run": str(run), "aekit": cfg.get("aekit"), "model": cfg["model"], "config": cfg["config"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "data": {k: v for k, v in (cfg.get("data") or {}).items() if k != "normalizer"},
            "train": cfg.get("train"), "epochs_done": ckpt.epochs_done(hist), "last_epoch": hist[-1] if hist else None}
    info["weights"] = "missing"  # a run still training has only its checkpoint
    if (run / ckpt.WEIGHTS).exists():
        info["fingerprint"] = ckpt.fingerprint(run / ckpt.WEIGHTS)
        try:
            ckpt.load_state_dict_checked(model, ckpt.load_tensors(run / ckpt.WEIGHTS)[0], run / ckpt.WEIGHTS)
            info["weights"] = "ok"
        except AekitError as e:
            info["weights"] = f"unusable: {e}"
    if (run / ckpt.EVAL).exists():
        try:
            info["eval"] = json.loads((run / ckpt.EVAL).read_text())
        except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
            info["eval"] = f"unreadable: {e.__class__.__name__}"
    return info


__all__ = ["resolve_settings", "train_run", "resume_run", "run_info", "run_data", "run_normalizer", "open_run"]
