"""Identities: fixed appearance renderers of handwritten digits, and MNIST rendered by each as a named dataset.

An identity changes how a digit looks, never where its strokes run: the digit's pose and shape stay the source's. A
swap model trained on identities therefore has a ground truth: the true swap of digit x into identity b is
``render(b, x)``.

Every renderer maps uint8 grey digits (N, H, W), bright ink on black as MNIST stores them, to uint8 RGB images
(N, H, W, 3), deterministically (nothing random at call time; the paper is one fixed sheet made from a fixed seed):

- ``bold``: white ink on black, every stroke thickened by a grey dilation (3x3 maximum filter). Stroke geometry.
- ``outline``: hollow strokes: only the ring a grey dilation adds around each stroke (the dilation minus the digit),
  in yellow on navy. Stroke geometry.
- ``paper``: dark blue ink on cream paper with a fibre texture (smoothed fixed noise, the same sheet under every
  digit). Texture.
- ``bleed``: ink that has spread into blotting paper: the digit blurred (Gaussian, sigma 1) and saturated, so strokes
  are wider and soft-edged, in dark red on off-white. Stroke geometry and colour.

Named datasets ``mnist-<identity>`` (``mnist-bold``, ...): MNIST's 60,000 training images are dealt into one
disjoint share per identity by a fixed seeded permutation (no image is in two identities, so a model trained on them
never sees a pair); each identity's test split is all 10,000 MNIST test images rendered by it (the paired truth).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from aekit.data.dataset import IMAGE, Dataset
from aekit.errors import AekitError

PREFIX = "mnist-"  # an identity's dataset name: mnist-bold
SHARE_SEED = 0  # the permutation that deals MNIST's training images to the identities
PAPER_SEED = 20240  # the paper sheet's noise


def _grey(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 ink density in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise AekitError(f"identities render uint8 grey digits shaped (N, H, W), got {images.dtype} {images.shape}")
    return images.astype(np.float32) / 255


def _dilate(g: np.ndarray) -> np.ndarray:
    """Grey dilation of each image (N, H, W) by a 3x3 square: every pixel takes its neighbourhood's darkest ink."""
    return ndimage.maximum_filter(g, size=(1, 3, 3), mode="constant", cval=0.0)


def _ink(g: np.ndarray, ink: tuple[float, float, float], ground) -> np.ndarray:
    """Ink density g (N, H, W) laid in colour ``ink`` over ``ground`` (an RGB colour, or an (H, W, 3) sheet) ->
    uint8 (N, H, W, 3)."""
    a = np.clip(g, 0.0, 1.0)[..., None]
    rgb = np.asarray(ground, np.float32) * (1 - a) + np.asarray(ink, np.float32) * a
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


@lru_cache(maxsize=4)
def paper_sheet(height: int, width: int) -> np.ndarray:
    """The fixed paper under ``paper``'s digits: cream with horizontal fibres and a fine grain, float32 (H, W, 3)
    in [0, 1], read-only; the same array on every call (made from ``PAPER_SEED``)."""
    rng = np.random.default_rng(PAPER_SEED)
    fibres = ndimage.gaussian_filter(rng.standard_normal((height, width)), sigma=(0.5, 2.5), mode="wrap")
    grain = ndimage.gaussian_filter(rng.standard_normal((height, width)), sigma=0.5, mode="wrap")
    texture = fibres / fibres.std() + 0.5 * grain / grain.std()  # (H, W), unit-ish variance
    sheet = np.array([0.92, 0.87, 0.74]) + 0.06 * texture[..., None] * np.array([1.0, 1.0, 0.9])
    sheet = np.clip(sheet, 0.0, 1.0).astype(np.float32)
    sheet.setflags(write=False)
    return sheet


def bold(images: np.ndarray) -> np.ndarray:
    """White ink on black, strokes thickened by a 3x3 grey dilation."""
    g = _dilate(_grey(images))
    return _ink(g, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


def outline(images: np.ndarray) -> np.ndarray:
    """Hollow strokes: the ring a 3x3 grey dilation adds around the digit (dilation minus digit), yellow on navy."""
    g = _grey(images)
    return _ink(np.clip(1.5 * (_dilate(g) - g), 0.0, 1.0), (1.0, 0.85, 0.15), (0.06, 0.08, 0.3))


def paper(images: np.ndarray) -> np.ndarray:
    """Dark blue ink on the fixed cream paper sheet (``paper_sheet``)."""
    g = _grey(images)
    return _ink(g, (0.1, 0.14, 0.45), paper_sheet(*g.shape[1:]))


def bleed(images: np.ndarray) -> np.ndarray:
    """Ink spread into the paper: the digit blurred (Gaussian, sigma 1) and saturated, dark red on off-white."""
    g = ndimage.gaussian_filter(_grey(images), sigma=(0, 1.0, 1.0), mode="constant")
    return _ink(np.clip(1.8 * g, 0.0, 1.0), (0.55, 0.05, 0.08), (0.98, 0.96, 0.92))


IDENTITIES = {"bold": bold, "outline": outline, "paper": paper, "bleed": bleed}


def render(identity: str, images: np.ndarray) -> np.ndarray:
    """uint8 grey digits (N, H, W) as ``identity`` draws them: uint8 RGB (N, H, W, 3)."""
    if identity not in IDENTITIES:
        raise AekitError(f"unknown identity {identity!r}; choose from {', '.join(IDENTITIES)}")
    return IDENTITIES[identity](images)


def identity_datasets() -> list[str]:
    """The named datasets of the identities: mnist-bold, mnist-outline, ..."""
    return [PREFIX + name for name in IDENTITIES]


def identity_share(identity: str, n: int) -> np.ndarray:
    """The sorted indices of the ``n`` training images dealt to ``identity``: a fixed seeded permutation of
    range(n) dealt round-robin, so every identity's share is disjoint from every other's and they cover range(n)."""
    if identity not in IDENTITIES:
        raise AekitError(f"unknown identity {identity!r}; choose from {', '.join(IDENTITIES)}")
    perm = np.random.default_rng(SHARE_SEED).permutation(n)
    return np.sort(perm[list(IDENTITIES).index(identity) :: len(IDENTITIES)])


def identity_dataset(name: str, mnist: Dataset) -> Dataset:
    """The named dataset ``mnist-<identity>`` made from MNIST: the identity's share of the training images and all
    test images, rendered by it, with their digit labels."""
    identity = name.removeprefix(PREFIX)
    share = identity_share(identity, len(mnist.x_train))
    y_train = None if mnist.y_train is None else mnist.y_train[share]
    return Dataset(name, render(identity, mnist.x_train[share]), y_train, render(identity, mnist.x_test),
                   mnist.y_test, IMAGE, f"{mnist.source}, share {list(IDENTITIES).index(identity) + 1} of "
                   f"{len(IDENTITIES)} of the training images, drawn as identity {identity!r}")
