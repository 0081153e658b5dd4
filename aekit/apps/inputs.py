"""Image files named on the command line: folders expanded, each file read in a model's colour mode and size."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.images import IMAGE_SUFFIXES
from ..errors import AekitError

log = logging.getLogger(__name__)


def read_image(path: Path, shape: tuple[int, int, int], resize: bool = True) -> np.ndarray:
    """One image file as uint8 (H, W[, C]) in the model's colour mode, resized (bilinear) to its size if needed
    (with ``resize`` False, an image of another size is refused)."""
    c, h, w = shape
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h) and not resize:
                raise AekitError(f"{path} is {im.size[1]}x{im.size[0]}; this model takes {h}x{w} images")
            if im.size != (w, h):
                log.info("resizing %s from %dx%d to %dx%d", path, im.size[1], im.size[0], h, w)
                im = im.resize((w, h), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, Image.DecompressionBombError) as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Image and .npy files, with folders expanded to the image files directly inside them (sorted)."""
    files: list[Path] = []
    for spec in inputs:
        p = Path(spec)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise AekitError(f"no images (PNG/JPEG/WebP/BMP) in {p}")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise AekitError(f"{spec} not found")
    return files
