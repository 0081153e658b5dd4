"""A run's life: ``create_run`` trains a new run folder from settings, ``resume_run`` continues one from its
checkpoint. Every run goes through these two, swap runs included (their data is one dataset per identity)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import torch

from aekit.data import Dataset, Normalizer, sample_shape
from aekit.data.dataset import IMAGE
from aekit.errors import AekitError
from aekit.models import Autoencoder, build_model
from aekit.runs import files
from aekit.runs.advice import check_fit, fit_code_size
from aekit.runs.config import DataInfo, Domain, RunConfig
from aekit.runs.datasets import domain_arrays, run_datasets
from aekit.runs.run import Run, read_config
from aekit.runs.writer import train
from aekit.training.config import TrainConfig, train_config_from_dict


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _recipe(options: dict, where: str = "training option") -> TrainConfig:
    """The checked TrainConfig of ``options``; one asking for a TensorBoard log needs TensorBoard installed."""
    try:
        cfg = train_config_from_dict(options)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad {where}: {e}") from None
    if cfg.tensorboard:
        from aekit.runs.tensorboard_log import summary_writer

        summary_writer()  # without it, the error now: before data is read or a folder made
    return cfg


def _observers(cfg: TrainConfig, out: str | Path, datasets: dict[str, Dataset], norm: Normalizer) -> list:
    """What watches the training of the run in ``out`` besides its own files (rank 0): the TensorBoard log its recipe
    asks for (``tensorboard``), in its ``tensorboard/`` folder."""
    if not cfg.tensorboard or not _is_main_process():
        return []
    from aekit.runs.tensorboard_log import TensorBoardLog

    return [TensorBoardLog.for_run(Path(out) / files.TENSORBOARD, datasets, norm)]


def _model_space(datasets: dict[str, Dataset], norm: Normalizer, info: DataInfo) -> tuple[torch.Tensor, dict]:
    """Training inputs in model space and their side data (each image's identity, for swap runs)."""
    if info.domains:
        x, ids = domain_arrays(datasets, norm)
        return x, {"domain": ids}
    return torch.from_numpy(norm.transform(datasets[""].x_train)), {}


def _described(info: DataInfo, datasets: dict[str, Dataset], norm: Normalizer, init: dict | None) -> DataInfo:
    """``info`` completed with what loading found: kind, origin, scaling, and each identity's image counts."""
    first = next(iter(datasets.values()))
    domains = tuple(Domain(d.name, d.source, datasets[d.name].source, len(datasets[d.name].x_train),
                           len(datasets[d.name].x_test)) for d in info.domains)
    return dataclasses.replace(info, kind=IMAGE if info.domains else first.kind, origin=first.source,
                               normalizer=norm.to_dict(), init=init, domains=domains,
                               columns=first.table.to_dict() if first.table is not None else None)


def _trained_start(init: Run, ds: Dataset) -> tuple[Autoencoder, Normalizer, dict]:
    """For fine-tuning on ``ds``: run ``init``'s model, its data scaling, and the record of where training started."""
    if init.domains:  # one decoder per domain: plain training would tune only the first
        raise AekitError(f"`init` {init.path}: a swap run trains with its domains (aekit swap-train), not here")
    model, norm, shape = init.model, init.normalizer, tuple(sample_shape(ds))
    if shape != tuple(model.config.input_shape) or ds.kind != norm.kind:
        raise AekitError(f"`init` {init.path}: its model takes {norm.kind}s of shape {tuple(model.config.input_shape)}, "
                         f"this data has {ds.kind}s of shape {shape}")
    return model.train(), norm, {"run": str(init.path.resolve()), "fingerprint": init.fingerprint}


def _settings_data(settings: dict) -> DataInfo:
    domains = tuple(Domain(name, source) for name, source in (settings.get("domains") or {}).items())
    return DataInfo(settings["source"], settings.get("image_size"), settings.get("test_fraction", 0.1),
                    settings.get("patches"), settings.get("patches_per_image"), domains=domains,
                    label_column=settings.get("label_column"), id_column=settings.get("id_column"))


def _as_init_reads(info: DataInfo, init: Run) -> DataInfo:
    """Fine-tuning a run trained on a CSV table: the new table is read through that run's columns."""
    data = init.config.data
    if data.columns is None:
        return info
    return dataclasses.replace(info, label_column=data.label_column, id_column=data.id_column, columns=data.columns)


def create_run(settings: dict, out: str | Path, force: bool = False, progress: bool | None = None,
               init: str | Path | None = None) -> Run | None:
    """Train the model ``settings`` describe (``aekit.runs.settings.resolve_settings``; with ``domains`` =
    {name: source}, a swap run) into run folder ``out``; returns the Run (None on ranks other than 0).

    With ``init`` (a run folder) the model is that run's trained model instead, fine-tuned on this data with
    ``settings``' training options: its config and data scaling are kept, and the new run's config.json names the
    run and the fingerprint of the weights it started from."""
    if init is not None and Path(init).resolve() == Path(out).resolve():
        raise AekitError(f"`init` {init} is the run being written; use `resume` to continue it")
    main = _is_main_process()
    cfg = _recipe(settings["train"])
    if main:
        files.check_run_dir(out, force=force)
    info = _settings_data(settings)
    start = Run.open(init) if init is not None else None
    if start is not None:
        info = _as_init_reads(info, start)
    datasets = run_datasets(info)
    first = next(iter(datasets.values()))
    torch.manual_seed(cfg.seed)  # initialisation is part of the seeded run
    if start is not None:
        model, norm, started = _trained_start(start, first)
    else:
        model, norm, started = _new_model(settings, info, first), Normalizer.fit(first), None
    x, side = _model_space(datasets, norm, info)
    if main:
        check_fit(model, x, cfg.noise)
    data = _described(info, datasets, norm, started)
    observers = _observers(cfg, out, datasets, norm)
    # the folder only now, so that bad data or options leave none behind; a failed forced retrain restores the old run
    with files.new_run_dir(out, force=force) if main else contextlib.nullcontext():
        train(model, x, cfg, out, data_info=data.to_dict(), progress=progress, side=side, observers=observers)
    if not main:
        return None
    return Run(out, read_config(out), dataset=None if info.domains else first)  # its data, not read again


def _new_model(settings: dict, info: DataInfo, first: Dataset) -> Autoencoder:
    config = {**settings["config"], "input_shape": sample_shape(first)}
    if "code_size" not in settings.get("chosen", ()):
        config = fit_code_size(settings["model"], config)
    if info.domains:
        config["domains"] = tuple(d.name for d in info.domains)
    try:
        return build_model(settings["model"], config)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad model option: {e}") from None


def resume_run(run: str | Path, progress: bool | None = None) -> Run | None:
    """Continue a run from its ``checkpoint.safetensors`` with the settings in its ``config.json``."""
    run = Path(run)
    config: RunConfig = read_config(run)
    if not (run / files.STATE).exists():
        raise AekitError(f"{run} has no checkpoint to resume from")
    if not config.data.domains and (not config.data.source or config.data.source == "array"):
        raise AekitError(f"{run} was trained from an in-memory array; resume it from Python")
    cfg = _recipe(config.train, f"training config in {run / files.CONFIG}")
    datasets = run_datasets(config.data)
    norm = config.normalizer()
    x, side = _model_space(datasets, norm, config.data)
    model = files.build_from_config({"model": config.model, "config": config.config}, run / files.CONFIG,
                                    weights=run / files.STATE)  # bounded by the checkpoint before allocating
    train(model, x, cfg, run, data_info=config.data.to_dict(), resume=True, progress=progress, side=side,
          observers=_observers(cfg, run, datasets, norm))
    return Run.open(run) if _is_main_process() else None
