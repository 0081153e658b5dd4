"""How well features keep apart the classes labels name: a cross-validated k-nearest-neighbour accuracy."""

from __future__ import annotations

import numpy as np


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5, max_samples: int = 5000,
                 seed: int = 0) -> float | None:
    """Mean accuracy of a ``k``-nearest-neighbour classifier (Euclidean) predicting ``labels`` from ``features``
    (N, ...) by ``folds``-fold cross-validation (shuffled, seeded), over at most ``max_samples`` of them (a seeded
    subset). None when there are fewer than two classes or fewer than two samples per fold."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    y = np.asarray(labels)
    if len(x) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_samples, replace=False))
        x, y = x[keep], y[keep]
    if len(np.unique(y)) < 2 or len(x) < 2 * folds:
        return None
    k = min(k, len(x) - len(x) // folds - 1)  # never more neighbours than a training fold holds
    cv = KFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(k), x, y, cv=cv).mean())
