"""aekit: autoencoders as practical tools.

    import aekit
    ae = aekit.build("dense", code_size=32)   # the article's 784-128-32-128-784 autoencoder
    ae.fit(x_train, epochs=3)
    x_hat = ae.reconstruct(x_test)
    ae.save("runs/mine"); ae = aekit.load("runs/mine")
"""

__version__ = "0.1.0"

from .api import Model, build, load  # noqa: E402
from .data import Dataset, Normalizer, load_dataset  # noqa: E402
from .errors import AekitError  # noqa: E402
from .models import MODELS, build_model  # noqa: E402
from .train import TrainConfig, train  # noqa: E402

__all__ = ["Model", "build", "load", "load_dataset", "Dataset", "Normalizer", "AekitError", "MODELS", "build_model",
           "TrainConfig", "train", "AutoencoderTransformer", "AutoencoderOutlierDetector", "__version__"]

_ESTIMATORS = ("AutoencoderTransformer", "AutoencoderOutlierDetector")


def __getattr__(name: str):
    """The scikit-learn estimators, imported on first use (``aekit.AutoencoderTransformer``)."""
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'aekit' has no attribute {name!r}")
