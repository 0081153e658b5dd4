"""``AutoencoderTransformer``: an autoencoder as a scikit-learn transformer for dimensionality reduction.

    from aekit.estimators import AutoencoderTransformer
    ae = AutoencoderTransformer(n_components=2, neighbor_weight=1.0)   # a 2-D map that keeps neighbours
    codes = ae.fit_transform(X)                                        # (n_samples, 2)
    X_back = ae.inverse_transform(codes)                               # (n_samples, n_features), X's units

Like ``sklearn.decomposition.PCA``: ``__init__`` only stores parameters, ``fit`` validates and sets attributes with a
trailing underscore, ``transform`` encodes, ``inverse_transform`` decodes, ``score`` is the negative reconstruction
error (higher is better, so ``GridSearchCV`` can choose code sizes and options). Inside, it is an ``aekit.Model``
(the Python API) trained by aekit's one training loop; inputs are scaled into [0, 1] as it fits and the scaling is
inverted on the way out. Images can be passed flat, e.g. (n, 784), with ``input_shape=(1, 28, 28)``: a conv model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit.api import Model, build
from aekit.data import Normalizer
from aekit.errors import AekitError
from aekit.models import config_fields

SCALINGS = ("auto", "column", "global", "none")
FLOATS = [np.float64, np.float32]


def _scaling(x: np.ndarray, kind: str) -> Normalizer:
    """How rows map into [0, 1]: per column min-max, one min-max for every value (images), or none."""
    d = x.shape[1]
    if kind == "none":
        if x.min() < 0 or x.max() > 1:
            raise ValueError("scaling='none' needs values in [0, 1]")
        low, high = np.zeros(d), np.ones(d)
    elif kind == "global":
        lo, hi = float(x.min()), float(x.max())
        low, high = np.full(d, lo), np.full(d, hi if hi > lo else lo + 1.0)
    else:
        return Normalizer.columns(x)
    return Normalizer(kind="table", low=low, high=high)


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality reduction with an autoencoder: codes of size ``n_components``.

    Parameters: ``n_components`` (code size); ``model`` ("auto": conv for a 3-D ``input_shape``, else dense; or
    "dense"/"conv"); ``input_shape`` (shape one flat row stands for, e.g. (1, 28, 28)); ``hidden`` (dense widths);
    ``neighbor_weight`` (weight of the neighbour-preserving parametric-UMAP term, 0 = off) and ``neighbors`` (its k);
    ``scaling`` ("auto": "none" for values already in [0, 1], else "global" (one min-max for all features) with an
    ``input_shape``, else "column" (min-max per feature); "none" needs values in [0, 1]);
    ``epochs``, ``batch_size``, ``lr``; ``min_steps`` (at least this many optimiser steps: more epochs on small data,
    0 = off); ``model_options`` / ``train_options`` (other config fields of the model and
    of ``aekit.TrainConfig``); ``random_state`` (seeds initialisation and data order: same seed, same codes on the
    CPU); ``device``; ``verbose`` (a progress bar).

    Fitted attributes: ``model_`` (the ``aekit.Model``; ``model_.save(path)`` writes a run folder),
    ``n_features_in_``, ``n_components_``, ``history_`` (per-epoch training losses).
    """

    def __init__(self, n_components=2, *, model="auto", input_shape=None, hidden=(256, 128), neighbor_weight=0.0,
                 neighbors=15, scaling="auto", epochs=20, batch_size=128, lr=1e-3, min_steps=1000,
                 model_options=None,
                 train_options=None, random_state=None, device="cpu", verbose=False):
        self.n_components = n_components
        self.model = model
        self.input_shape = input_shape
        self.hidden = hidden
        self.neighbor_weight = neighbor_weight
        self.neighbors = neighbors
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_steps = min_steps
        self.model_options = model_options
        self.train_options = train_options
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # --- fitting ---------------------------------------------------------------------------------------------
    def _model_name(self) -> str:
        if self.model not in ("auto", "dense", "conv"):
            raise ValueError(f"model must be 'auto', 'dense' or 'conv', got {self.model!r}")
        if self.model != "auto":
            return self.model
        return "conv" if self.input_shape is not None and len(self.input_shape) == 3 else "dense"

    def _config(self, name: str, n_features: int) -> dict:
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        shape = tuple(int(s) for s in self.input_shape) if self.input_shape is not None else (n_features,)
        if math.prod(shape) != n_features:
            raise ValueError(f"input_shape {shape} holds {math.prod(shape)} values, X has {n_features} features")
        fields = config_fields(name)
        if "channels" in fields and len(shape) != 3:  # a convolutional model
            raise ValueError(f"model={name!r} needs input_shape=(channels, height, width)")
        config = {"input_shape": shape, "code_size": int(self.n_components), "code_activation": "identity",
                  "neighbor_weight": float(self.neighbor_weight), "neighbors": int(self.neighbors)}
        if "hidden" in fields:  # a fully connected model
            config["hidden"] = tuple(int(h) for h in self.hidden)
        else:  # batch norm + SiLU converged fastest for conv autoencoders (benchmarks/recon.py)
            config.update(norm="batch", activation="silu")
        options = dict(self.model_options or {})
        taken = {"input_shape": "input_shape", "code_size": "n_components", "neighbor_weight": "neighbor_weight",
                 "neighbors": "neighbors", **({"hidden": "hidden"} if "hidden" in fields else {})}
        for key in sorted(set(options) & set(taken)):
            raise ValueError(f"model_options sets {key!r}; set the estimator's {taken[key]} instead")
        if options.get("spatial_code"):
            raise ValueError("model_options spatial_code=True gives a code map, not n_components features")
        return {**config, **options}

    def fit(self, X, y=None):
        """Train an autoencoder on the rows of X (y is ignored); returns self."""
        X = validate_data(self, X, dtype=FLOATS)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {self.scaling!r}")
        scaling = self.scaling
        if scaling == "auto":  # as aekit.build(...).fit does: values in [0, 1] are used as they are
            scaling = "none" if X.min() >= 0 and X.max() <= 1 else "global" if self.input_shape is not None else "column"
        name = self._model_name()
        config = self._config(name, X.shape[1])
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        taken = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "min_steps": "min_steps", "device": "device",
                 "seed": "random_state", "verbose": "verbose"}
        for key in sorted(set(self.train_options or {}) & set(taken)):
            raise ValueError(f"train_options sets {key!r}; set the estimator's {taken[key]} instead")
        options = {"lr": self.lr, "min_steps": self.min_steps, "schedule": "cosine", "eps": 1e-8, "device": self.device,
                   **(self.train_options or {}), "seed": seed}
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
            torch.manual_seed(seed)
            try:
                model = build(name, **config)
                model.normalizer = _scaling(X, scaling)
                result = model.fit(X, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
                                   **options)
            except AekitError as e:
                raise ValueError(str(e)) from None
        self.model_: Model = model
        self.n_components_ = int(self.n_components)
        self._n_features_out = self.n_components_
        self.history_ = result.history
        return self

    # --- using a fitted transformer --------------------------------------------------------------------------
    def transform(self, X):
        """Codes of the rows of X: (n_samples, n_components), in X's float dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        return self.model_.encode(X).reshape(len(X), -1).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Rows decoded from codes X (n_samples, n_components), in the units of the data seen by fit."""
        check_is_fitted(self)
        X = check_array(X, dtype=FLOATS)
        if X.shape[1] != self.n_components_:
            raise ValueError(f"X has {X.shape[1]} features, but inverse_transform expects {self.n_components_} "
                             "(n_components)")
        return self.model_.decode(X).reshape(len(X), -1).astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error of X's rows, measured after the scaling fitted on the training
        data (each feature in [0, 1]), so it is comparable across features; higher is better."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        norm = self.model_.normalizer
        x = norm.transform(X).astype(np.float64)
        x_hat = norm.transform(self.model_.reconstruct(X).reshape(len(X), -1)).astype(np.float64)
        return -float(np.mean((x - x_hat) ** 2))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
