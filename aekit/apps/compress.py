"""``aekit compress`` / ``aekit decompress``: one ``.aek`` file per image with a compressive autoencoder run
(``aekit train --model compress``), and back to PNG.

An image of another size than the model's is coded the way the run was trained (``coding``): a run trained on
patches (``aekit train --patches HxW``) codes it as tiles of the model's size that never overlap, all in one file
(padded at the bottom and right to whole tiles, cropped back on decoding), so every pixel keeps its resolution; a
run trained on whole images (digits, faces) resizes it to the model's size for coding and back to its own size on
decoding. ``aekit.apps.codec`` specifies both layouts. A decompressed image is model output, so its PNG carries the
provenance mark and content credentials that name the ``.aek`` file as the edited parent (``aekit inspect`` reads
both). Nothing existing is overwritten without ``force``; every file is read and checked before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aekit.apps.codec import MAX_FILE, MAX_SIDE, Codec, CodecError, Decoded
from aekit.apps.inputs import expand_inputs, read_image
from aekit.apps.tiles import grid, grid_spots, split_grid
from aekit.errors import AekitError
from aekit.fileio import atomic_write, claim_outputs, make_folder, not_a_file
from aekit.models.compress import CompressiveAutoencoder
from aekit.runs.provenance import make_mark, save_png
from aekit.runs.run import Run, as_run

SUFFIX = ".aek"
TILES, RESIZE = "tiles", "resize"


def open_codec(run: Run | str | Path, device: str = "cpu") -> Codec:
    """The codec of a compressive autoencoder run; any other run is refused with one line."""
    run = as_run(run, device)
    if not isinstance(run.model, CompressiveAutoencoder):
        raise AekitError(f"{run.path} is not a compression run (train one with `aekit train --model compress`)")
    return Codec(run.model, run.fingerprint)


def coding(run: Run | str | Path) -> tuple[str, tuple[int, int]]:
    """How a run codes an image of another size than its model's, by how it was trained, and the model's (height,
    width): ``"tiles"`` for a run trained on patches, ``"resize"`` for one trained on whole images."""
    run = as_run(run)
    return (TILES if run.config.data.patches else RESIZE), tuple(run.config.config["input_shape"][1:])


def _to_float(img: np.ndarray, channels: int) -> torch.Tensor:
    """uint8 (H, W[, C]) to float (C, H, W) in [0, 1]."""
    if img.dtype != np.uint8:  # floats in [0, 1] would read as near-black pixels
        raise AekitError(f"images must be uint8 pixels (0..255), got {img.dtype}")
    x = torch.from_numpy(np.array(img, dtype=np.float32)) / 255.0
    return x[None] if channels == 1 else x.permute(2, 0, 1)


def _to_model(img: np.ndarray, shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 (H, W[, C]) to float (C, h, w) in [0, 1] at the model's size (bicubic when resizing)."""
    c, h, w = shape
    if img.dtype == np.uint8 and img.shape[:2] != (h, w):
        img = np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC), dtype=np.uint8)
    return _to_float(img, c)


def _uint8(x: torch.Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1).numpy() * 255.0).astype(np.uint8)


def _to_image(x: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """float (C, h, w) in [0, 1] to uint8 (H, W[, C]) at the stored size."""
    arr = _uint8(x)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    h, w = size
    if arr.shape[:2] != (h, w):
        arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.BICUBIC), dtype=np.uint8)
    return arr


def _stitch(chunks: Iterable[torch.Tensor], decoded: Decoded, shape: tuple[int, int, int]) -> np.ndarray:
    """A tiled file's decoded tiles, chunk by chunk in grid order, as one uint8 image (H, W[, C]), padding cropped."""
    c, h, w = shape
    (rows, cols), (height, width) = decoded.grid, decoded.size
    canvas = np.empty((c, rows * h, cols * w), np.uint8)
    spots = iter(grid_spots(decoded.grid, (h, w)))
    for chunk in chunks:
        for tile, (y, x) in zip(_uint8(chunk), spots):
            canvas[:, y:y + h, x:x + w] = tile
    img = canvas[:, :height, :width]
    return img[0] if c == 1 else img.transpose(1, 2, 0)


def compress_images(codec: Codec, images: list[np.ndarray], level: int, batch_size: int = 256,
                    refine: int = 0, tiles: bool = False) -> list[bytes]:
    """uint8 images (H, W[, C]) in the model's colour mode to ``.aek`` file contents. ``tiles``: code an image of
    another size than the model's in tiles of the model's size (for a run trained on patches), not resized to it;
    ``refine``: steps of encoder-side refinement (smaller or better files, same decoder; each a decoder pass)."""
    for i, img in enumerate(images):  # a file must decode: its header holds sides up to MAX_SIDE
        _check_side(img, f"image {i}", codec if tiles else None)
    out: list[bytes | None] = [None] * len(images)
    whole = [i for i, img in enumerate(images) if not tiles or img.shape[:2] == codec.shape[1:]]
    for start in range(0, len(whole), batch_size):
        idx = whole[start:start + batch_size]
        x = torch.stack([_to_model(images[i], codec.shape) for i in idx])
        for i, data in zip(idx, codec.encode(x, level, [images[i].shape[:2] for i in idx], refine=refine)):
            out[i] = data
    for i in (i for i, data in enumerate(out) if data is None):
        parts = split_grid(_to_float(images[i], codec.shape[0]).numpy(), codec.shape[1:])
        out[i] = codec.encode_tiles(torch.from_numpy(parts), level, images[i].shape[:2], refine=refine)
    return out


