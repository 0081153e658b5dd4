"""The contract every aekit model follows, so one trainer and every application work with every model.

A model is a config dataclass plus an ``nn.Module`` built from it:

- ``encode(x) -> z``: inputs in model space (float32 in [0, 1], shape ``(B, *input_shape)``) to codes.
- ``decode_logits(z) -> logits``: codes to pre-activation outputs of shape ``(B, *input_shape)``.
- ``decode(z) -> x_hat``: ``output_activation(decode_logits(z))``, in model space.
- ``forward(x) -> dict``: at least ``{"x_hat", "logits", "z"}``; models add extras (``"mu"``, ``"logvar"``, ...).
- ``loss(x, out, target=None, progress=1.0) -> dict``: named terms with the total under ``"loss"``; ``target``
  defaults to ``x`` (a denoising run passes the clean image as target and the corrupted one as ``x``); ``progress``
  is the fraction of training done, for schedules inside a loss (a VAE's KL warm-up).
- Per-sample side tensors the trainer was given (e.g. ``domain``) reach ``forward`` and ``loss`` as keyword
  arguments; models that take none never see them.
- ``critic_pairs(target, out, **side) -> dict``: what the adversarial decoder's critic compares ("real" vs "fake"
  images, each with an optional integer condition (B,) when ``critic_classes`` > 0). The default: targets against
  reconstructions, unconditioned; a swap model adds its swaps, conditioned on the domain they are rendered as.

Terms on the code (sparsity, the neighbour-preserving term, the landmark pull, the critic judging sampled codes)
are config settings of the deterministic models, built on ``aekit.models.code_terms.CodeTermsAutoencoder``.

The module never mutates its config; ``config`` is stored on the module so a run folder can rebuild it exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.config_parts import (  # noqa: F401 (check_input_shape and config_*_dict: re-exported)
    LOSSES,
    check_activation,
    check_input_shape,
    config_from_dict,
    config_to_dict,
)

ACTIVATIONS = {  # by config_parts.ACTIVATION_NAMES, the names a config is checked against without torch
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """An activation module by name."""
    check_activation(name)
    return ACTIVATIONS[name]()


def output(logits: torch.Tensor, name: str) -> torch.Tensor:
    """Apply the output activation named in a config."""
    return torch.sigmoid(logits) if name == "sigmoid" else logits


def reconstruction_loss(logits: torch.Tensor, x_hat: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-element reconstruction loss; BCE is taken on logits for numerical stability."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "mse":
        return F.mse_loss(x_hat, target)
    raise ValueError(f"unknown loss {kind!r}; choose from {LOSSES}")


class Autoencoder(nn.Module):
    """Shared plumbing: ``decode``, ``forward`` and ``loss`` in terms of ``encode`` and ``decode_logits``."""

    config: object  # a dataclass with at least input_shape, code_size, output_activation, loss

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes to reconstructions in model space."""
        return output(self.decode_logits(z), self.config.output_activation)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The outputs for x: its code, the decoder's logits and the reconstruction."""
        z = self.encode(x)
        logits = self.decode_logits(z)
        return {"x_hat": output(logits, self.config.output_activation), "logits": logits, "z": z}

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0) -> dict:
        """The reconstruction loss against ``target`` (``x`` itself unless denoising)."""
        target = x if target is None else target
        recon = reconstruction_loss(out["logits"], out["x_hat"], target, self.config.loss)
        return {"loss": recon, "recon": recon}

    critic_classes = 0  # > 0: the adversarial critic is conditioned on one of this many classes (critic_pairs)

    def critic_pairs(self, target: torch.Tensor, out: dict[str, torch.Tensor], **side) -> dict:
        """Real targets against reconstructions, for the adversarial decoder's critic (no conditions)."""
        return {"real": target, "real_cond": None, "fake": out["x_hat"], "fake_cond": None}


def glorot_init_(module: nn.Module) -> None:
    """Keras's defaults for every Linear/Conv layer: Glorot-uniform weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def numel(shape) -> int:
    """Number of elements in one sample of this shape."""
    return int(math.prod(shape))
