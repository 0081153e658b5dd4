"""The one table that maps model names to (config class, module class), and ``build_model``."""

from __future__ import annotations

import dataclasses

import torch

from aekit.models.base import Autoencoder, config_from_dict, config_to_dict
from aekit.models.compress import CompressiveAutoencoder
from aekit.models.configs import CONFIGS
from aekit.models.conv import ConvAutoencoder
from aekit.models.dense import DenseAutoencoder
from aekit.models.swap import SwapAutoencoder
from aekit.models.vae import VAE
from aekit.models.vq import VQVAE

MAX_PARAMETERS = 1 << 31  # 8 GB of float32 weights: a config beyond this (say, a hostile config.json) is refused

MODULES: dict[str, type[Autoencoder]] = {"dense": DenseAutoencoder, "conv": ConvAutoencoder, "vae": VAE,
                                         "vq": VQVAE, "swap": SwapAutoencoder, "compress": CompressiveAutoencoder}
MODELS: dict[str, tuple[type, type[Autoencoder]]] = {name: (CONFIGS[name], MODULES[name]) for name in CONFIGS}


def model_name(model: Autoencoder) -> str:
    """The table name of a model instance."""
    for name, (_, cls) in MODELS.items():
        if type(model) is cls:
            return name
    raise KeyError(f"{type(model).__name__} is not in aekit.models.MODELS")


def build_model(name: str, config: dict | object | None = None, limit: int = MAX_PARAMETERS,
                **overrides) -> Autoencoder:
    """Build a model by table name from a config dataclass, a dict, or keyword overrides; one of more than
    ``limit`` weights is refused before anything is allocated."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    cfg_cls, model_cls = MODELS[name]
    if config is None or isinstance(config, dict):
        data = {**(config or {}), **overrides}
        cfg = config_from_dict(cfg_cls, data)
    else:
        cfg = config_from_dict(cfg_cls, {**config_to_dict(config), **overrides}) if overrides else config
    with torch.device("meta"):  # shapes only, no memory: the size is known before anything is allocated
        shapes = model_cls(cfg)
    size = sum(t.numel() for t in (*shapes.parameters(), *shapes.buffers()))
    if size > limit:
        raise ValueError(f"this {name} config makes a model of {size:,} weights (limit {limit:,})")
    return model_cls(cfg)


def config_fields(name: str) -> set[str]:
    """The config field names of model ``name``: what it can be told (e.g. ``hidden`` widths, conv ``channels``)."""
    return {f.name for f in dataclasses.fields(MODELS[name][0])}
