"""Which samples training sees: the seeded validation split, per-sample side data, each epoch's sample order, and the
mean loss over held-out samples.

``Rows`` holds the training and validation rows of the data and of every side tensor (the same rows of each); a
model with the neighbour-preserving or landmark term gets its side tensors drawn afresh at every epoch start
(``aekit.training.neighbors``), split off the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from aekit.errors import AekitError
from aekit.models import Autoencoder
from aekit.training.config import TrainConfig
from aekit.training.neighbors import NeighborSampler, neighbor_sampler
from aekit.training.noise import corrupt


def split_validation(x: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A seeded train/validation split of the rows of ``x``."""
    if fraction <= 0:
        return x, None
    n_val = max(1, int(round(len(x) * fraction)))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[perm[n_val:]], x[perm[:n_val]]


def check_side(side: dict[str, torch.Tensor] | None, n: int, balance: str) -> dict[str, torch.Tensor]:
    """Validate per-sample side tensors (one row per training sample, e.g. a domain id for every image)."""
    side = dict(side or {})
    for k, v in side.items():
        if not isinstance(v, torch.Tensor) or len(v) != n:
            raise AekitError(f"side data {k!r} must be a tensor with one row per sample ({n})")
    if balance and (balance not in side or side[balance].dtype not in (torch.int64, torch.int32)):
        raise AekitError(f"balance={balance!r} needs an integer side tensor of that name")
    return side


def epoch_order(n: int, seed: int, epoch: int, groups: torch.Tensor | None = None) -> torch.Tensor:
    """The sample order of one epoch: a seeded permutation of ``range(n)``; with ``groups`` (one integer per sample),
    ``n`` indices that cycle through the groups (g0, g1, ..., g0, g1, ...), each group's samples in a fresh random
    order and repeated as often as it needs, so every batch holds every group equally however unequal their sizes."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    if groups is None:
        return torch.randperm(n, generator=gen)
    values = torch.unique(groups)
    per = math.ceil(n / len(values))
    streams = []
    for v in values.tolist():
        members = torch.nonzero(groups == v).flatten()
        reps = math.ceil(per / len(members))
        order = torch.cat([members[torch.randperm(len(members), generator=gen)] for _ in range(reps)])
        streams.append(order[:per])
    return torch.stack(streams, 1).flatten()[:n]  # (per, G) row-major: one of each group in turn


@torch.no_grad()
def evaluate_loss(model: Autoencoder, x: torch.Tensor, device: torch.device, batch_size: int = 1024,
                  noise: str = "none", strength: float | tuple[float, float] = 0.0, seed: int = 0,
                  side: dict[str, torch.Tensor] | None = None) -> dict:
    """Mean of each loss term over ``x`` in eval mode (inputs corrupted with a fixed seed for denoising runs)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    gen = torch.Generator(device=device).manual_seed(seed)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        sb = {k: v[i : i + batch_size].to(device) for k, v in (side or {}).items()}
        x_in = corrupt(xb, noise, strength, gen)
        for k, v in model.loss(x_in, model(x_in, **sb), target=xb, **sb).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


@dataclass
class Rows:
    """The training and validation rows of the data and of its side tensors, split by ``split_rows``."""

    n: int  # rows of the data before the split
    x_train: torch.Tensor
    x_val: torch.Tensor | None  # None without a validation split
    side_train: dict[str, torch.Tensor]
    side_val: dict[str, torch.Tensor | None]
    resample: NeighborSampler | None  # draws the neighbour side tensors of one epoch (None when the model has none)

    def start_epoch(self, cfg: TrainConfig, epoch: int) -> torch.Tensor:
        """Start epoch ``epoch``: its draw of resampled side data, then its sample order, on the device of the data."""
        if self.resample is not None:  # the same rows split off as the data's
            for name, v in check_side(self.resample(epoch), self.n, "").items():
                self.side_train[name], self.side_val[name] = split_validation(v, cfg.val_fraction, cfg.seed)
        perm = epoch_order(len(self.x_train), cfg.seed, epoch, self.side_train[cfg.balance] if cfg.balance else None)
        return perm.to(self.x_train.device)  # one copy per epoch, not one per step


def split_rows(model: Autoencoder, x: torch.Tensor, cfg: TrainConfig,
               side: dict[str, torch.Tensor] | None) -> Rows:
    """Check the side data, build the model's neighbour sampler (on all rows of ``x``, validation rows included) and
    split off the validation rows of ``x`` and of every side tensor."""
    side = check_side(side, len(x), cfg.balance)
    resample = None if {"neighbor", "landmark"} & set(side) else neighbor_sampler(model, x, cfg.seed)
    x_train, x_val = split_validation(x, cfg.val_fraction, cfg.seed)
    side_split = {k: split_validation(v, cfg.val_fraction, cfg.seed) for k, v in side.items()}  # the same rows
    if len(x_train) == 0:
        raise AekitError("no training data")
    side_train = {k: t for k, (t, _) in side_split.items()}
    side_val = {k: v for k, (_, v) in side_split.items()}
    return Rows(len(x), x_train, x_val, side_train, side_val, resample)
