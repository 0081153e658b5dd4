"""An exponential moving average of a model's weights, kept beside training and used as the trained model.

Averaging the weights of the last few hundred steps (Polyak & Juditsky 1992) smooths out the optimiser's noise; GANs
keep such an average of the generator (Karras et al. 2018). PyTorch's ``AveragedModel`` keeps the copy; the decay
warms up as ``min(decay, (1 + n) / (10 + n))`` after n updates (as TensorFlow's ExponentialMovingAverage does with
num_updates), so the average does not remember the random initialisation.

Measured here (notes in BENCHMARKS.md): with a cosine schedule that already decays the learning rate to zero the gain
is small: the conv headline recipe's test MSE after 150 s moved 0.00279 -> 0.00275 at decay 0.9995, and a 3-epoch
VAE-GAN's sample FID did not move.
"""

from __future__ import annotations

import contextlib

import torch
from torch.optim.swa_utils import AveragedModel


class _Ema:
    """``AveragedModel``'s multi_avg_fn: lerp every float tensor towards the model by 1 - decay (decay set per step
    by ``WeightAverage.update``, so no device tensor is read back); integer buffers (batch norm's step count) are
    copied."""

    def __init__(self):
        self.decay = 0.0

    def __call__(self, averaged: list[torch.Tensor], current: list[torch.Tensor], _num_averaged) -> None:
        if averaged[0].is_floating_point():  # AveragedModel groups the tensors by dtype
            torch._foreach_lerp_(averaged, current, 1 - self.decay)
        else:
            torch._foreach_copy_(averaged, current)


class WeightAverage:
    """The EMA of ``model``'s parameters and buffers; ``update()`` after each optimiser step."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"ema decay must lie in (0, 1), got {decay}")
        self.model, self.decay, self.updates = model, decay, 0
        self._fn = _Ema()
        self.average = AveragedModel(model, multi_avg_fn=self._fn, use_buffers=True)

    @torch.no_grad()
    def update(self) -> None:
        self._fn.decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.average.update_parameters(self.model)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights under the model's own names (what ``model.safetensors`` holds)."""
        return dict(self.average.module.state_dict())

    @contextlib.contextmanager
    def applied(self):
        """Inside the block the model holds the averaged weights; the training weights come back after it."""
        kept = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.state_dict())
        try:
            yield self.model
        finally:
            self.model.load_state_dict(kept)

    def to_tensors(self, prefix: str = "ema.") -> dict[str, torch.Tensor]:
        """Averaged weights and the update count, for the training checkpoint."""
        return {prefix + k: v for k, v in self.average.state_dict().items()}

    def load(self, tensors: dict[str, torch.Tensor], prefix: str = "ema.") -> None:
        """Restore what ``to_tensors`` saved (strict: a checkpoint without an average is refused)."""
        self.average.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        self.updates = int(self.average.n_averaged)
