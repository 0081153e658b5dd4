"""aekit's models: a config dataclass and an ``nn.Module`` per model name (``MODELS``), built by ``build_model``.

The configs (``aekit.models.configs``) import no torch; the names below load their module, and PyTorch, on first
use, so that reading or validating a config does not.
"""

from aekit._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
