"""Training patches: seeded random crops of each image, so that a model of patch size learns images of any size.

A model trained on whole 28x28 digits fails on fragments of a larger image (BENCHMARKS.md, denoise notes: 16.7 dB
through tiles against 21.6 on whole digits); trained on crops it handles tiles of any image as well as aligned ones
(20.9 vs 21.0). ``aekit denoise`` then runs such a model over images of any size in overlapping tiles.

Crops are cut after the train/test split, so no source image gives patches to both sides, and with fixed seeds, so
a run's evaluation rebuilds the very test patches (the run's config.json records the patch size and count).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from aekit.data.images import MAX_TOTAL_BYTES
from aekit.errors import AekitError

log = logging.getLogger(__name__)

MAX_PER_IMAGE = 100_000


def default_count(shape: tuple[int, int], size: tuple[int, int]) -> int:
    """Patches per image when none is given: enough to cover every pixel about twice, at most one per position."""
    (h, w), (ph, pw) = shape, size
    return min(math.ceil(2 * h * w / (ph * pw)), (h - ph + 1) * (w - pw + 1))


def _counts(images: Sequence[np.ndarray], size: tuple[int, int], per_image: int | None) -> list[int]:
    """How many patches each image gives (0 for images smaller than a patch)."""
    ph, pw = size
    out = []
    for img in images:
        h, w = img.shape[:2]
        if h < ph or w < pw:
            out.append(0)
        else:
            n = default_count((h, w), size) if per_image is None else per_image
            out.append(min(n, (h - ph + 1) * (w - pw + 1)))
    return out


def cut_patches(images: Sequence[np.ndarray], labels: np.ndarray | None, size: tuple[int, int],
                per_image: int | None = None, seed: int = 0, what: str = "images") -> tuple[np.ndarray,
                                                                                             np.ndarray | None]:
    """Random ``size`` (height, width) crops of each image (H, W[, C]): distinct positions per image, drawn with
    ``seed``; each patch keeps its image's label. ``per_image`` None: ``default_count``. Images smaller than a patch
    give none (a warning says how many); none at all is an error."""
    ph, pw = (int(v) for v in size)
    if ph < 1 or pw < 1:
        raise AekitError(f"patch size must be positive, got {ph}x{pw}")
    if per_image is not None and not 1 <= per_image <= MAX_PER_IMAGE:
        raise AekitError(f"patches per image must be between 1 and {MAX_PER_IMAGE}, got {per_image}")
    counts = _counts(images, (ph, pw), per_image)
    too_small = sum(c == 0 for c in counts)
    if too_small == len(counts):
        raise AekitError(f"no {what} are at least {ph}x{pw}, the patch size")
    if too_small:
        log.warning("%d of %d %s are smaller than the %dx%d patch size and give no patches",
                    too_small, len(counts), what, ph, pw)
    channels = next(img.shape[2:] for img, c in zip(images, counts) if c)
    total = sum(counts)
    if total * ph * pw * int(np.prod(channels, dtype=np.int64)) > MAX_TOTAL_BYTES:
        raise AekitError(f"{total} patches of {ph}x{pw} from the {what} would not fit in memory; "
                         "ask for fewer patches per image")
    rng = np.random.default_rng(seed)
    out = np.empty((total, ph, pw) + channels, dtype=images[0].dtype)
    source = np.empty(total, dtype=np.int64)
    k = 0
    for i, (img, n) in enumerate(zip(images, counts)):
        if not n:
            continue
        rows, cols = img.shape[0] - ph + 1, img.shape[1] - pw + 1
        for pos in rng.choice(rows * cols, size=n, replace=False):
            r, c = divmod(int(pos), cols)
            out[k] = img[r:r + ph, c:c + pw]
            source[k] = i
            k += 1
    return out, None if labels is None else np.asarray(labels)[source]
