"""aekit's models: a config dataclass and an ``nn.Module`` per model name (``MODELS``), built by ``build_model``.

The configs (``aekit.models.configs``) import no torch; the names below load their module, and PyTorch, on first
use, so that reading or validating a config does not.
"""

from importlib import import_module

_EXPORTS = {  # public name -> the module that defines it
    "MODELS": "aekit.models.registry", "MAX_PARAMETERS": "aekit.models.registry",
    "build_model": "aekit.models.registry", "model_name": "aekit.models.registry",
    "config_fields": "aekit.models.registry",
    "Autoencoder": "aekit.models.base",
    "DenseConfig": "aekit.models.configs", "ConvConfig": "aekit.models.configs", "VAEConfig": "aekit.models.configs",
    "VQConfig": "aekit.models.configs", "SwapConfig": "aekit.models.configs", "CompressConfig": "aekit.models.configs",
    "DenseAutoencoder": "aekit.models.dense", "ConvAutoencoder": "aekit.models.conv", "VAE": "aekit.models.vae",
    "VQVAE": "aekit.models.vq", "SwapAutoencoder": "aekit.models.swap", "CompressiveAutoencoder": "aekit.models.compress",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'aekit.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
