"""What happens to an image on its way around: JPEG re-encoding, resizing, sensor or dithering noise.

The residual CNN trains on real and synthetic images put through the same random mix of these (``degrade``), so that
neither class can be told by a trace that one re-save erases; a detector for JPEG files trains on JPEG re-saves
(``recompress``: once for the spectral model, afresh every batch for a CNN); the detector's benchmark scores images
after ``jpeg`` at quality 75. All functions take and return uint8 images (N, H, W) or (N, H, W, C).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from aekit.data.images import jpeg_round_trip

JPEG_QUALITY = (40, 95)  # the range of qualities drawn for training
RESIZE_SCALE = (0.5, 0.9)  # down to this fraction of the side, then back up
NOISE_SIGMA = (1.0, 4.0)  # Gaussian noise, in grey levels
P_JPEG, P_RESIZE, P_NOISE = 0.5, 0.25, 0.25  # how often each is applied (independently)
RECOMPRESS_QUALITY = (50, 95)  # the range of qualities ``recompress`` draws from


def jpeg(images: np.ndarray, quality: int = 75) -> np.ndarray:
    """Every image through a JPEG encoding at ``quality`` and back."""
    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be from 1 to 95, got {quality}")
    return np.stack([jpeg_round_trip(im, quality) for im in images]) if len(images) else images.copy()


def resize_back(image: np.ndarray, scale: float) -> np.ndarray:
    """One uint8 image shrunk to ``scale`` of its sides (bilinear) and enlarged back to its size (bicubic)."""
    grey = image.ndim == 3 and image.shape[-1] == 1
    im = Image.fromarray(image[..., 0] if grey else image)
    w, h = im.size
    small = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    out = np.asarray(small.resize((w, h), Image.BICUBIC), dtype=np.uint8)
    return out[..., None] if grey else out


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """One uint8 image plus Gaussian noise of ``sigma`` grey levels, rounded and clipped."""
    return np.clip(np.rint(image + rng.normal(0.0, sigma, image.shape)), 0, 255).astype(np.uint8)


def degrade(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of uint8 images, each independently resized down and back (``P_RESIZE``), noised (``P_NOISE``) and
    JPEG-encoded (``P_JPEG``), in that order, with random strengths from the ranges above."""
    out = np.array(images, copy=True)
    for i in range(len(out)):
        im = out[i]
        if rng.random() < P_RESIZE:
            im = resize_back(im, rng.uniform(*RESIZE_SCALE))
        if rng.random() < P_NOISE:
            im = add_noise(im, rng.uniform(*NOISE_SIGMA), rng)
        if rng.random() < P_JPEG:
            im = jpeg_round_trip(im, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
        out[i] = im
    return out


def recompress(images: np.ndarray, rng: np.random.Generator,
               quality: tuple[int, int] = RECOMPRESS_QUALITY) -> np.ndarray:
    """A copy of uint8 images, each re-saved as JPEG at its own quality drawn from ``quality`` (both ends included):
    what a detector for JPEG files trains on."""
    if len(images) == 0:
        return images.copy()
    low, high = quality
    return np.stack([jpeg_round_trip(im, int(rng.integers(low, high + 1))) for im in images])
