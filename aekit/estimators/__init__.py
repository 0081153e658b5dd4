"""scikit-learn estimators built on aekit models: fit/transform objects that work in Pipeline and GridSearchCV."""

from .transformer import AutoencoderTransformer

__all__ = ["AutoencoderTransformer"]
