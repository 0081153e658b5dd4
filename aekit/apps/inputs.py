"""Reading a user's input files for the applications: image files and folders named on the command line, each read
in a model's colour mode (at its own size, or resized to the model's)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from aekit.data.images import GRAY_MODES, IMAGE_SUFFIXES, ImageTooLarge, open_image, to_8bit, upright
from aekit.errors import AekitError

log = logging.getLogger(__name__)


def _open(path: str | Path, channels: int) -> Image.Image:
    """A decoded image in "L" or "RGB" mode, refusing decompression bombs and unreadable files with one line."""
    try:
        with open_image(path) as im:
            return to_8bit(upright(im), grey=channels == 1)
    except ImageTooLarge as e:
        raise AekitError(f"{path} is too large: {e}") from None
    except OSError as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None


def read_image(path: str | Path, channels: int) -> np.ndarray:
    """One image file as uint8 (H, W) (``channels`` 1) or (H, W, 3), never resized."""
    return np.asarray(_open(path, channels), dtype=np.uint8)


def is_grey_file(path: str | Path) -> bool:
    """Whether an image file holds grey pixels (read from its header)."""
    try:
        with open_image(path) as im:
            return im.mode in GRAY_MODES
    except (OSError, ImageTooLarge) as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None


def in_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """A uint8 image (H, W) or (H, W, 3) with ``channels`` 1 or 3: grey repeated into RGB, or RGB to grey as Pillow
    converts it (ITU-R 601 luma)."""
    if channels == 1 and img.ndim == 3:
        return np.asarray(Image.fromarray(img).convert("L"), dtype=np.uint8)
    if channels == 3 and img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    return img


def read_model_image(path: str | Path, shape: tuple[int, int, int], resize: bool = True) -> np.ndarray:
    """One image file as uint8 (H, W[, C]) in a model's colour mode and size (C, H, W): resized (bilinear) if
    needed, or, with ``resize`` False, refused when its size differs."""
    c, h, w = shape
    im = _open(path, c)
    if im.size != (w, h) and not resize:
        raise AekitError(f"{path} is {im.size[1]}x{im.size[0]}; this model takes {h}x{w} images")
    if im.size != (w, h):
        log.info("resizing %s from %dx%d to %dx%d", path, im.size[1], im.size[0], h, w)
        im = im.resize((w, h), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """Image files directly in a folder and in its subfolders (one level), sorted by path."""
    files = [p for p in folder.iterdir() if p.is_file() and is_image_file(p)]
    for sub in folder.iterdir():
        if sub.is_dir():
            files += [p for p in sub.iterdir() if p.is_file() and is_image_file(p)]
    return sorted(files)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Image and .npy files, with folders expanded to the image files directly inside them (sorted)."""
    files: list[Path] = []
    for spec in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        p = Path(spec)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and is_image_file(f))
            if not found:
                raise AekitError(f"no images (PNG/JPEG/WebP/BMP) in {p}")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise AekitError(f"{spec} not found")
    return files
