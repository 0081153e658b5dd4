"""``TrainConfig``: every option of the one training loop, checked on creation. Torch-free, so that reading a
recipe (a run's config.json, a TOML file, ``aekit train --help``) does not load PyTorch.

A field made with ``_option`` is also an option of ``aekit train``: its metadata holds the help text (another
option is named as its field name in backticks, e.g. `val_fraction`), and, where they apply, ``choices``,
``metavar`` and ``zero`` (what the value 0 means, e.g. "off"). The command line builds its options from these.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from dataclasses import field

from aekit.models.config_parts import flat_config

OPTIMIZERS = ("adam", "adamw", "muon")
PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("constant", "cosine", "linear")
NOISES = ("none", "gaussian", "salt_pepper", "mask")
GAN_LOSSES = ("nonsaturating", "hinge")  # the kinds aekit.models.discriminator's losses compute

_TYPE_NAMES = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text"}


def _option(default, help: str, **cli):
    """A field that is also a command-line option: ``help`` and the option's ``cli`` details in its metadata."""
    return field(default=default, metadata={"help": help, **cli})


def check_noise(kind: str, strength: float) -> None:
    """Validate a noise setting (ValueError with one line)."""
    if kind not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}, got {kind!r}")
    if strength < 0 or (kind in ("salt_pepper", "mask") and strength > 1):
        raise ValueError(f"noise strength for {kind} must be in [0, 1], got {strength}")


def check_augment(rotate: float, scale: float, shift: float, elastic: float, p: float) -> None:
    """Validate augmentation strengths (ValueError with one line)."""
    if not (0 <= rotate <= 180 and 0 <= scale < 1 and 0 <= shift < 1 and elastic >= 0 and 0 <= p <= 1):
        raise ValueError("augmentation needs rotate in [0, 180] degrees, scale and shift in [0, 1), elastic >= 0 "
                         f"pixels and p in [0, 1]; got rotate={rotate}, scale={scale}, shift={shift}, "
                         f"elastic={elastic}, p={p}")


def active(rotate: float, scale: float, shift: float, elastic: float, p: float) -> bool:
    """Whether these augmentation settings distort anything."""
    return bool((rotate or scale or shift or elastic) and p)


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


