"""The training recipe in motion: a ``TrainConfig``'s length in steps, its learning-rate schedule and its optimiser."""

from __future__ import annotations

import dataclasses
import logging
import math

import torch

from aekit.training.config import TrainConfig

log = logging.getLogger(__name__)

TIME_STEPS = 1_000_000  # with a time limit, the schedule is evaluated at this resolution of elapsed time
FEW_STEPS = 100  # fewer optimiser steps than this train no useful model: a run says so


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


def long_enough(cfg: TrainConfig, n: int) -> TrainConfig:
    """``cfg`` with its epochs raised to ``min_steps`` optimiser steps on ``n`` training rows (a run records and
    resumes with the raised count); a warning names the change, or how few steps a run without ``min_steps`` takes."""
    per_epoch = math.ceil(n / cfg.batch_size)
    epochs = cfg.epochs_for(per_epoch)
    if epochs != cfg.epochs:
        log.warning("%d training samples make %d steps an epoch: training %g epochs instead of %g, for at least "
                    "%d optimiser steps (`min_steps`)", n, per_epoch, epochs, cfg.epochs, cfg.min_steps)
        return dataclasses.replace(cfg, epochs=epochs)
    if cfg.epochs * per_epoch < FEW_STEPS and not cfg.time_limit:
        log.warning("only %d optimiser steps (%d training samples, batch %d, %g epochs): too few to train a model; "
                    "raise `epochs` or set `min_steps`", math.ceil(cfg.epochs * per_epoch), n, cfg.batch_size,
                    cfg.epochs)
    return cfg


def current_lr(cfg: TrainConfig, step: int, total: int, seconds: float) -> float:
    """The learning rate of optimiser step ``step`` of ``total``: the schedule runs over the steps, or, with a time
    limit, over the elapsed training ``seconds`` (at a resolution of ``TIME_STEPS``)."""
    if not cfg.time_limit:
        return learning_rate(cfg, step, total)
    return learning_rate(cfg, int(seconds / cfg.time_limit * TIME_STEPS), TIME_STEPS)


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
