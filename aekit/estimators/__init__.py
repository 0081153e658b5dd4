"""scikit-learn-style estimators built on aekit's autoencoders."""

from .outlier import AutoencoderOutlierDetector

__all__ = ["AutoencoderOutlierDetector"]