def _check_side(img: np.ndarray, what, codec: Codec | None = None) -> None:
    """Refuse an image no .aek file can hold (``codec``: in tiles of its model's size)."""
    if not (1 <= img.shape[0] <= MAX_SIDE and 1 <= img.shape[1] <= MAX_SIDE):
        raise AekitError(f"{what} is {img.shape[1]}x{img.shape[0]} pixels; a .aek file holds sides of 1 to "
                         f"{MAX_SIDE} pixels")
    if codec is not None:
        try:
            codec.check_grid(img.shape[:2], grid(img.shape[:2], codec.shape[1:]))
        except CodecError as e:
            raise AekitError(f"{what}: {e}") from None


def decompress_bytes(codec: Codec, data: bytes) -> np.ndarray:
    """One ``.aek`` file's contents to a uint8 image (H, W[, C]) at its original size."""
    (decoded,) = codec.read_many([data])
    levels = torch.full((len(decoded.symbols),), decoded.level, dtype=torch.long)
    chunks = codec.images(decoded.symbols, levels)
    if decoded.grid is None:
        return _to_image(next(chunks)[0], decoded.size)
    return _stitch(chunks, decoded, codec.shape)


def _targets(inputs: list[Path], out: Path, suffix: str, force: bool) -> list[Path]:
    targets = [out / (p.stem + suffix) for p in inputs]
    claim_outputs(inputs, targets, force)
    return targets


def compress_files(run: Run | str | Path, inputs: list[str], out: str | Path, level: int | None = None,
                   force: bool = False, device: str = "cpu", refine: int = 0) -> list[Path]:
    """Compress image files (folders expand to their images) into ``out/<stem>.aek``; returns the files written.
    ``refine``: steps of encoder-side refinement per image (0: the encoder's code as is)."""
    out = Path(out)
    paths = expand_inputs(inputs)
    if not paths:
        raise AekitError("no inputs to compress")
    if out.exists() and not out.is_dir():
        raise AekitError(f"{out} exists and is not a folder")
    targets = _targets(paths, out, SUFFIX, force)
    run = as_run(run, device)
    codec, tiles = open_codec(run, device), coding(run)[0] == TILES
    level = codec.model.config.default_level if level is None else level
    if not 0 <= level < codec.model.levels:
        raise AekitError(f"`level` must lie in 0..{codec.model.levels - 1} for this run")
    if refine < 0:
        raise AekitError(f"`refine` must be 0 or more steps, got {refine}")
    images = [read_image(p, codec.shape[0]) for p in paths]  # read and check everything before writing
    for p, img in zip(paths, images):
        _check_side(img, p, codec if tiles else None)
    make_folder(out)
    for dst, data in zip(targets, compress_images(codec, images, level, refine=refine, tiles=tiles)):
        atomic_write(dst, data)
    return targets


def decompress_files(run: Run | str | Path, inputs: list[str], out: str | Path, force: bool = False,
                     device: str = "cpu", pixel_mark: bool = False) -> list[Path]:
    """Decode ``.aek`` files into marked PNGs ``out/<stem>.png``; returns the files written. ``pixel_mark``: add the
    invisible watermark to the pixels too (off by default: the image is the user's own, coded)."""
    out = Path(out)
    paths = [Path(p) for p in inputs]
    if not paths:
        raise AekitError("no inputs to decompress")
    for p in paths:
        if not p.is_file():
            raise not_a_file(p)
    if out.exists() and not out.is_dir():
        raise AekitError(f"{out} exists and is not a folder")
    targets = _targets(paths, out, ".png", force)
    codec = open_codec(run, device)
    decoded = []
    for p in paths:
        if p.stat().st_size > MAX_FILE:
            raise AekitError(f"{p}: too large for an .aek image")
        try:
            decoded.append(decompress_bytes(codec, p.read_bytes()))
        except CodecError as e:
            raise AekitError(f"{p}: {e}") from None
    make_folder(out)
    for src, dst, img in zip(paths, targets, decoded):
        save_png(dst, img, make_mark("decompress", codec.fingerprint, model="compress", input=src.name), parent=src,
                 pixel_mark=pixel_mark)
    return targets


__all__ = ["open_codec", "coding", "compress_images", "decompress_bytes", "compress_files", "decompress_files"]
