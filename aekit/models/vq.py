"""VQ-VAE (van den Oord et al., "Neural Discrete Representation Learning", 2017) with an EMA codebook.

x (B, C, H, W) -> conv stages -> 1x1 conv -> z_e (B, D, h, w) -> nearest codebook entry per position -> z (B, D, h, w)
-> 1x1 conv -> transposed conv stages -> logits (B, C, H, W). Each image is then ``h * w`` integers below
``codebook_size`` (``encode_indices``), which a learned prior can model and ``decode_indices`` turns back into images.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from aekit.models import backbone
from aekit.models.base import Autoencoder, activation, output, reconstruction_loss
from aekit.models.blocks import kaiming_init_
from aekit.models.configs import VQConfig


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum over processes when torch.distributed is initialised (in place; a no-op otherwise)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantisation against a codebook kept by exponential moving averages.

    EMA updates follow van den Oord et al. 2017, Appendix A.1, with Laplace smoothing of the counts (as in Sonnet).
    The codebook and its averages are buffers (saved in the state_dict; no gradients); in training mode ``forward``
    updates them and restarts dead entries from random encoder outputs of the batch (torch's global RNG).
    """

    def __init__(self, codebook_size: int, dim: int, decay: float = 0.99, dead_code_threshold: float = 1.0,
                 eps: float = 1e-5):
        super().__init__()
        self.decay, self.threshold, self.eps = decay, dead_code_threshold, eps
        embed = torch.randn(codebook_size, dim)
        self.register_buffer("embed", embed)  # (K, D) the codebook
        self.register_buffer("cluster_size", torch.ones(codebook_size))  # (K,) EMA of assignments per entry
        self.register_buffer("embed_sum", embed.clone())  # (K, D) EMA of the sum of vectors assigned to each entry

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_e (B, D, h, w) -> (straight-through quantised map (B, D, h, w), indices (B, h, w)); no update."""
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)  # (N, D), N = B*h*w
        with torch.no_grad():
            dist2 = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed.t() + self.embed.pow(2).sum(1)  # (N, K)
            indices = dist2.argmin(1)  # (N,)
        q = F.embedding(indices, self.embed).view(b, h, w, d).permute(0, 3, 1, 2)  # (B, D, h, w)
        return z_e + (q - z_e).detach(), indices.view(b, h, w)  # straight-through: gradients pass to z_e

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codebook vectors for indices (B, h, w) -> (B, D, h, w)."""
        return F.embedding(indices, self.embed).permute(0, 3, 1, 2)

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, indices = self.quantize(z_e)
        if self.training:
            self.update(z_e.detach().permute(0, 2, 3, 1).reshape(-1, z_e.shape[1]), indices.flatten())
        return z, indices

    @torch.no_grad()
    def update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        """One EMA step from vectors (N, D) and their assignments (N,), then dead-code restarts."""
        onehot = F.one_hot(indices, self.embed.shape[0]).type(flat.dtype)  # (N, K)
        counts = _all_reduce(onehot.sum(0))  # (K,)
        sums = _all_reduce(onehot.t() @ flat)  # (K, D)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.embed.shape[0] * self.eps) * n  # Laplace smoothing
        self.embed.copy_(self.embed_sum / smoothed.unsqueeze(1))
        dead = self.cluster_size < self.threshold  # identical on every process: the counts were all-reduced
        if dead.any():
            self.restart(dead, flat)

    @torch.no_grad()
    def restart(self, dead: torch.Tensor, flat: torch.Tensor) -> None:
        """Move dead entries onto random vectors of the batch; under torch.distributed, rank 0's choice wins."""
        pick = torch.randint(0, flat.shape[0], (int(dead.sum()),), device=flat.device)
        self.embed[dead] = flat[pick]
        self.cluster_size[dead] = max(self.threshold, self.eps)
        self.embed_sum[dead] = flat[pick] * self.cluster_size[dead].unsqueeze(1)
        if dist.is_available() and dist.is_initialized():
            for t in (self.embed, self.cluster_size, self.embed_sum):
                dist.broadcast(t, 0)


def perplexity(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """exp(entropy) of the code usage in ``indices``: 1 when one entry is used, K when all are used equally."""
    p = torch.bincount(indices.flatten(), minlength=codebook_size).float() / indices.numel()
    return torch.exp(-(p * torch.log(p + 1e-10)).sum())


class VQVAE(Autoencoder):
    """x (B, C, H, W) -> z_e (B, D, h, w) -> quantised z (B, D, h, w) and indices (B, h, w) -> logits (B, C, H, W)."""

    discrete_code = True  # codes are codebook entries: nothing continuous to refine (aekit.apps.refine)

    def __init__(self, config: VQConfig):
        super().__init__()
        self.config = config
        cfg = config
        c, h, w = backbone.feature_shape(cfg)
        self.latent_shape = (h, w)  # the index grid of one image
        self.encoder = nn.Sequential(backbone.encoder(cfg), nn.Conv2d(c, cfg.code_size, 1))  # (B, D, h, w) z_e
        self.quantizer = VectorQuantizer(cfg.codebook_size, cfg.code_size, cfg.ema_decay, cfg.dead_code_threshold)
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.code_size, c, 1), activation(cfg.activation),  # (B, c, h, w)
            backbone.decoder(cfg),
        )
        kaiming_init_(self)  # the codebook is a buffer: untouched

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantizer.quantize(self.encoder(x))[0]  # (B, D, h, w) quantised map; never updates the codebook

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> codebook indices (B, h, w), long."""
        return self.quantizer.quantize(self.encoder(x))[1]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, C, H, W)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Codebook indices (B, h, w) -> images in model space (B, C, H, W)."""
        return self.decode(self.quantizer.lookup(indices))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z_e = self.encoder(x)  # (B, D, h, w)
        z, indices = self.quantizer(z_e)  # EMA update and restarts here, in training mode only
        logits = self.decode_logits(z)
        x_hat = output(logits, self.config.output_activation)
        return {"x_hat": x_hat, "logits": logits, "z": z, "z_e": z_e, "indices": indices}

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0) -> dict:
        """recon (mean per element) + commitment * ||z_e - sg(z)||^2; the codebook itself learns by EMA, not loss."""
        target = x if target is None else target
        recon = reconstruction_loss(out["logits"], out["x_hat"], target, self.config.loss)
        commit = F.mse_loss(out["z_e"], out["z"].detach())
        return {"loss": recon + self.config.commitment * commit, "recon": recon, "commitment": commit,
                "perplexity": perplexity(out["indices"], self.config.codebook_size)}
