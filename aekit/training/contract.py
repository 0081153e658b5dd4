"""What the training loop (``aekit.training.loop``) gives back and whom it tells: its result, the writer that keeps a
run's files, the observers that watch it, and the error it raises when the loss diverges."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from aekit.errors import AekitError
from aekit.models import Autoencoder


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)  # one record per epoch, as in metrics.jsonl
    seconds: float = 0.0  # wall time of the loop in this call (a resumed run counts only its own part)
    steps: int = 0  # optimiser steps taken in total
    stopped_early: bool = False
    out_of_time: bool = False  # ended by TrainConfig.time_limit


class RunWriter(Protocol):
    """Where training keeps its files (``aekit.runs.writer.FolderWriter``: a run folder); only rank 0 writes."""

    checkpoint: Path  # the resumable state (``aekit.training.state``)
    weights: Path  # the trained weights, rewritten at every epoch end

    def begin(self, model: Autoencoder, train: dict) -> None: ...  # a new run: its model and recipe

    def resumed(self, history: list[dict]) -> None: ...  # a run continues from its checkpoint with this history

    def epoch_end(self, weights: dict[str, torch.Tensor], history: list[dict]) -> None: ...


class Observer(Protocol):
    """Watches training on rank 0 (``aekit.runs.tensorboard_log.TensorBoardLog``, a TensorBoard log): told where the
    run starts (its history so far, empty for a new run), each epoch's finished record with the model holding the
    weights in use (in training mode: an observer leaves its weights and mode as it found them), and the end, with the
    trained model in eval mode. The time it takes is not training time."""

    def start(self, history: list[dict]) -> None: ...

    def epoch_end(self, model: Autoencoder, record: dict) -> None: ...

    def finish(self, model: Autoencoder) -> None: ...


class TrainingDiverged(AekitError):
    """The loss became NaN or infinite."""
