"""FID with aekit's own feature network (``FeatureNet``): the Frechet distance between feature statistics.

These are NOT Inception FIDs (Inception weights cannot be fetched here, and Inception knows nothing of 8x8 or 28x28
grey digits). The features are the 128-d penultimate activations of a two-stage conv net trained on the dataset's
labelled training split (``aekit.apps.features``, which also caches it). A number from this module is comparable
only with another one computed on the same dataset, with the same feature-net seed and the same sample sizes (FID is
biased by sample size). Report it beside ``aekit.apps.features.fid_floor``: the FID of real training images against
the test split, the value a perfect generator would get.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch
from scipy import linalg
from torch import nn

from aekit.data import Dataset
from aekit.errors import AekitError

log = logging.getLogger(__name__)

FEATURES = 128  # width of the penultimate layer, the feature space
CHANNELS = (16, 32)  # conv stage widths
EVAL_BATCH = 2048


class FeatureNet(nn.Module):
    """Conv classifier for one dataset's image shape; its 128-d penultimate activations are the FID features."""

    def __init__(self, input_shape: tuple[int, int, int], n_classes: int, meta: dict | None = None,
                 stem_stride: int = 2):
        super().__init__()
        c, h, w = input_shape
        self.input_shape, self.n_classes, self.meta = tuple(input_shape), n_classes, dict(meta or {})
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
        self.stem_stride = stem_stride  # 1 keeps the first layer at full resolution (pixel-level artefacts)
        c1, c2 = CHANNELS
        s = stem_stride
        flat = c2 * math.ceil(math.ceil(h / s) / 2) * math.ceil(math.ceil(w / s) / 2)
        self.body = nn.Sequential(
            nn.Conv2d(c, c1, 5, stride=s, padding=2), nn.ReLU(),  # (B, c1, ceil(H/s), ceil(W/s))
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (B, c2, ceil(H/2s), ceil(W/2s))
            nn.Flatten(), nn.Linear(flat, FEATURES), nn.ReLU(),  # (B, 128): the FID features
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_classes) of model-space images (B, C, H, W) in [0, 1]."""
        return self.head(self.body(x))

    def to_model_space(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W) or (N, H, W, C) images of this net's shape -> float32 (N, C, H, W) in [0, 1]."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise AekitError(f"FID features need uint8 images as in the Dataset, got {images.dtype}; "
                             "convert with (x * 255).round().clip(0, 255).astype(np.uint8)")
        if images.ndim == 3:
            images = images[..., None]
        c, h, w = self.input_shape
        if images.ndim != 4 or images.shape[1:] != (h, w, c):
            want = f"(N, {h}, {w})" if c == 1 else f"(N, {h}, {w}, {c})"
            raise AekitError(f"the {self.meta.get('dataset', '')} feature net needs images of shape {want}, "
                             f"got {images.shape}; it resizes nothing")
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255

    @torch.no_grad()
    def features(self, images_uint8: np.ndarray) -> np.ndarray:
        """Penultimate activations (N, 128) float64 of uint8 images shaped as this net's dataset."""
        x = self.to_model_space(images_uint8)
        self.eval()
        out = [self.body(x[i : i + EVAL_BATCH]).double() for i in range(0, len(x), EVAL_BATCH)]
        return torch.cat(out).numpy() if out else np.zeros((0, FEATURES))

    @torch.no_grad()
    def accuracy(self, images_uint8: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of images classified as their label."""
        x, y = self.to_model_space(images_uint8), torch.as_tensor(labels)
        self.eval()
        hits = sum(int((self(x[i : i + EVAL_BATCH]).argmax(1) == y[i : i + EVAL_BATCH]).sum())
                   for i in range(0, len(x), EVAL_BATCH))
        return hits / max(len(x), 1)


def image_shape(ds: Dataset) -> tuple[int, int, int]:
    """(C, H, W) of a Dataset's images; AekitError for tables or unlabelled data."""
    if ds.kind != "image" or ds.y_train is None or ds.y_test is None:
        raise AekitError(f"{ds.name}: FID needs a labelled image dataset")
    s = ds.x_train.shape
    return (1, s[1], s[2]) if len(s) == 3 else (s[3], s[1], s[2])


def _sqrtm(m: np.ndarray) -> np.ndarray:
    """scipy's matrix square root, quiet about singular input (dead ReLU units make the covariances singular)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(m)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets (Heusel et al. 2017, the FID formula).

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with unbiased covariances. A matrix square root that is not
    finite is retried with 1e-6 added to both diagonals; the real part is taken (tiny imaginary parts are numerical
    noise); the result is clipped at 0.
    """
    a, b = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise AekitError(f"frechet_distance needs two (N, D) arrays with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise AekitError(f"frechet_distance needs at least 2 samples per set, got {len(a)} and {len(b)}")
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        log.warning("singular product of covariances in frechet_distance; adding 1e-6 to the diagonals")
        offset = np.eye(len(s1)) * 1e-6
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(covmean.imag).max()
        if imag > 1e-3 * max(1.0, np.abs(covmean.real).max()):
            log.warning("matrix square root has an imaginary part of %.3g; using the real part", imag)
        covmean = covmean.real
    d = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    return max(float(d), 0.0)


def kernel_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Kernel distance between two (N, D) feature sets (KID, Binkowski et al. 2018): the unbiased estimate of the
    squared maximum mean discrepancy under the kernel k(x, y) = (x . y / D + 1)^3.

    Unlike the Fréchet distance it has no bias from the sample size (two samples of one distribution score about 0,
    and may score a little below it), so it compares sets of a few hundred images fairly.
    """
    a, b = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise AekitError(f"kernel_distance needs two (N, D) arrays with the same D, got {a.shape} and {b.shape}")
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise AekitError(f"kernel_distance needs at least 2 samples per set, got {m} and {n}")
    d = a.shape[1]
    kaa, kbb, kab = ((a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3)
    within = (kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(within - 2 * kab.mean())


def sample(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded sample of n images without replacement (all of them, in order, when n >= len)."""
    if n >= len(images):
        return images
    return images[np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))]


def fid_against_test(net: FeatureNet, images_uint8: np.ndarray, ds: Dataset, n_ref: int, seed: int) -> float:
    """FID of uint8 images against a seeded sample of up to n_ref test images of ds, in net's feature space."""
    gen = net.features(images_uint8)
    ref = net.features(sample(ds.x_test, n_ref, seed))
    if len(gen) != len(ref):
        log.info("FID of %d images against %d test images; compare only FIDs with the same sizes", len(gen), len(ref))
    return frechet_distance(gen, ref)


