"""Compressive autoencoder: a conv autoencoder whose code is quantised to integers and priced in bits by a learned
prior, trained for rate and distortion together at several quality levels in one model.

The code ``y`` (a flat vector of ``code_size``) is scaled per quality level by a learned gain vector before rounding
and by a learned inverse gain before the decoder ("asymmetric gained" variable-rate coding, Cui et al. 2021), so one
run offers every level. The prior is autoregressive over the code's dimensions (a MADE, Germain et al. 2015): for
dimension i it predicts a Gaussian mean and scale from dimensions < i and the level, the integer symbol's
probability is the Gaussian's mass on [k - 1/2, k + 1/2] (Ballé et al. 2018; Minnen et al. 2018), and that is what
``aekit.apps.codec`` hands to ``constriction``'s range coder.

Training follows the standard recipe: the rate sees the code plus uniform noise (a differentiable proxy for
rounding), the decoder sees the rounded code with a straight-through gradient ("mixed" quantisation), and every
sample draws its own level, its loss being ``bits per pixel + lambda[level] * MSE``. In evaluation mode codes are
rounded and the level is ``default_level`` unless given.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.base import Autoencoder
from aekit.models.configs import CompressConfig
from aekit.models.conv import ConvAutoencoder

SCALE_MIN = 0.11  # lower bound of the prior's scales, in symbol units (CompressAI's default)
LIKELIHOOD_MIN = 1e-9


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (MADE's connectivity)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class AutoregressivePrior(nn.Module):
    """MADE over a code's dimensions: mean and scale of dimension i from dimensions < i and the quality level."""

    def __init__(self, dims: int, hidden: int, levels: int):
        super().__init__()
        d_in = torch.arange(1, dims + 1)
        d_h = torch.arange(hidden) % max(dims - 1, 1) + 1
        self.inp = MaskedLinear(d_h[:, None] >= d_in[None, :])
        self.mid = MaskedLinear(d_h[:, None] >= d_h[None, :])
        self.out = MaskedLinear((d_in[:, None] > d_h[None, :]).repeat(2, 1))
        self.level = nn.Embedding(levels, hidden)
        nn.init.zeros_(self.level.weight)
        self.dims = dims

    def forward(self, context: torch.Tensor, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, scale) in code units for every dimension, each seeing only ``context[:, :i]``."""
        h = F.silu(self.inp(context) + self.level(level))
        h = F.silu(self.mid(h))
        mean, log_scale = self.out(h).split(self.dims, dim=1)
        return mean, log_scale.exp()


def gaussian_likelihood(v: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mass of N(mean, scale) on [v - 1/2, v + 1/2], computed on the side where it does not cancel."""
    scale = scale.clamp_min(SCALE_MIN)
    d = (v - mean).abs()
    upper = 0.5 * torch.erfc(-(0.5 - d) / (scale * math.sqrt(2)))
    lower = 0.5 * torch.erfc(-(-0.5 - d) / (scale * math.sqrt(2)))
    return (upper - lower).clamp_min(LIKELIHOOD_MIN)


class CompressiveAutoencoder(Autoencoder):
    """Conv autoencoder + per-level gains + autoregressive prior; ``forward`` adds "bits" (per sample) and "level"."""

    def __init__(self, config: CompressConfig):
        super().__init__()
        self.config = config
        self.ae = ConvAutoencoder(config.conv_config())
        k, d = len(config.lambdas), config.code_size
        lam = torch.tensor([float(v) for v in config.lambdas])
        start = 0.5 * torch.log(lam / lam[config.default_level])  # step size ~ 1 / sqrt(lambda) at the start
        self.log_gain = nn.Parameter(start[:, None].repeat(1, d))
        self.log_inv_gain = nn.Parameter(-start[:, None].repeat(1, d))
        self.prior = AutoregressivePrior(d, config.prior_hidden, k)
        self.register_buffer("lambdas", lam, persistent=False)

    @property
    def levels(self) -> int:
        return len(self.config.lambdas)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The continuous code (before gains and rounding)."""
        return self.ae.encode(x)

    def level_tensor(self, n: int, level: int | torch.Tensor | None, device) -> torch.Tensor:
        if isinstance(level, torch.Tensor):
            return level.to(device=device, dtype=torch.long)
        if level is None:
            if self.training:
                return torch.randint(self.levels, (n,), device=device)
            level = self.config.default_level
        if not 0 <= int(level) < self.levels:
            raise ValueError(f"level must lie in 0..{self.levels - 1}, got {level}")
        return torch.full((n,), int(level), device=device, dtype=torch.long)

    def symbols(self, x: torch.Tensor, level) -> torch.Tensor:
        """Integer symbols (as floats) of x at a level: round(code * gain)."""
        lv = self.level_tensor(len(x), level, x.device)
        return torch.round(self.encode(x) * self.log_gain[lv].exp())

    def entropy_parameters(self, symbols: torch.Tensor, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale of every symbol's Gaussian, in symbol units, given the symbols before it. Always float32
        (autocast off): bfloat16's 8-bit mantissa would misprice the symbols the coder later codes exactly."""
        with torch.autocast(symbols.device.type, enabled=False):
            gain = self.log_gain[level].exp()
            mean, scale = self.prior(symbols.float() / gain, level)
            return mean * gain, (scale * gain).clamp_min(SCALE_MIN)

    def decode_symbols(self, symbols: torch.Tensor, level) -> torch.Tensor:
        """Reconstructions (model space) from integer symbols at a level."""
        lv = self.level_tensor(len(symbols), level, symbols.device)
        return self.decode_dequantised(symbols * self.log_inv_gain[lv].exp())

    def decode_dequantised(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.ae.decode_logits(z))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from a continuous code, quantised at the default level (so every generic tool works)."""
        lv = self.level_tensor(len(z), self.config.default_level, z.device)
        return self.ae.decode_logits(torch.round(z * self.log_gain[lv].exp()) * self.log_inv_gain[lv].exp())

    def forward(self, x: torch.Tensor, level: int | torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        lv = self.level_tensor(len(x), level, x.device)
        y = self.encode(x)
        scaled = y * self.log_gain[lv].exp()
        rounded = torch.round(scaled)
        if self.training:
            priced = scaled + torch.empty_like(scaled).uniform_(-0.5, 0.5)
            quantised = scaled + (rounded - scaled).detach()  # straight-through rounding for the decoder
        else:
            priced = quantised = rounded
        mean, scale = self.entropy_parameters(priced, lv)
        bits = -torch.log2(gaussian_likelihood(priced.float(), mean, scale)).sum(1)
        logits = self.ae.decode_logits(quantised * self.log_inv_gain[lv].exp())
        return {"x_hat": torch.sigmoid(logits), "logits": logits, "z": y, "bits": bits, "level": lv}

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0) -> dict:
        """Mean over samples of bits per pixel + lambda[level] * MSE; also reports bpp and mse."""
        target = x if target is None else target
        mse = (out["x_hat"] - target).pow(2).flatten(1).mean(1)
        pixels = math.prod(self.config.input_shape[1:])
        bpp = out["bits"] / pixels
        total = (bpp + self.lambdas.to(mse.device)[out["level"]] * mse).mean()
        return {"loss": total, "recon": mse.mean(), "bpp": bpp.mean().detach()}
