"""The training recipe in motion: a ``TrainConfig``'s learning-rate schedule and its optimiser."""

from __future__ import annotations

import math

import torch

from aekit.training.config import TrainConfig


def learning_rate(cfg: TrainConfig, step: int, total: int) -> float:
    """The learning rate for optimiser step ``step`` of ``total``: linear warm-up, then the chosen decay."""
    warm = int(cfg.warmup * total)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    p = (step - warm) / max(1, total - warm)
    end = cfg.lr * cfg.final_lr
    if cfg.schedule == "cosine":
        return end + (cfg.lr - end) * 0.5 * (1 + math.cos(math.pi * p))
    return cfg.lr + (end - cfg.lr) * p


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam, AdamW, or Muon with Adam (``aekit.training.optim.MuonAdam``) over the model's parameters."""
    if cfg.optimizer == "muon":
        from aekit.training.optim import MuonAdam

        return MuonAdam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                        weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    params = list(model.parameters())
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in params)  # one kernel per step
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay, fused=fused)
