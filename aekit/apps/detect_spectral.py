"""The spectral detector: a linear classifier of an image's log DCT spectrum.

Upsampling decoders leave their trace in an image's frequencies more than in its look: a generated image's spectrum
differs from a real one's at the same frequencies whatever it shows (Frank et al. 2020, "Leveraging Frequency Analysis
for Deep Fake Image Recognition", who found a linear model on these features as good as a CNN and far steadier on
generators it never saw). The features: the image's grey levels (the mean of its channels, 0..255), their 2-D
orthonormal DCT-II, log(|coefficient| + ``FLOOR``), each standardised by its training mean and spread; the score is a
logistic regression on them (scikit-learn's, L2 penalty of strength 1 / ``C``, classes weighted equally), kept as
plain tensors so that a detector folder holds weights only.

    net = fit_spectral_net(real, fake)   # uint8 images (N, H, W[, C]) -> SpectralNet
    score_images(net, images)            # P(synthetic) (aekit.apps.detect_net.score_images)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from aekit.apps.detect_net import images_to_model_space

FLOOR = 1e-2  # added to |DCT coefficient| before the log: a zero coefficient is -4.6, not -inf
C = 0.01  # inverse L2 strength of the logistic regression (measured: 0.01-1 score alike; 0.01 generalised best)
BATCH = 1024


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix (n, n): ``dct_matrix(n) @ v`` is scipy.fft.dct(v, norm="ortho")."""
    k, i = torch.arange(n, dtype=torch.float64)[:, None], torch.arange(n, dtype=torch.float64)[None, :]
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.float()


class SpectralNet(nn.Module):
    """Real-vs-synthetic score of (C, H, W) images in [0, 1] from their log DCT spectrum: logits (B,)."""

    def __init__(self, input_shape: tuple[int, int, int]):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        _, h, w = self.input_shape
        self.register_buffer("dct_rows", dct_matrix(h))
        self.register_buffer("dct_cols", dct_matrix(w))
        self.register_buffer("mean", torch.zeros(h * w))  # the features' training mean and spread
        self.register_buffer("scale", torch.ones(h * w))
        self.weight = nn.Parameter(torch.zeros(h * w))
        self.bias = nn.Parameter(torch.zeros(()))

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images in [0, 1] -> (B, H * W) log |DCT| of their grey levels (0..255)."""
        grey = x.mean(1) * 255
        return torch.log((self.dct_rows @ grey @ self.dct_cols.T).abs() + FLOOR).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.spectrum(x) - self.mean) / self.scale) @ self.weight + self.bias

    def to_model_space(self, images: np.ndarray) -> torch.Tensor:
        return images_to_model_space(images, self.input_shape)


@torch.no_grad()
def fit_spectral_net(real: np.ndarray, fake: np.ndarray, c: float = C) -> SpectralNet:
    """A SpectralNet fitted to uint8 real (label 0) and synthetic (label 1) images: deterministic (the same images
    give the same weights)."""
    from sklearn.linear_model import LogisticRegression

    shape = (1, *real.shape[1:3]) if real.ndim == 3 else (real.shape[3], *real.shape[1:3])
    net = SpectralNet(shape)
    feats = np.concatenate([_features(net, real), _features(net, fake)])
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    mean, scale = feats.mean(0), feats.std(0)
    scale[scale < 1e-6] = 1.0  # a constant feature (e.g. always at the floor) stays at 0
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit((feats - mean) / scale, labels)
    net.mean.copy_(torch.from_numpy(mean))
    net.scale.copy_(torch.from_numpy(scale))
    net.weight.copy_(torch.from_numpy(clf.coef_[0]))
    net.bias.fill_(float(clf.intercept_[0]))
    return net.eval()


def _features(net: SpectralNet, images: np.ndarray) -> np.ndarray:
    x = net.to_model_space(images)
    return torch.cat([net.spectrum(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).double().numpy()
