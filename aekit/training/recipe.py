"""The training recipe: ``TrainConfig`` (every option of the one loop), its learning-rate schedule and optimiser."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import torch

from aekit.models.discriminator import GAN_LOSSES
from aekit.training.augment import active, check_augment
from aekit.training.noise import check_noise

OPTIMIZERS = ("adam", "adamw", "muon")
PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("constant", "cosine", "linear")


_TYPE_NAMES = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text"}


def _has_type(value, annotation: str) -> bool:
    """Whether a TrainConfig value fits its field's annotation (ints count as floats, bools as neither)."""
    if annotation == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if annotation == "int":
        return isinstance(value, numbers.Integral)
    if annotation == "float":
        return isinstance(value, numbers.Real)
    if annotation == "str":
        return isinstance(value, str)
    kind = float if "float" in annotation else int
    return isinstance(value, (tuple, list)) and all(_has_type(v, kind.__name__) for v in value)


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 3  # passes over the training set; a fraction trains part of the last one
    batch_size: int = 32  # global batch, split across processes under torchrun
    optimizer: str = "adam"  # "adam", "adamw" or "muon" (Muon for weight matrices and kernels, Adam for the rest)
    lr: float = 1e-3  # peak learning rate
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-7  # Keras's Adam default (PyTorch's is 1e-8)
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant", "cosine" or "linear" decay after warm-up
    warmup: float = 0.0  # fraction of all steps spent ramping the learning rate up from zero
    final_lr: float = 0.0  # learning rate at the end of a cosine or linear schedule, as a fraction of lr
    val_fraction: float = 0.0  # share of the training data held out for validation
    patience: int = 0  # early stopping: epochs without validation improvement (0: off)
    grad_clip: float = 0.0  # clip the gradient norm to this (0: off)
    seed: int = 0  # seeds data order, initialisation and any sampling
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0: epoch ends only)
    noise: str = "none"  # denoising: corrupt inputs with "gaussian", "salt_pepper" or "mask"; targets stay clean
    noise_strength: float = 0.5  # Gaussian sigma, or the corrupted fraction for salt_pepper and mask
    augment_rotate: float = 0.0  # image models: random distortions of each training image (aekit.training.augment), before any
    augment_scale: float = 0.0  # noise: rotation (degrees), zoom (fraction), shift (fraction of the side), elastic
    augment_shift: float = 0.0  # displacement (pixels RMS) and the share of images distorted; all 0: off
    augment_elastic: float = 0.0
    augment_p: float = 1.0
    adversarial: float = 0.0  # weight of the adversarial decoder's GAN term (0: off)
    adv_loss: str = "nonsaturating"  # "nonsaturating" or "hinge"
    adv_start: int = 0  # first epoch (0-based) with the critic and the GAN term on
    disc_lr: float = 2e-4  # the critic's learning rate (Adam, betas 0.5/0.999)
    disc_channels: tuple[int, ...] = (32, 64)  # the critic's widths
    balance: str = ""  # name of an integer side tensor (e.g. "domain"): every batch draws equally from its values
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (weights, optimiser and loss stay fp32)
    channels_last: bool = False  # image models: NHWC weights and batches while training (faster convs on the CPU)
    ema: float = 0.0  # decay of an exponential moving average of the weights, which becomes the trained model: the
    #                   saved weights, validation and on_epoch all use it (0: off; 0.999 averages ~1000 steps)
    compile: bool = False  # torch.compile the model's forward pass (PyTorch's Inductor; on the CPU it needs a C++
    #                        compiler); its compile time counts as training time
    time_limit: float = 0.0  # seconds: stop once this much training time is spent, the schedule (warm-up and decay)
    #                          following the elapsed share of it instead of the step count; epochs is then a cap (0: off)

    def __post_init__(self):
        for f in dataclasses.fields(self):  # values from TOML/JSON: a wrong type gets a clear message, not a crash later
            if not _has_type(getattr(self, f.name), f.type):
                raise ValueError(f"{f.name} must be {_TYPE_NAMES.get(f.type, 'a list of numbers')}, "
                                 f"got {getattr(self, f.name)!r}")
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        numbers.update({f"betas[{i}]": b for i, b in enumerate(self.betas)})
        if bad := [k for k, v in numbers.items() if isinstance(v, float) and not math.isfinite(v)]:
            raise ValueError(f"{', '.join(bad)} must be finite")
        if self.epochs <= 0 or self.batch_size <= 0 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {tuple(self.betas)}")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.final_lr < 0:
            raise ValueError("weight_decay, grad_clip and final_lr must be >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 <= self.val_fraction < 1 or not 0 <= self.warmup < 1:
            raise ValueError("val_fraction and warmup must lie in [0, 1)")
        if self.patience and not self.val_fraction:
            raise ValueError("early stopping (patience) needs a validation split (val_fraction > 0)")
        check_noise(self.noise, self.noise_strength)
        check_augment(*self.augmentation())
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must lie in [0, 1), got {self.ema}")
        if self.time_limit < 0:
            raise ValueError(f"time_limit must be >= 0 seconds, got {self.time_limit}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.adversarial < 0 or self.adv_loss not in GAN_LOSSES or self.adv_start < 0 or self.disc_lr <= 0:
            raise ValueError(f"adversarial weight >= 0, adv_loss in {GAN_LOSSES}, adv_start >= 0 and disc_lr > 0")

    def augmentation(self) -> tuple[float, float, float, float, float]:
        """(rotate, scale, shift, elastic, p): the arguments of ``aekit.training.augment.augment``."""
        return self.augment_rotate, self.augment_scale, self.augment_shift, self.augment_elastic, self.augment_p

    def augments(self) -> bool:
        """Whether training distorts its images at all."""
        return active(*self.augmentation())


def train_config_from_dict(data: dict) -> TrainConfig:
    """A TrainConfig from JSON/TOML data, refusing unknown keys."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown training options: {sorted(unknown)}")
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


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
