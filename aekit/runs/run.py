"""``Run``: one object for a run folder, the unit every application and interface works with.

    run = Run.open("runs/seed")              # config.json checked; the model loads on first use
    run.model, run.normalizer, run.fingerprint, run.domains
    ds = run.dataset()                        # the data it was trained on, read as it was (or run.dataset(path))
    z = run.encode(x); x_hat = run.decode(z)  # batched, in model space

Training makes runs (``Run.create`` / ``Run.resume``, in ``aekit.runs.train``); everything else opens them. Nothing
here unpickles; a config.json is bounded by its weights file before the model it describes is allocated.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import torch

from aekit.data import Dataset, Normalizer, load_dataset
from aekit.errors import AekitError
from aekit.models import Autoencoder
from aekit.models.inference import in_batches
from aekit.runs import files
from aekit.runs.config import RunConfig
from aekit.runs.datasets import run_datasets
from aekit.training.devices import pick_device


class Run:
    """A run folder: its typed config, its model (loaded on first use, in eval mode, on ``device``), how raw data
    maps into model space, the fingerprint of its weights, and its data."""

    def __init__(self, path: str | Path, config: RunConfig, device: str | torch.device = "cpu",
                 dataset: Dataset | None = None):
        self.path = Path(path)
        self.config = config
        self.device = pick_device(device) if isinstance(device, str) else device
        self._dataset = dataset  # its own data, when whoever opened it had just read it (training)

    @classmethod
    def open(cls, path: str | Path, device: str | torch.device = "cpu") -> Run:
        """The run in folder ``path`` (its config.json read and checked now, its weights on first use)."""
        device = pick_device(device) if isinstance(device, str) else device  # a bad name: one clear error, first
        return cls(path, read_config(path), device)

    @classmethod
    def create(cls, settings: dict, out: str | Path, force: bool = False, progress: bool | None = None,
               init: str | Path | None = None) -> Run | None:
        """Train a new run into folder ``out`` (``aekit.runs.train.create_run``)."""
        from aekit.runs.train import create_run

        return create_run(settings, out, force=force, progress=progress, init=init)

    @classmethod
    def resume(cls, path: str | Path, progress: bool | None = None) -> Run | None:
        """Continue the run in ``path`` from its checkpoint (``aekit.runs.train.resume_run``)."""
        from aekit.runs.train import resume_run

        return resume_run(path, progress=progress)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, model={self.config.model!r})"

    @property
    def name(self) -> str:
        """The model's name in ``aekit.models.MODELS``."""
        return self.config.model

    @cached_property
    def model(self) -> Autoencoder:
        """The trained model, in eval mode on the run's device."""
        config = {"model": self.config.model, "config": self.config.config}  # config.json is read already
        model, _ = files.load_model(self.path, self.device, cfg=config)
        return model

    @cached_property
    def normalizer(self) -> Normalizer:
        """How raw data maps into the model's space and back."""
        return self.config.normalizer()

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of ``model.safetensors``: names the exact weights behind every output made with this run."""
        weights = self.path / files.WEIGHTS
        if not weights.is_file():
            raise AekitError(f"{weights} not found")
        return files.fingerprint(weights)

    @property
    def domains(self) -> tuple[str, ...]:
        """A swap run's identities, in decoder order (empty for other runs)."""
        return self.config.domains

    def history(self) -> list[dict]:
        """Per-epoch training records (metrics.jsonl)."""
        return files.read_metrics(self.path)

    def dataset(self, data: str | None = None) -> Dataset:
        """The run's dataset, read as training read it (size, split, patches, a table's columns), or ``data`` read
        the same way."""
        if data is None and self._dataset is not None:
            return self._dataset
        source = data or self.config.data.source
        if not source or source == "array":
            raise AekitError(f"{self.path} was trained from an in-memory array; pass `data`")
        return load_dataset(source, **self.config.data.loader_options())

    def domain_datasets(self) -> dict[str, Dataset]:
        """A swap run's datasets, one per identity, as it was trained on them."""
        if not self.domains:
            raise AekitError(f"{self.path} is not a swap run (train one with aekit swap-train)")
        return run_datasets(self.config.data)

    def encode(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Codes of model-space inputs ``x`` (N, *input_shape), in batches, on the CPU."""
        return self._batched(self.model.encode, x, batch_size)

    def decode(self, z: torch.Tensor, batch_size: int = 1024, **options) -> torch.Tensor:
        """Model-space outputs of codes ``z``; ``options`` reach the model's ``decode`` (a swap run's domain)."""
        return self._batched(lambda b: self.model.decode(b, **options), z, batch_size)

    def reconstruct(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """``decode(encode(x))`` in batches."""
        return self._batched(lambda b: self.model(b)["x_hat"], x, batch_size)

    def _batched(self, fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        self.model.eval()
        return in_batches(fn, x, batch_size, self.device)


def read_config(path: str | Path) -> RunConfig:
    """The checked config.json of run folder ``path``."""
    return RunConfig.from_dict(files.read_run_config(path), Path(path) / files.CONFIG)


def as_run(run: Run | str | Path, device: str | torch.device = "cpu") -> Run:
    """``run`` itself, or the run folder it names opened on ``device``: what every application accepts."""
    return run if isinstance(run, Run) else Run.open(run, device)
