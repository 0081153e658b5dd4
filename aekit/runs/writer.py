"""The run folder as training writes it: ``FolderWriter`` owns its files; ``train`` trains into a folder."""

from __future__ import annotations

from pathlib import Path

import torch

from aekit.models import Autoencoder
from aekit.runs import files
from aekit.training.config import TrainConfig
from aekit.training.contract import TrainResult
from aekit.training.loop import train as train_loop


class FolderWriter:
    """What the training loop writes into a run folder: ``config.json`` at the start, ``model.safetensors`` and
    ``metrics.jsonl`` at every epoch end, and ``checkpoint.safetensors`` (the loop's resumable state)."""

    def __init__(self, run_dir: str | Path, data_info: dict | None = None):
        self.dir = Path(run_dir)
        self.data_info = data_info or {}
        self.checkpoint = self.dir / files.STATE
        self.weights = self.dir / files.WEIGHTS

    def begin(self, model: Autoencoder, train: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        files.write_json(self.dir / files.CONFIG, files.run_config(model, self.data_info, train))

    def resumed(self, history: list[dict]) -> None:
        files.write_metrics(self.dir, history)
        for stale in self.dir.glob(".*.tmp"):  # left by a kill in the middle of a write
            stale.unlink(missing_ok=True)

    def epoch_end(self, weights: dict[str, torch.Tensor], history: list[dict]) -> None:
        files.save_tensors(self.weights, weights)
        files.write_metrics(self.dir, history)


def train(model: Autoencoder, x: torch.Tensor, cfg: TrainConfig, run_dir: str | Path | None = None, *,
          data_info: dict | None = None, **options) -> TrainResult:
    """``aekit.training.loop.train``, saving into run folder ``run_dir`` as it goes (in memory when None):
    ``config.json`` (with ``data_info``), ``model.safetensors``, ``checkpoint.safetensors`` and ``metrics.jsonl``.
    ``resume=True`` continues from the folder's checkpoint."""
    writer = FolderWriter(run_dir, data_info) if run_dir is not None else None
    return train_loop(model, x, cfg, writer, **options)
