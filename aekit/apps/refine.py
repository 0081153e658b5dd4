"""Encoder-side code refinement: codes that decode better than the encoder's own, found by gradient descent.

An encoder is amortised inference: one forward pass guesses, for every input at once, the code the decoder would
rebuild best. The guess is not the best code for a given input (the "amortisation gap"; Cremer et al. 2018), and a
few optimiser steps on the code itself, with the decoder frozen, close much of it (Kim et al. 2018; for learned
compression, Campos et al. 2019 and Yang et al. 2020). Nothing about the model or the decoder changes: a refined
code is an ordinary code of the same size, and a refined ``.aek`` file is an ordinary file any decoder reads. The
price is encoding time: each step is a decoder forward and backward pass.

``refine_codes``: any autoencoder with a continuous code (dense, conv, sparse, VAE means), towards a pixel loss.
``refine_symbols``: a compressive autoencoder's integer symbols, towards its own rate + lambda * distortion at the
chosen quality level; per image, the refined symbols are kept only where they lower that objective.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aekit.errors import AekitError
from aekit.models.compress import CompressiveAutoencoder, gaussian_likelihood

LOSSES = ("mse", "bce")


def _pixel_loss(model, z: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample loss of z's decoding, summed over pixels (so each sample's gradient is its own)."""
    if loss == "mse":
        return (model.decode(z) - x).pow(2).flatten(1).sum(1)
    return F.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="none").flatten(1).sum(1)


RELATIVE_STEP = 0.2  # refine_codes' default step, a fraction of each code's RMS (at or near the best of the
# rules measured on five MNIST models: dense, dense+L1, sigmoid-coded sparse, VAE, conv; benchmarks/refine.py)


def code_scale(z: torch.Tensor) -> torch.Tensor:
    """Each code's root-mean-square value, shaped to broadcast against z. An all-zero code (a ReLU code can be one)
    has no scale of its own and takes the mean of the others in its batch (1 when every code is zero)."""
    rms = z.flatten(1).pow(2).mean(1).sqrt()
    fallback = rms[rms > 0].mean() if (rms > 0).any() else rms.new_ones(())
    rms = torch.where(rms > 0, rms, fallback)
    return rms.view(-1, *[1] * (z.dim() - 1))


def _check(steps: int, lr: float) -> None:
    if steps < 0 or lr <= 0 or not math.isfinite(lr):
        raise AekitError(f"refinement needs steps >= 0 and a positive learning rate, got {steps} and {lr}")


def refine_codes(model, x: torch.Tensor, steps: int = 50, lr: float | None = None, loss: str | None = None,
                 batch_size: int = 1000, z0: torch.Tensor | None = None) -> torch.Tensor:
    """Codes for x (in model space) after ``steps`` Adam steps from the encoder's codes (or ``z0``), each lowering
    the reconstruction loss ``loss`` ("mse" or "bce"; default: the model's own loss, "bce" when it has none).

    ``lr``: Adam's step size in code units. The default, None, steps each code by ``RELATIVE_STEP`` times its own
    root-mean-square value: codes differ in scale by orders of magnitude between models (a conv code's RMS can be
    100, a sigmoid code's 0.3), and one absolute step size is too timid for the first and overshoots the second.
    The relative step depends only on the sample itself (but for an all-zero code: ``code_scale``)."""
    step = RELATIVE_STEP if lr is None else lr
    _check(steps, step)
    loss = loss or getattr(getattr(model, "config", None), "loss", "bce")
    if loss not in LOSSES:
        raise AekitError(f"refinement loss must be one of {LOSSES}, got {loss!r}")
    if getattr(model, "discrete_code", False):
        raise AekitError("a vector-quantised code is discrete: refinement needs a continuous code")
    if isinstance(model, CompressiveAutoencoder):
        raise AekitError("a compressive autoencoder's code is rounded before decoding: refine its symbols "
                         "(refine_symbols, or `aekit compress --refine`)")
    if loss == "bce" and getattr(model.config, "output_activation", "sigmoid") != "sigmoid":
        raise AekitError("refinement with loss 'bce' needs a sigmoid output; use loss 'mse'")
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        with torch.no_grad():
            start_z = (model.encode(xb) if z0 is None else z0[start:start + batch_size].to(device)).float()
            scale = code_scale(start_z) if lr is None else torch.ones((), device=device)
        # Adam on a step u in units of each code's scale, z = start + scale * u (Adam's steps are ~lr in u)
        u = torch.zeros_like(start_z, requires_grad=True)
        opt = torch.optim.Adam([u], lr=step)
        with torch.enable_grad():
            for _ in range(steps):
                (u.grad,) = torch.autograd.grad(_pixel_loss(model, start_z + scale * u, xb, loss).sum(), [u])
                opt.step()
        out.append((start_z + scale * u).detach() if steps else start_z)
    return torch.cat(out) if out else x.new_zeros((0,))


def rd_objective(model, symbols: torch.Tensor, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Per image: bits per pixel of ``symbols`` under the prior + lambda[level] * MSE of their decoding."""
    mean, scale = model.entropy_parameters(symbols, level)
    bpp = -torch.log2(gaussian_likelihood(symbols, mean, scale)).sum(1) / math.prod(x.shape[2:])
    mse = (model.decode_symbols(symbols, level).float() - x).pow(2).flatten(1).mean(1)
    return bpp + model.lambdas.to(x.device)[level] * mse


def refine_symbols(model, x: torch.Tensor, level: int, steps: int = 50, lr: float = 0.1,
                   batch_size: int = 1000, search_precision: str = "bf16") -> torch.Tensor:
    """A compressive autoencoder's integer symbols (as floats) for x at ``level``, refined for that level's
    rate + lambda * MSE: Adam on the continuous scaled code, rounded with a straight-through gradient in both the
    rate and the decoder (what gets coded is exactly what is optimised); each image keeps the better of its
    refined and its plain symbols. The search runs the decoder under bfloat16 autocast by default (about twice as
    fast on a CPU; the rate stays float32); the choice between refined and plain is made in float32."""
    _check(steps, lr)
    if search_precision not in ("fp32", "bf16"):
        raise AekitError(f"search_precision must be 'fp32' or 'bf16', got {search_precision!r}")
    model.eval()
    device = next(model.parameters()).device
    low = search_precision == "bf16" and device.type in ("cpu", "cuda")
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        lv = model.level_tensor(len(xb), level, device)
        with torch.no_grad():
            s = (model.encode(xb) * model.log_gain[lv].exp()).float()
            plain = torch.round(s)
        s = s.clone().requires_grad_(True)
        opt = torch.optim.Adam([s], lr=lr)
        with torch.enable_grad(), torch.autocast(device.type, torch.bfloat16, enabled=low):
            for _ in range(steps):
                q = s + (torch.round(s) - s).detach()
                (s.grad,) = torch.autograd.grad(rd_objective(model, q, xb, lv).sum(), [s])
                opt.step()
        with torch.no_grad():
            refined = torch.round(s)
            better = rd_objective(model, refined, xb, lv) < rd_objective(model, plain, xb, lv)
            out.append(torch.where(better[:, None], refined, plain))
    return torch.cat(out) if out else x.new_zeros((0,))
