"""Provenance marks: every image aekit synthesises says so, in the file, machine-readably.

``save_png`` is the one path by which aekit writes an image made from a model. The PNG carries an iTXt chunk (key
``aekit:provenance``, a JSON object: tool, version, synthetic, operation, model fingerprint, time) and a signed C2PA
manifest that holds the same object (``aekit.runs.credentials``); an image a model made also carries an invisible
watermark in its pixels (``aekit.runs.watermark``: the model's fingerprint prefix, which survives the loss of the
metadata), added before signing. Arrays carry the object in a side-car ``<file>.provenance.json``. ``read_mark``
reads the mark of either, ``read_pixel_mark`` the watermark; ``read_credentials`` validates the manifest.
"""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from aekit._version import __version__
from aekit.data.images import open_image
from aekit.errors import AekitError
from aekit.fileio import atomic_write, ensure_parent, not_a_file
from aekit.runs import watermark
from aekit.runs.credentials import sign_png

KEY = "aekit:provenance"
MAX_MARK = 1 << 16  # a mark longer than 64 KiB is not one of ours


def make_mark(operation: str, fingerprint: str | None, **extra) -> dict:
    """The provenance record for one synthetic output."""
    return {"tool": "aekit", "version": __version__, "synthetic": True, "operation": operation,
            "model_fingerprint": fingerprint,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **extra}


def _to_pil(image: np.ndarray) -> Image.Image:
    """uint8 (H, W) or (H, W, 3) as a PIL image."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise AekitError(f"expected a uint8 image (H, W) or (H, W, 3), got {image.dtype} {image.shape}")
    return Image.fromarray(image)


def save_png(path: str | Path, image: np.ndarray | Image.Image, mark: dict, parent: str | Path | None = None,
             composite: bool = False, pixel_mark: bool | None = None) -> Path:
    """Write a PNG that carries ``mark`` and signed content credentials, atomically: made by a model (``c2pa.created``),
    a ``composite`` of model output and real images (a figure), or, with ``parent`` (the user's input file it was
    made from), an edit of that file (``c2pa.edited``). ``pixel_mark``: add the invisible watermark (carrying
    ``mark``'s model fingerprint) to the pixels first; by default only to an image a model made, since it costs an
    edit of the user's own image some PSNR and would mark the real images in a composite."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, json.dumps(mark, sort_keys=True))
    pil = image if isinstance(image, Image.Image) else _to_pil(image)
    if pixel_mark is None:
        pixel_mark = parent is None and not composite
    if pixel_mark:
        pil = _to_pil(watermark.embed(_pixels(pil), mark.get("model_fingerprint")))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", pnginfo=info)
    signed = sign_png(buf.getvalue(), mark, Path(path).name, None if parent is None else Path(parent), composite)
    atomic_write(ensure_parent(path), signed)
    return Path(path)


def _pixels(pil: Image.Image) -> np.ndarray:
    """A PIL image as uint8 (H, W) grey or (H, W, 3) colour pixels (an alpha channel is dropped)."""
    if pil.mode in ("L", "RGB"):
        return np.asarray(pil)
    return np.asarray(pil.convert("L" if pil.mode in ("1", "LA", "I", "I;16", "F") else "RGB"))


def read_pixel_mark(path: str | Path) -> watermark.Detection | None:
    """The invisible watermark in an image file's pixels, or None when none is found (or it is an array, with a
    side-car)."""
    path = Path(path)
    if not path.is_file():
        raise not_a_file(path)
    if sidecar(path).is_file():
        return None
    try:
        with open_image(path) as im:
            pixels = _pixels(im)
    except (OSError, ValueError) as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None
    return watermark.detect(pixels)


def save_array(path: str | Path, array: np.ndarray, mark: dict) -> Path:
    """Write a .npy array and its side-car provenance JSON."""
    path = Path(path)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write(ensure_parent(path), buf.getvalue())
    atomic_write(sidecar(path), (json.dumps(mark, indent=2, sort_keys=True) + "\n").encode())
    return path


def sidecar(path: str | Path) -> Path:
    """Where an array's provenance lives."""
    return Path(f"{path}.provenance.json")


def companions(path: str | Path) -> list[Path]:
    """The files written beside an output: a ``.npy`` array's side-car provenance, nothing for a PNG (marked inside)."""
    return [sidecar(path)] if Path(path).suffix.lower() == ".npy" else []


def read_mark(path: str | Path) -> dict | None:
    """The provenance mark of a file (PNG chunk, or an array's side-car), or None when it has none."""
    path = Path(path)
    if not path.is_file():
        raise not_a_file(path)
    if sidecar(path).is_file():
        text = sidecar(path).read_text(errors="replace")[:MAX_MARK]  # not UTF-8: not a mark (refused below)
    else:
        try:
            with open_image(path) as im:  # an image over aekit's pixel limit: a ValueError
                im.load()  # to the end: a chunk after the pixels counts, and a truncated file is an error
                text = im.info.get(KEY) if im.format == "PNG" else None
        except (OSError, ValueError) as e:  # ValueError: an oversized text chunk, or too many pixels
            raise AekitError(f"{path} is not a readable image ({e})") from None
        if text is None:
            return None
    try:
        mark = json.loads(str(text)[:MAX_MARK])
    except json.JSONDecodeError:
        raise AekitError(f"{path} has a corrupt aekit provenance mark") from None
    return mark if isinstance(mark, dict) else None