class Optimiser:
    """How each step moves the weights."""

    optimizer: str = _option("adam", "optimiser; muon: Muon for weight matrices and conv kernels, Adam for biases "
                             "and norms, one lr", choices=OPTIMIZERS)
    lr: float = _option(1e-3, "peak learning rate")
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-7  # Keras's Adam default (PyTorch's is 1e-8)
    weight_decay: float = _option(0.0, "weight decay")
    grad_clip: float = _option(0.0, "clip gradient norm", zero="off")

    def _check_optimiser(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {tuple(self.betas)}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")


class Schedule:
    """How long training lasts and how the learning rate moves over it."""

    epochs: float = _option(3, "passes over the data")  # a fraction trains part of the last pass
    schedule: str = _option("constant", "learning-rate decay", choices=SCHEDULES)  # the decay after warm-up
    warmup: float = _option(0.0, "fraction of steps for linear warm-up")  # from zero up to lr
    final_lr: float = 0.0  # learning rate at the end of a cosine or linear schedule, as a fraction of lr
    # time_limit: warm-up and decay follow the elapsed share of the time instead of the step count
    time_limit: float = _option(0.0, "stop after this many seconds of training, the schedule following the clock; "
                                "`epochs` is then a cap", zero="off")
    # min_steps: small datasets give few steps per epoch; raise epochs until the run takes at least this many
    min_steps: int = _option(0, "train at least this many optimiser steps: more epochs on small data", zero="off")

    def _check_schedule(self) -> None:
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.final_lr < 0:
            raise ValueError(f"final_lr must be >= 0, got {self.final_lr}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must lie in [0, 1), got {self.warmup}")
        if self.time_limit < 0:
            raise ValueError(f"time_limit must be >= 0 seconds, got {self.time_limit}")
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be >= 0, got {self.min_steps}")

    def epochs_for(self, per_epoch: int) -> float:
        """``epochs``, raised so that ``per_epoch`` steps an epoch make at least ``min_steps`` steps."""
        if self.min_steps and self.epochs * per_epoch < self.min_steps:
            return float(math.ceil(self.min_steps / per_epoch))
        return self.epochs


class Noise:
    """Denoising: what corrupts the inputs (the clean images stay the targets)."""

    noise: str = _option("none", "denoising: corrupt inputs, reconstruct the clean ones", choices=NOISES)
    noise_strength: float = _option(0.5, "Gaussian sigma or corrupted fraction")  # for salt_pepper and mask
    # noise_max: a blind denoiser: each image's strength drawn uniformly from [noise_strength, noise_max]
    noise_max: float = _option(0.0, "blind denoising: each image's strength drawn between `noise_strength` and this",
                               zero="one strength")

    def noise_range(self) -> tuple[float, float]:
        """The strengths the inputs are corrupted with: (low, high), equal for one strength."""
        return self.noise_strength, max(self.noise_strength, self.noise_max)

    def _check_noise(self) -> None:
        check_noise(self.noise, self.noise_strength)
        if self.noise_max:
            if self.noise == "none":
                raise ValueError("noise_max needs a kind of `noise`")
            check_noise(self.noise, self.noise_max)
            if self.noise_max < self.noise_strength:
                raise ValueError(f"noise_max ({self.noise_max}) must be at least noise_strength ({self.noise_strength})")


class Augment:
    """Image models: random distortions of each training image (``aekit.training.augment``), before any noise:
    rotation (degrees), zoom (fraction), shift (fraction of the side), elastic displacement (pixels RMS) and the
    share of images distorted; all 0: off."""

    augment_rotate: float = 0.0
    augment_scale: float = 0.0
    augment_shift: float = 0.0
    augment_elastic: float = 0.0
    augment_p: float = 1.0

    def _check_augment(self) -> None:
        check_augment(*self.augmentation())

    def augmentation(self) -> tuple[float, float, float, float, float]:
        """(rotate, scale, shift, elastic, p): the arguments of ``aekit.training.augment.augment``."""
        return self.augment_rotate, self.augment_scale, self.augment_shift, self.augment_elastic, self.augment_p

    def augments(self) -> bool:
        """Whether training distorts its images at all."""
        return active(*self.augmentation())


class Adversarial:
    """The adversarial decoder: a critic with its own optimiser, and the weight of its GAN term."""

    adversarial: float = _option(0.0, "weight of the adversarial decoder's GAN term", zero="off")
    adv_loss: str = _option("nonsaturating", "GAN loss", choices=GAN_LOSSES)
    adv_start: int = _option(0, "first epoch (0-based) with the critic on")  # and with the GAN term
    disc_lr: float = 2e-4  # the critic's learning rate (Adam, betas 0.5/0.999)
    disc_channels: tuple[int, ...] = _option((32, 64), "the critic's widths, one stride-2 conv each; three stages "
                                             "see a whole 28x28 image", metavar="W,W")

    def _check_adversarial(self) -> None:
        if self.adversarial < 0 or self.adv_loss not in GAN_LOSSES or self.adv_start < 0 or self.disc_lr <= 0:
            raise ValueError(f"adversarial weight >= 0, adv_loss in {GAN_LOSSES}, adv_start >= 0 and disc_lr > 0")


GROUPS = (Optimiser, Schedule, Noise, Augment, Adversarial)


@flat_config
class TrainConfig(Optimiser, Schedule, Noise, Augment, Adversarial):
    """Every option of the one training loop: its own (batch, validation, seed, device, checkpoints, precision,
    averaging, compilation) and those of its groups (``Optimiser``, ``Schedule``, ``Noise``, ``Augment``,
    ``Adversarial``), each group declared and checked once. The fields stay flat, in ``FIELDS``' order: the keys
    of a run's config.json "train" object, of a TOML file's [train] table and the order of ``aekit train``'s
    options."""

    FIELDS = ("epochs", "batch_size", "optimizer", "lr", "betas", "eps", "weight_decay", "schedule", "warmup",
              "final_lr", "min_steps", "val_fraction", "patience", "grad_clip", "seed", "device", "checkpoint_every",
              "noise", "noise_strength", "noise_max", "augment_rotate", "augment_scale", "augment_shift",
              "augment_elastic", "augment_p", "adversarial", "adv_loss", "adv_start", "disc_lr", "disc_channels",
              "balance", "precision", "channels_last", "ema", "compile", "tensorboard", "time_limit")

    batch_size: int = _option(32, "global batch size")  # split across processes under torchrun
    val_fraction: float = _option(0.0, "held-out share for validation")  # of the training data
    patience: int = _option(0, "early-stopping patience in epochs, needs `val_fraction`")  # 0: off
    seed: int = _option(0, "random seed")  # seeds data order, initialisation and any sampling
    device: str = _option("auto", "auto, cpu, cuda, cuda:N or mps")
    checkpoint_every: int = _option(0, "also checkpoint every N steps", zero="epoch ends")
    balance: str = ""  # name of an integer side tensor (e.g. "domain"): every batch draws equally from its values
    # bf16: forward passes under bfloat16 autocast; weights, optimiser and loss stay fp32
    precision: str = _option("fp32", "bf16: bfloat16 autocast forward", choices=PRECISIONS)
    channels_last: bool = _option(False, "NHWC layout while training image models")  # faster convs on the CPU
    # ema: the saved weights, validation and on_epoch all use the average (0.999 averages ~1000 steps)
    ema: float = _option(0.0, "keep an exponential moving average of the weights and make it the trained model, "
                         "e.g. 0.999", metavar="DECAY", zero="off")
    # compile: PyTorch's Inductor (on the CPU it needs a C++ compiler); its compile time counts as training time
    compile: bool = _option(False, "torch.compile the forward pass: faster steps after a compile of tens of "
                            "seconds")
    # tensorboard: a run trained by Run.create (and so resumed) also gets a TensorBoard log in its folder
    # (aekit.runs.tensorboard_log, an observer of the loop; the `tensorboard` extra); the loop itself does not read it
    tensorboard: bool = False

    def __post_init__(self):
        for f in dataclasses.fields(self):  # values from TOML/JSON: a wrong type gets a clear message, not a crash later
            if not _has_type(getattr(self, f.name), f.type):
                raise ValueError(f"{f.name} must be {_TYPE_NAMES.get(f.type, 'a list of numbers')}, "
                                 f"got {getattr(self, f.name)!r}")
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        numbers.update({f"betas[{i}]": b for i, b in enumerate(self.betas)})
        if bad := [k for k, v in numbers.items() if isinstance(v, float) and not math.isfinite(v)]:
            raise ValueError(f"{', '.join(bad)} must be finite")
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        self._check_schedule()
        self._check_optimiser()
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.patience and not self.val_fraction:
            raise ValueError("early stopping (patience) needs a validation split (val_fraction > 0)")
        self._check_noise()
        self._check_augment()
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must lie in [0, 1), got {self.ema}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        self._check_adversarial()

    def group(self, kind: type) -> dict:
        """The values of one group's fields, e.g. ``cfg.group(Optimiser)`` -> {"optimizer": ..., "lr": ...}."""
        return {name: getattr(self, name) for name in inspect.get_annotations(kind)}


def train_config_from_dict(data: dict) -> TrainConfig:
    """A TrainConfig from JSON/TOML data, refusing unknown keys."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown training options: {sorted(unknown)}")
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
