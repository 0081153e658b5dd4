"""The contract every aekit model follows, so one trainer and every application work with every model.

A model is a config dataclass plus an ``nn.Module`` built from it:

- ``encode(x) -> z``: inputs in model space (float32 in [0, 1], shape ``(B, *input_shape)``) to codes.
- ``decode_logits(z) -> logits``: codes to pre-activation outputs of shape ``(B, *input_shape)``.
- ``decode(z) -> x_hat``: ``output_activation(decode_logits(z))``, in model space.
- ``forward(x) -> dict``: at least ``{"x_hat", "logits", "z"}``; models add extras (``"mu"``, ``"logvar"``, ...).
  Models whose config offers the neighbour term also take ``forward(x, neighbor=x_nb)`` (one input-space
  neighbour per sample) and add its code as ``"z_neighbor"``; ``loss`` then also takes ``landmark`` (target codes).
- ``loss(x, out, target=None, progress=1.0) -> dict``: named terms with the total under ``"loss"``; ``target``
  defaults to ``x`` (a denoising run passes the clean image as target and the corrupted one as ``x``); ``progress``
  is the fraction of training done, for schedules inside a loss (a VAE's KL warm-up).
- Per-sample side tensors the trainer was given (e.g. ``domain``) reach ``forward`` and ``loss`` as keyword
  arguments; models that take none never see them.
- ``critic_pairs(target, out, **side) -> dict``: what the adversarial decoder's critic compares ("real" vs "fake"
  images, each with an optional integer condition (B,) when ``critic_classes`` > 0). The default: targets against
  reconstructions, unconditioned; a swap model adds its swaps, conditioned on the domain they are rendered as.

Code regularisers shared by every model whose config has the fields ``sparsity`` ("none", "l1" or "kl"),
``sparsity_weight`` and ``sparsity_target`` live here too (``code_penalty``), so a sparse autoencoder is a config
setting, not a class. The neighbour-preserving term (parametric UMAP's loss, ``models/neighbors.py``) is the same
kind of setting: configs with ``neighbor_weight`` > 0 get it in ``loss``, and with ``landmark_weight`` > 0 the pull
towards a UMAP layout of the same graph.

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
from aekit.models.neighbors import landmark_penalty, neighbor_penalty

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

    def forward(self, x: torch.Tensor, neighbor: torch.Tensor | None = None,
                landmark: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The outputs for x; ``neighbor`` adds its code as "z_neighbor" (``landmark`` is for ``loss`` only)."""
        if neighbor is None:
            z = self.encode(x)
            extra = {}
        else:  # one encoder pass over both, so batch statistics see both
            z, z_nb = self.encode(torch.cat([x, neighbor])).split([len(x), len(neighbor)])
            extra = {"z_neighbor": z_nb}
        logits = self.decode_logits(z)
        return {"x_hat": output(logits, self.config.output_activation), "logits": logits, "z": z, **extra}

    critic_classes = 0  # > 0: the adversarial critic is conditioned on one of this many classes (critic_pairs)

    def critic_pairs(self, target: torch.Tensor, out: dict[str, torch.Tensor], **side) -> dict:
        """Real targets against reconstructions, for the adversarial decoder's critic (no conditions). With the config
        field ``critic_samples`` also against decoded new codes (``batch_gaussian_codes``): a deterministic
        autoencoder generates by decoding codes drawn from a density fitted to its codes (``aekit generate``'s
        mixture), so, as in VAE-GAN (Larsen et al. 2016), the decoder is judged there too."""
        if not getattr(self.config, "critic_samples", False):
            return {"real": target, "real_cond": None, "fake": out["x_hat"], "fake_cond": None}
        fake = torch.cat([out["x_hat"], self.decode(batch_gaussian_codes(out["z"]))])
        return {"real": torch.cat([target, target]), "real_cond": None, "fake": fake, "fake_cond": None}

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0, neighbor: torch.Tensor | None = None,
             landmark: torch.Tensor | None = None) -> dict:
        """Reconstruction, plus the sparsity, neighbour and landmark terms the config asks for (the neighbour's code
        is already in ``out``; ``landmark`` holds each sample's target code)."""
        target = x if target is None else target
        recon = reconstruction_loss(out["logits"], out["x_hat"], target, self.config.loss)
        terms = {"loss": recon, "recon": recon}
        penalty = code_penalty(out["z"], self.config)
        if penalty:
            terms.update(penalty)
            terms["loss"] = terms["loss"] + penalty["sparsity"]
        for extra, key in ((neighbor_penalty(out, self.config), "neighbor"),
                           (landmark_penalty(out["z"], landmark, self.config), "landmark")):
            if extra:
                terms.update(extra)
                terms["loss"] = terms["loss"] + extra[key]
        return terms


def batch_gaussian_codes(z: torch.Tensor) -> torch.Tensor:
    """As many new codes as ``z`` has rows, drawn from the Gaussian with the batch's mean and covariance: the mean
    plus random combinations of the centred codes with N(0, 1/(B-1)) weights (exact for that Gaussian, no
    factorisation, any code shape). Uses the global RNG, so a seeded run stays reproducible and resumable."""
    flat = z.detach().flatten(1)
    mean = flat.mean(0, keepdim=True)
    weights = torch.randn(len(flat), len(flat), device=z.device, dtype=flat.dtype) / max(len(flat) - 1, 1) ** 0.5
    return (mean + weights @ (flat - mean)).view_as(z)


def code_penalty(z: torch.Tensor, cfg) -> dict[str, torch.Tensor]:
    """The sparsity term on the code and the mean code activation; empty when the config asks for none.

    "l1": weight * mean |z| (an L1 activity penalty). "kl": weight * sum_j KL(rho || rho_hat_j), rho_hat_j the mean
    activation of code unit j over the batch (Ng, "Sparse autoencoder", CS294A notes, 2011).
    """
    kind = getattr(cfg, "sparsity", "none")
    if kind == "none":
        return {}
    act = z.abs().mean()
    if kind == "l1":
        return {"sparsity": cfg.sparsity_weight * act, "code_activation": act.detach()}
    rho = cfg.sparsity_target
    rho_hat = z.flatten(1).mean(0).clamp(1e-6, 1 - 1e-6)
    kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    return {"sparsity": cfg.sparsity_weight * kl, "code_activation": act.detach()}


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
