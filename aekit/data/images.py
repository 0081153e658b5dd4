"""Load a folder of image files (optionally one subfolder per class) into uint8 arrays; resize arrays of images,
or put one through a JPEG encoding and back."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from aekit.errors import AekitError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
WIDE_GRAY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}  # 16-bit grey (PNG, TIFF): 0..65535
MAX_PIXELS = 64_000_000  # larger images are refused from their header, before any pixel is decoded
MAX_TOTAL_BYTES = 8 * 1024**3


def upright(im: Image.Image) -> Image.Image:
    """``im`` turned the way its EXIF orientation tag says it is seen (phone cameras store pixels as the sensor read
    them and record the turn there; viewers apply it, and so does aekit). A malformed EXIF block leaves the pixels
    as stored."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # Pillow's EXIF parser raises assorted types on damaged metadata; the pixels are still good
        return im


def to_8bit(im: Image.Image, grey: bool) -> Image.Image:
    """``im`` in mode "L" (``grey``) or "RGB". 16-bit grey is scaled by 255/65535 first: Pillow's own conversion
    clips it at 255, so that anything above 0.4% of full scale would read as white."""
    if im.mode in WIDE_GRAY_MODES:
        wide = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8), "L")
    return im.convert("L" if grey else "RGB")


class ImageTooLarge(ValueError):
    """An image file with more than ``MAX_PIXELS`` pixels (a decompression bomb, or a photo too large to use)."""


@contextlib.contextmanager
def open_image(path: str | Path):
    """``PIL.Image.open`` for untrusted files: an image over ``MAX_PIXELS`` is refused from its header with
    ``ImageTooLarge`` before it is decoded; Pillow's own decompression-bomb warning (two lines on stderr) and error
    become that refusal too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ImageTooLarge(f"over aekit's limit of {MAX_PIXELS:,} pixels") from None
    with im:
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise ImageTooLarge(f"{_hw(im.size)} pixels (HxW), over aekit's limit of {MAX_PIXELS:,}")
        yield im


def _image_files(folder: Path) -> list[Path]:
    """Image files directly inside a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _collect(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Find image files and, when they live in subfolders, their class indices."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and _image_files(d))
    if not classes:
        return _image_files(root), None, []
    if _image_files(root):
        log.warning("ignoring images directly in %s because class subfolders exist", root)
    files: list[Path] = []
    labels: list[int] = []
    for i, name in enumerate(classes):
        for p in _image_files(root / name):
            files.append(p)
            labels.append(i)
    return files, labels, classes


def _hw(size_wh: tuple[int, int]) -> str:
    """Format a PIL (width, height) size as HxW."""
    return f"{size_wh[1]}x{size_wh[0]}"


def _decode(path: Path, target_wh: tuple[int, int] | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode one image to a uint8 array (gray or RGB); returns the array and its original (W, H)."""
    with open_image(path) as im:
        im = upright(im)
        size = im.size
        im = to_8bit(im, grey=im.mode in GRAY_MODES)
        if target_wh is not None and im.size != target_wh:
            im = im.resize(target_wh, Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8), size


def _skipped(root: Path, skipped: list[Path], total: int, shown: int = 3) -> str:
    """The one warning for unreadable image files: how many, the first ``shown`` by name (under ``root``), and how to
    see why."""
    names = [str(p.relative_to(root)) for p in skipped[:shown]]
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return (f"skipped {len(skipped)} of {total} image files in {root} that could not be read: {', '.join(names)}{more}"
            " (with `verbose`, each one's reason is logged)")


def _too_large(root: Path) -> AekitError:
    return AekitError(f"images in {root} are too large to load together (over {MAX_TOTAL_BYTES >> 30} GiB)")


def read_images(root: Path, image_size: tuple[int, int] | None = None,
                same_size: bool = True) -> tuple[list[np.ndarray], np.ndarray | None, list[str]]:
    """Decode all images under root (resized to ``image_size`` (height, width) if given); returns (uint8 arrays
    (H, W) or (H, W, 3), all RGB if any is, labels or None, class names). ``same_size``: refuse mixed sizes."""
    files, labels, classes = _collect(root)
    if not files:
        raise AekitError(f"no images (PNG/JPEG/WebP/BMP) found in {root}")
    target_wh = None if image_size is None else (int(image_size[1]), int(image_size[0]))
    arrays: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[Path] = []
    first: tuple[Path, tuple[int, int]] | None = None
    total = 0
    for i, path in enumerate(files):
        try:
            arr, size = _decode(path, target_wh)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            skipped.append(path)
            log.info("skipping unreadable image %s: %s", path, e)
            continue
        if first is None:
            first = (path, size)
            if target_wh is None and same_size:
                target_wh = size
        elif image_size is None and same_size and size != first[1]:
            raise AekitError(
                f"images have mixed sizes: {first[0].name} is {_hw(first[1])} but {path.name} is {_hw(size)};"
                f" pass `image_size` (e.g. {_hw(first[1])}) to resize them all to one size"
            )
        total += arr.nbytes
        if total > MAX_TOTAL_BYTES:
            raise _too_large(root)
        arrays.append(arr)
        kept.append(i)
    if skipped:
        log.warning(_skipped(root, skipped, len(files)))  # the message itself, so the CLI names its option
    if not arrays:
        raise AekitError(f"none of the {len(files)} image files in {root} could be read")
    if any(a.ndim == 3 for a in arrays):
        if sum(a.shape[0] * a.shape[1] * 3 for a in arrays) > MAX_TOTAL_BYTES:
            raise _too_large(root)
        arrays = [a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a in arrays]
    y = None if labels is None else np.asarray([labels[i] for i in kept], dtype=np.int64)
    return arrays, y, classes


def read_image_folder(
    root: Path, image_size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Read all images under root, one size (or resized to ``image_size``); returns (x uint8 (N,H,W[,3]), labels
    or None, class names)."""
    arrays, y, classes = read_images(root, image_size)
    return np.stack(arrays), y, classes


def resize_images(x: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image stack (N,H,W[,C]) to image_size (height, width)."""
    h, w = int(image_size[0]), int(image_size[1])
    if x.shape[1:3] == (h, w):
        return x
    out = np.empty((len(x), h, w) + x.shape[3:], dtype=np.uint8)
    for i, img in enumerate(x):
        out[i] = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR), dtype=np.uint8)
    return out


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """One uint8 image (H, W), (H, W, 1) or (H, W, 3) encoded as JPEG at ``quality`` (1..95, Pillow's 4:2:0) and
    decoded again, in memory, in the shape it came in."""
    grey = image.ndim == 3 and image.shape[-1] == 1
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if grey else image).save(buf, format="JPEG", quality=int(quality))
    with Image.open(buf) as im:
        out = np.asarray(im, dtype=np.uint8)
    return out[..., None] if grey else out
