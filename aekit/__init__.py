"""aekit: autoencoders as practical tools.

    import aekit
    ae = aekit.build("dense", code_size=32)   # the article's 784-128-32-128-784 autoencoder
    ae.fit(x_train, epochs=3)
    x_hat = ae.reconstruct(x_test)
    ae.save("runs/mine"); ae = aekit.load("runs/mine")

    run = aekit.Run.open("runs/mine")        # a run folder: its model, data scaling, dataset and fingerprint

Names are imported on first use, so that ``import aekit`` (and ``aekit --help``) does not load PyTorch.
"""

from aekit._lazy import lazy_exports
from aekit._version import __version__

_EXPORTS = {  # public name -> the module that defines it
    "Model": "aekit.api", "build": "aekit.api", "load": "aekit.api",
    "Dataset": "aekit.data", "Normalizer": "aekit.data", "load_dataset": "aekit.data",
    "AekitError": "aekit.errors",
    "MODELS": "aekit.models", "build_model": "aekit.models",
    "Run": "aekit.runs", "RunConfig": "aekit.runs",
    "train": "aekit.runs.writer", "TrainConfig": "aekit.training.config",
    "AutoencoderTransformer": "aekit.estimators", "AutoencoderOutlierDetector": "aekit.estimators",
}

__all__ = [*_EXPORTS, "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
