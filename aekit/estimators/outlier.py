"""AutoencoderOutlierDetector: an autoencoder as a scikit-learn outlier detector (fit, score_samples, predict).

Fitted on normal data, the autoencoder reconstructs normal inputs well; the anomaly score of an input is its
reconstruction error (1 - local SSIM for images, mean squared error for table rows, see ``aekit.apps.anomaly``).
Following scikit-learn's detectors (IsolationForest): ``score_samples`` is the negated anomaly score (higher is more
normal), ``decision_function = score_samples - offset_`` (negative for outliers) and ``predict`` gives +1 for inliers
and -1 for outliers.

    det = AutoencoderOutlierDetector(epochs=20).fit(x_normal)        # (n, features) tables, or images (n, H, W[, C])
    det.predict(x_new)                                                # +1 / -1
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from aekit.apps.anomaly import anomaly_scores
from aekit.data import Normalizer
from aekit.errors import AekitError
from aekit.models import build_model, config_fields
from aekit.training.config import TrainConfig
from aekit.training.loop import train

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, X, reset=True, **kw):
        return est._validate_data(X, reset=reset, **kw)


class AutoencoderOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detection by autoencoder reconstruction error.

    Parameters
    ----------
    model : "dense" or "conv". "conv" needs images (pass (n, H, W[, C]) arrays or ``image_shape``).
    code_size : width of the code; a narrow code keeps the model from reconstructing everything.
    hidden : hidden widths of a dense model's encoder (the decoder mirrors them); ignored by "conv".
    epochs, batch_size, lr : training (Adam, 2% warm-up and cosine decay, aekit's one training loop).
    min_steps : train at least this many optimiser steps (more epochs on small data); 0 turns it off. Kept low: an
        autoencoder trained long on a small table learns to rebuild the anomalies too (one seed of scikit-learn's
        breast-cancer table, malignant as anomalies: AUROC 0.90 after 60 steps, 0.82 after 1,000).
    metric : the anomaly score: "auto" (SSIM for images, MSE for tables), "ssim" or "mse".
    image_shape : (H, W) or (H, W, C) to read flat rows of X as images; None: images only when X has 3 or 4 dims.
    contamination : "auto" or the expected share of outliers in the training data, in (0, 0.5]. With a number,
        ``offset_`` is that percentile of the training scores; with "auto", Tukey's fence on the training anomaly
        scores, Q3 + 1.5 * IQR (a box plot's whisker): an input is an outlier when its error lies beyond it.
    random_state : seed for initialisation and data order (None: a fresh seed each fit).
    device : where the network trains and runs ("cpu", "cuda", ...).
    verbose : show training progress.

    Attributes
    ----------
    net_ : the fitted aekit model; input_shape_ : its sample shape; n_features_in_ : features seen in fit;
    low_, high_ : per-feature (tables) or global (images) scaling into [0, 1]; metric_ : the resolved metric;
    offset_ : the threshold on ``score_samples``.
    """

    _parameter_constraints: dict = {
        "model": [StrOptions({"dense", "conv"})],
        "code_size": [Interval(Integral, 1, None, closed="left")],
        "hidden": ["array-like"],
        "epochs": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "metric": [StrOptions({"auto", "ssim", "mse"})],
        "image_shape": [None, tuple, list],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["boolean"],
    }

    def __init__(self, model="dense", code_size=16, hidden=(512, 256), epochs=20, batch_size=64, lr=2e-3,
                 min_steps=100, metric="auto", image_shape=None, contamination="auto", random_state=None, device="cpu",
                 verbose=False):
        self.model = model
        self.code_size = code_size
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_steps = min_steps
        self.metric = metric
        self.image_shape = image_shape
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # --- data -------------------------------------------------------------------------------------------------
    def _sample_shape(self, X: np.ndarray) -> tuple[int, ...]:
        """Model-space shape of one sample: (C, H, W) for images, (D,) for tables."""
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if len(shape) not in (2, 3) or min(shape) < 1 or int(np.prod(shape)) != X.shape[1]:
                raise ValueError(f"image_shape {self.image_shape} does not hold the {X.shape[1]} features of X")
            return (1, *shape) if len(shape) == 2 else (shape[2], shape[0], shape[1])
        if X.ndim == 2:
            return (X.shape[1],)
        if X.ndim == 3:
            return (1, X.shape[1], X.shape[2])
        if X.ndim == 4 and X.shape[3] in (1, 3):
            return (X.shape[3], X.shape[1], X.shape[2])
        raise ValueError(f"expected (n, features) or images (n, H, W[, C]) with C 1 or 3, got shape {X.shape}")

    def _to_model_space(self, X: np.ndarray) -> torch.Tensor:
        """Scale X into [0, 1] with the fitted bounds and lay it out as (n, *input_shape_) float32."""
        flat = X.reshape(len(X), -1).astype(np.float64)
        z = (flat - self.low_) / (self.high_ - self.low_)
        c, *hw = self.input_shape_
        if hw:  # images: channels last in the input, first in the model; clipped to the image range
            z = np.clip(z, 0, 1).reshape(len(X), *hw, c).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))

    def _check(self, X, reset: bool) -> np.ndarray:
        X = _validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float64, np.float32])
        if X.ndim > 4:
            raise ValueError(f"expected (n, features) or images (n, H, W[, C]), got shape {X.shape}")
        return X

    # --- scikit-learn API -------------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train the autoencoder on X (normal data; ``y`` is ignored) and set the decision threshold."""
        self._validate_params()
        X = self._check(X, reset=True)
        self.input_shape_ = self._sample_shape(X)
        images = len(self.input_shape_) == 3
        fields = config_fields(self.model)
        if "channels" in fields and not images:  # a convolutional model
            raise ValueError(f"model {self.model!r} needs images: pass (n, H, W[, C]) arrays or image_shape")
        flat = X.reshape(len(X), -1)
        if images:  # one scale for every pixel: [0, 1] data as it is, else 0..255 or the data's own range
            lo, hi = float(min(flat.min(), 0.0)), float(flat.max())
            hi = 1.0 if hi <= 1 and lo >= 0 else (255.0 if hi <= 255 and lo >= 0 else hi)
            self.low_, self.high_ = np.full(flat.shape[1], lo), np.full(flat.shape[1], max(hi, lo + 1e-12))
        else:  # per-column min-max, as aekit's Normalizer does for tables
            columns = Normalizer.columns(flat)
            self.low_, self.high_ = columns.low, columns.high
        self.metric_ = "ssim" if (self.metric == "auto" and images) else ("mse" if self.metric == "auto" else self.metric)
        if self.metric_ == "ssim" and not images:
            raise ValueError("metric 'ssim' needs images: pass (n, H, W[, C]) arrays or image_shape")
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        config = {"input_shape": self.input_shape_, "code_size": int(self.code_size)}
        if "hidden" in fields:  # a fully connected model
            config["hidden"] = tuple(int(h) for h in self.hidden)
        else:
            config.update(channels=(32, 64), blocks_per_stage=2, norm="batch", activation="silu")
        cfg = TrainConfig(epochs=float(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                          min_steps=int(self.min_steps), schedule="cosine", warmup=0.02, eps=1e-8, seed=seed, device=self.device)
        xt = self._to_model_space(flat)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
            torch.manual_seed(seed)
            self.net_ = build_model(self.model, config)
            try:
                train(self.net_, xt, cfg, progress=bool(self.verbose))
            except AekitError as e:  # a bad device, a model too big for it: scikit-learn's ValueError
                raise ValueError(str(e)) from None
        self.net_.to("cpu").double().eval()  # scores in float64: the same for a sample in any batch, any order
        train_scores = self._anomaly(xt)
        if self.contamination == "auto":
            q1, q3 = np.percentile(train_scores, [25, 75])
            self.offset_ = -float(q3 + 1.5 * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(-train_scores, 100.0 * self.contamination))
        return self

    def _anomaly(self, xt: torch.Tensor) -> np.ndarray:
        with torch.random.fork_rng(devices=[]):
            return anomaly_scores(self.net_, xt.double(), self.metric_)

    def score_samples(self, X) -> np.ndarray:
        """Negated anomaly scores: the lower, the more abnormal."""
        check_is_fitted(self)
        X = self._check(X, reset=False)
        return -self._anomaly(self._to_model_space(X.reshape(len(X), -1)))

    def decision_function(self, X) -> np.ndarray:
        """score_samples(X) - offset_: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)


__all__ = ["AutoencoderOutlierDetector"]
