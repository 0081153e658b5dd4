"""A drawing (or any picture of one digit) made into a model's input the way the run's own data was made.

MNIST's digits were prepared from NIST's scans so: each digit's ink cropped to its bounding box, scaled (anti-aliased)
to fit a 20x20 box keeping its aspect ratio, and placed in a 28x28 field so that its centre of mass is at the field's
centre (LeCun et al., "The MNIST database of handwritten digits"). A digit drawn larger, smaller or off-centre on a
canvas and only resized would look to an MNIST model like no digit it has seen; prepared this way it looks like its
training data. Runs on other image shapes get the picture resized to their size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from aekit.apps.inputs import in_channels
from aekit.errors import AekitError

MNIST_SHAPE = (1, 28, 28)
BOX = 20  # the digit's longer side, in pixels of the 28x28 field
INK = 0.1  # a pixel is ink when brighter than this share of the brightest one


def mnist_like(image: np.ndarray) -> np.ndarray:
    """A uint8 grey image (H, W) of one light digit on a dark ground as MNIST would hold it: uint8 (28, 28)."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise AekitError(f"expected a uint8 grey image (H, W), got {image.dtype} {image.shape}")
    ink = np.argwhere(image > INK * max(int(image.max()), 1))
    if image.max() == 0 or len(ink) == 0:
        raise AekitError("the drawing is empty: draw a digit first")
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    crop = Image.fromarray(image[top:bottom, left:right])
    scale = BOX / max(crop.size)
    size = (max(1, round(crop.size[0] * scale)), max(1, round(crop.size[1] * scale)))  # (w, h)
    digit = np.asarray(crop.resize(size, Image.LANCZOS), dtype=np.uint8)
    return _centre_by_mass(digit, 28)


def _centre_by_mass(digit: np.ndarray, side: int) -> np.ndarray:
    """``digit`` (h, w) pasted into a black ``side`` x ``side`` field with its centre of mass at pixel (side/2,
    side/2), where MNIST's digits have theirs on average (14.0, 14.0 over its first 5,000 training digits); moved in
    whole pixels, and never past the field's edge."""
    h, w = digit.shape
    mass = digit.astype(np.float64)
    total = mass.sum() or 1.0
    cy = (mass.sum(axis=1) * np.arange(h)).sum() / total
    cx = (mass.sum(axis=0) * np.arange(w)).sum() / total
    top = int(np.clip(round(side / 2 - cy), 0, side - h))
    left = int(np.clip(round(side / 2 - cx), 0, side - w))
    field = np.zeros((side, side), dtype=np.uint8)
    field[top : top + h, left : left + w] = digit
    return field


def prepare_drawing(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A drawing, uint8 (H, W) or (H, W, 3), as a model of input ``shape`` (C, H, W) takes it: prepared as MNIST
    was (``mnist_like``) for 28x28 grey models, else resized (bilinear) in the model's colour mode. Returns uint8
    (h, w) for grey models, (h, w, 3) for colour ones."""
    c, h, w = shape
    if tuple(shape) == MNIST_SHAPE:
        return mnist_like(in_channels(image, 1))
    im = Image.fromarray(in_channels(image, c))
    return np.asarray(im.resize((w, h), Image.BILINEAR) if im.size != (w, h) else im, dtype=np.uint8)
