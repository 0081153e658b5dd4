"""Noise models for denoising: corrupt a batch in model space ([0, 1]); the clean batch stays the target."""

from __future__ import annotations

import torch

from aekit.training.config import NOISES


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _strengths(x: torch.Tensor, strength: float | tuple[float, float],
               generator: torch.Generator | None) -> float | torch.Tensor:
    """One strength, or for a range (low, high) one drawn uniformly per sample (shaped to broadcast over ``x``)."""
    if isinstance(strength, (int, float)):
        return strength
    low, high = strength
    if high <= low:
        return low
    u = torch.rand((len(x),) + (1,) * (x.dim() - 1), generator=generator, device=x.device, dtype=x.dtype)
    return low + (high - low) * u


def corrupt(x: torch.Tensor, kind: str, strength: float | tuple[float, float],
            generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of ``x``; ``strength`` is one value or a range (low, high), drawn per sample (blind
    denoising: one model for every level in the range).

    gaussian: x + strength * N(0, 1), clipped to [0, 1] (the Keras blog's denoising setting is strength 0.5).
    salt_pepper: a ``strength`` fraction of values set to 0 or 1 (half each).
    mask: a ``strength`` fraction of values set to 0 (masking noise, Vincent et al. 2008).
    Draws from ``generator`` or, when None, from torch's global RNG (seeded and checkpointed by the trainer).
    """
    if kind == "none" or strength in (0, (0, 0)):
        return x
    strength = _strengths(x, strength, generator)
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + strength * noise).clamp(0, 1)
    if kind == "salt_pepper":
        u, v = _uniform(x, generator), _uniform(x, generator)
        return torch.where(u < strength, (v < 0.5).to(x.dtype), x)
    if kind == "mask":
        return x * (_uniform(x, generator) >= strength).to(x.dtype)
    raise ValueError(f"unknown noise {kind!r}; choose from {NOISES}")

