"""How noisy an image is, without its clean version: Donoho's wavelet estimate of a Gaussian noise level."""

from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 0.6745  # the median absolute deviation of N(0, 1)


def estimate_sigma(image: np.ndarray) -> float:
    """The standard deviation of additive white Gaussian noise in ``image`` (H, W[, C]), in the image's units.

    The finest diagonal Haar detail of a natural image is mostly noise; its median absolute value over 0.6745 is a
    robust estimate of the noise level (Donoho and Johnstone 1994; scikit-image's ``estimate_sigma`` computes the
    same with a Daubechies wavelet). Channels are estimated apart and averaged. Texture at the finest scale reads
    as noise, so a sharp, detailed image has an estimate above zero even when it is clean."""
    x = np.asarray(image, dtype=np.float64)
    x = x[..., None] if x.ndim == 2 else x
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    if h == 0 or w == 0:
        return 0.0
    x = x[:h, :w]
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2  # orthonormal Haar HH
    return float(np.mean([np.median(np.abs(diagonal[..., c])) for c in range(x.shape[-1])]) / MAD_TO_SIGMA)
