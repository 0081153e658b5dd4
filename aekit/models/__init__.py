"""The one table that maps model names to (config class, module class)."""

from __future__ import annotations

import torch

from aekit.models.base import Autoencoder, config_from_dict, config_to_dict
from aekit.models.compress import CompressConfig, CompressiveAutoencoder
from aekit.models.conv import ConvAutoencoder, ConvConfig
from aekit.models.dense import DenseAutoencoder, DenseConfig
from aekit.models.swap import SwapAutoencoder, SwapConfig
from aekit.models.vae import VAE, VAEConfig
from aekit.models.vq import VQVAE, VQConfig

MAX_PARAMETERS = 1 << 31  # 8 GB of float32 weights: a config beyond this (say, a hostile config.json) is refused

MODELS: dict[str, tuple[type, type[Autoencoder]]] = {
    "dense": (DenseConfig, DenseAutoencoder),
    "conv": (ConvConfig, ConvAutoencoder),
    "vae": (VAEConfig, VAE),
    "vq": (VQConfig, VQVAE),
    "swap": (SwapConfig, SwapAutoencoder),
    "compress": (CompressConfig, CompressiveAutoencoder),
}


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


__all__ = ["MODELS", "Autoencoder", "build_model", "model_name", "DenseConfig", "DenseAutoencoder", "ConvConfig",
           "ConvAutoencoder", "VAEConfig", "VAE", "VQConfig", "VQVAE",
           "SwapConfig", "SwapAutoencoder", "CompressConfig", "CompressiveAutoencoder"]


def config_fields(name: str) -> set[str]:
    """The config field names of model ``name``: what it can be told (e.g. ``hidden`` widths, conv ``channels``)."""
    import dataclasses

    return {f.name for f in dataclasses.fields(MODELS[name][0])}
