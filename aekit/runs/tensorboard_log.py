"""``TensorBoardLog``: a run's TensorBoard log, the ``tensorboard/`` folder of its run folder, written as it trains
(a training ``Observer``, ``aekit.training.contract``); watch it with ``tensorboard --logdir RUN/tensorboard``.

Every epoch (TensorBoard's step is the epoch number): the scalars ``train/<term>`` (``train/loss`` and the model's
other loss terms), ``validation/<term>`` (with a validation split), ``learning_rate`` and ``samples_per_s`` (training
images, or table rows, a second), and for image runs ``reconstructions``: the first test images over their
reconstructions. At the end: the test codes for the embedding projector (``projector_config.pbtxt``, and in
``<epoch>/test_codes/`` the codes, their labels and, for images, a sprite of the images). A resumed run appends to
the log; what a killed run logged after its last checkpoint is dropped (TensorBoard's ``purge_step``).

TensorBoard is optional (``pip install aekit[tensorboard]``): nothing imports it until a log is made.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aekit.data import Dataset, Normalizer
from aekit.errors import AekitError
from aekit.models import Autoencoder
from aekit.models.inference import in_batches
from aekit.runs.datasets import domain_arrays

SHOWN = 8  # test images shown over their reconstructions every epoch
EMBEDDED = 10_000  # test codes in the projector at most (it samples 10,000 points for its t-SNE and UMAP too)
SPRITE = 8192  # the projector's largest sprite image, in pixels a side
TAG = "test_codes"  # the embedding's name in the projector


def summary_writer():
    """``torch.utils.tensorboard.SummaryWriter``, or one ``AekitError`` naming the extra to install."""
    try:
        import tensorboard  # noqa: F401 (torch's writer needs it; importing it first gives our message)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise AekitError("a TensorBoard log (`tensorboard`) needs the tensorboard package: "
                         "pip install aekit[tensorboard]") from None
    return SummaryWriter


@contextlib.contextmanager
def _evaluating(model: Autoencoder):
    """The model in eval mode without gradients, back in its own mode afterwards."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was)


def _device(model: Autoencoder) -> torch.device:
    return next(model.parameters()).device


class TensorBoardLog:
    """The TensorBoard log of a run in ``folder``, showing and embedding the model-space test samples ``x``
    (N, *input_shape), the first ``EMBEDDED`` of them, with their ``labels`` (text, one per sample; None: none)."""

    def __init__(self, folder: str | Path, x: torch.Tensor, labels: list[str] | None = None):
        self.folder = Path(folder)
        self.x = x[:EMBEDDED]
        self.labels = labels[:EMBEDDED] if labels is not None else None
        self.writer_class = summary_writer()  # without the package: the error now, before any training
        self.writer = None
        self.epoch = 0  # the last epoch logged

    @classmethod
    def for_run(cls, folder: str | Path, datasets: dict[str, Dataset], norm: Normalizer) -> TensorBoardLog:
        """The log of a run trained on ``datasets`` ({"": dataset}, or one per identity of a swap run, each test
        image then labelled by its identity) scaled by ``norm``."""
        if "" not in datasets:
            x, ids = domain_arrays(datasets, norm, "test", limit=math.ceil(EMBEDDED / len(datasets)))
            names = list(datasets)
            return cls(folder, x, [names[i] for i in ids.tolist()])
        ds = datasets[""]
        x = torch.from_numpy(norm.transform(ds.x_test[:EMBEDDED]))
        return cls(folder, x, _labels(ds, len(x)))

    def start(self, history: list[dict]) -> None:
        """Open the log; a resumed run's continues after its last recorded epoch."""
        self.epoch = history[-1]["epoch"] if history else 0
        self.writer = self.writer_class(str(self.folder), purge_step=self.epoch + 1 if history else None)

    def epoch_end(self, model: Autoencoder, record: dict) -> None:
        """The epoch's scalars and, for images, reconstructions."""
        self.epoch = record["epoch"]
        for key, value in record.items():
            tag = _scalar_tag(key)
            if tag is not None and isinstance(value, (int, float)):
                self.writer.add_scalar(tag, value, self.epoch)
        if self.x.dim() == 4 and len(self.x):
            self.writer.add_image("reconstructions", self.reconstructions(model), self.epoch)
        self.writer.flush()

    def reconstructions(self, model: Autoencoder) -> torch.Tensor:
        """The first ``SHOWN`` test images (top row) over their reconstructions: one image (C, 2H, n*W) in [0, 1]."""
        x = self.x[:SHOWN]
        with _evaluating(model):
            x_hat = model(x.to(_device(model)))["x_hat"].float().cpu()
        rows = [torch.cat(list(images.clamp(0, 1)), dim=2) for images in (x, x_hat)]
        return torch.cat(rows, dim=1)

    def finish(self, model: Autoencoder) -> None:
        """The test codes of the trained model for the embedding projector; the log closed."""
        with _evaluating(model):
            codes = in_batches(model.encode, self.x, 1024, _device(model)).float().flatten(1)
        sprites = self.sprites() if self.x.dim() == 4 else None
        shutil.rmtree(self.folder / f"{self.epoch:05d}" / TAG, ignore_errors=True)  # a finished run resumed again
        self.writer.add_embedding(codes, metadata=self.labels, label_img=sprites, global_step=self.epoch, tag=TAG)
        self.writer.close()

    def sprites(self) -> torch.Tensor:
        """The test images as the projector's thumbnails: square, small enough for one sprite of them all."""
        side = min(max(self.x.shape[-2:]), SPRITE // math.ceil(math.sqrt(len(self.x))))
        x = self.x.clamp(0, 1)
        if tuple(x.shape[-2:]) != (side, side):
            x = F.interpolate(x, size=(side, side), mode="area")
        return x


def _scalar_tag(key: str) -> str | None:
    """The TensorBoard tag of a metrics.jsonl key, or None for one not logged (epoch, step, seconds)."""
    if key.startswith("train_"):
        return f"train/{key.removeprefix('train_')}"
    if key.startswith("val_"):
        return f"validation/{key.removeprefix('val_')}"
    return {"lr": "learning_rate", "samples_per_s": "samples_per_s"}.get(key)


def _labels(ds: Dataset, n: int) -> list[str] | None:
    """The first ``n`` test labels as text (a CSV's class names where it has them), or None without labels."""
    if ds.y_test is None:
        return None
    y = np.asarray(ds.y_test[:n])
    classes = ds.table.label_classes if ds.table is not None else ()
    names = [classes[i] for i in y.tolist()] if classes and np.issubdtype(y.dtype, np.integer) else y.tolist()
    return [" ".join(str(v).split()) for v in names]  # one line of metadata.tsv each
