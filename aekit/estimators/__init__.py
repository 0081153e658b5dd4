"""scikit-learn estimators built on aekit models: a transformer (codes) and an outlier detector, each usable in
Pipeline and GridSearchCV and checked with scikit-learn's own check_estimator."""

from aekit.estimators.outlier import AutoencoderOutlierDetector
from aekit.estimators.transformer import AutoencoderTransformer

__all__ = ["AutoencoderOutlierDetector", "AutoencoderTransformer"]
