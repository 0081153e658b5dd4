"""Reading a user's input files for the applications: single images, kept at their own size, and image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..data.images import IMAGE_SUFFIXES, MAX_PIXELS
from ..errors import AekitError


def read_image(path: str | Path, channels: int) -> np.ndarray:
    """One image file as uint8 (H, W) (``channels`` 1) or (H, W, 3), never resized."""
    try:
        with Image.open(path) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise AekitError(f"{path} is too large ({im.size[0]}x{im.size[1]} pixels)")
            return np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (OSError, Image.DecompressionBombError) as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """Image files directly in a folder and in its subfolders (one level), sorted by path."""
    files = [p for p in folder.iterdir() if p.is_file() and is_image_file(p)]
    for sub in folder.iterdir():
        if sub.is_dir():
            files += [p for p in sub.iterdir() if p.is_file() and is_image_file(p)]
    return sorted(files)
