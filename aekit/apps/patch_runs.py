"""Whole images through a run trained on patches (``aekit train --patches HxW``).

Such a run's model takes tiles of its patch size; ``aekit reconstruct``, ``aekit anomalies`` and ``aekit embed``
hand it whole images of any size, tile by tile (``aekit.apps.tiles``):

- reconstruct: tiles that share half a tile, each reconstructed, blended into the image (as ``aekit denoise`` does),
  so no seam shows;
- anomalies: tiles that never overlap (the last row and column flush with the far edge), each scored on its own:
  the scores map where an image is unusual (``aekit.apps.anomaly``);
- embed: the codes of those tiles, averaged (mean pooling) into one code per image. Images made of the same
  textures get close codes wherever the textures sit in them; where things sit is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aekit.apps.inputs import image_files, in_channels, is_image_file, read_image
from aekit.apps.samples import SPLITS
from aekit.apps.tiles import apply_tiled, tile_batches
from aekit.data.load import load_whole_images, read_all
from aekit.errors import AekitError
from aekit.runs.run import Run, as_run

Batch = Callable[[torch.Tensor], torch.Tensor]  # model-space inputs (N, C, h, w) -> outputs of the same shape


def patch_size(run: Run | str | Path) -> tuple[int, int] | None:
    """The patch size (height, width) a run was trained on; None for a run trained on whole images."""
    patches = as_run(run).config.data.patches
    return None if patches is None else (int(patches[0]), int(patches[1]))


def whole_images(run: Run, data: str | None = None, split: str = "test") -> tuple[list[np.ndarray],
                                                                                  np.ndarray | None, str]:
    """A split of the images a patch run's training crops were cut from (or of ``data``, read and split the same
    way), whole, each uint8 (H, W[, C]) in the model's colour mode; their labels (or None) and where they came
    from."""
    cfg = run.config.data
    source = data or cfg.source
    if not source or source == "array":
        raise AekitError(f"{run.path} was trained from an in-memory array; pass `data`")
    train, y_train, test, y_test = load_whole_images(source, image_size=cfg.image_size,
                                                     test_fraction=cfg.test_fraction)
    images, labels = (train, y_train) if split == "train" else (test, y_test)
    channels = run.model.config.input_shape[0]
    return [in_channels(im, channels) for im in images], labels, f"{source} ({split} images)"


@dataclass
class WholeImages:
    """Images of any sizes, uint8 (H, W[, C]) each in a model's colour mode, with their labels (None if the data
    has none), ids (file names or indices) and where they came from."""

    images: list[np.ndarray]
    labels: np.ndarray | None
    ids: np.ndarray
    source: str


def whole_samples(run: Run, data: str | None = None, split: str | None = None) -> WholeImages:
    """What a patch run's ``anomalies`` and ``embed`` take, as ``aekit.apps.samples.run_samples`` reads it for other
    runs but whole: all of a file or folder (default: the run's own data; a folder's images at their own sizes,
    named by their path in it and labelled by subfolder when all lie in one), or the ``split`` of a named dataset
    (default "test")."""
    source = data or run.config.data.source
    if not source or source == "array":
        raise AekitError(f"{run.path} was trained from an in-memory array; pass `data`")
    path, channels = Path(source).expanduser(), run.model.config.input_shape[0]
    if not path.exists():  # a named dataset
        if (split or "test") not in SPLITS:
            raise AekitError(f"`split` must be one of {SPLITS}, got {split!r}")
        images, labels, where = whole_images(run, source, split or "test")
        return WholeImages(images, labels, np.arange(len(images)), where)
    if split is not None:
        raise AekitError(f"`split` chooses a split of a named dataset; {source} is a file or folder, and all of it "
                         "is read")
    if path.is_dir() and image_files(path):
        names = [f.relative_to(path) for f in image_files(path)]
        labels = np.array([n.parts[0] for n in names]) if all(len(n.parts) > 1 for n in names) else None
        return WholeImages([read_image(path / n, channels) for n in names], labels, np.array([str(n) for n in names]),
                           f"all {len(names)} images in {path}")
    if path.is_file() and is_image_file(path):
        return WholeImages([read_image(path, channels)], None, np.array([path.name]), str(path))
    samples = read_all(path, image_size=run.config.data.image_size)
    if samples.x.ndim == 2:
        raise AekitError(f"{path} holds table rows; {run.path} takes images")
    return WholeImages([in_channels(im, channels) for im in samples.x], samples.labels, samples.ids, samples.source)


def to_model(run: Run, image: np.ndarray) -> np.ndarray:
    """One uint8 image (H, W[, C]) in model space (C, H, W), float32."""
    return run.normalizer.transform(image[None])[0]


def to_pixels(run: Run, x: np.ndarray) -> np.ndarray:
    """One model-space image (C, H, W) back to uint8 (H, W[, C])."""
    return run.normalizer.inverse(np.clip(x, 0, 1)[None])[0]


def on_numpy(fn: Batch) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` for numpy batches, as ``aekit.apps.tiles.apply_tiled`` calls it."""
    return lambda b: fn(torch.from_numpy(np.ascontiguousarray(b))).float().numpy()


def through_tiles(fn: Batch, image: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """``fn`` over a model-space image (C, H, W) of any size, in tiles that share half a tile, blended."""
    return apply_tiled(on_numpy(fn), image, tile, (tile[0] // 2, tile[1] // 2))


@torch.no_grad()
def pooled_codes(run: Run, images: list[np.ndarray], tile: tuple[int, int]) -> np.ndarray:
    """One code per uint8 image (H, W[, C]) of any size: the mean of the flat codes of its tiles (no overlap, the
    last ones flush with the far edges); (N, code dims) float32."""
    out = []
    for image in images:
        total, count = 0.0, 0
        for _, tiles in tile_batches(to_model(run, image), tile):
            codes = run.encode(torch.from_numpy(tiles)).flatten(1).double()
            total, count = total + codes.sum(0), count + len(codes)
        out.append((total / count).float().numpy())
    return np.stack(out)


__all__ = ["WholeImages", "patch_size", "pooled_codes", "through_tiles", "to_model", "to_pixels", "whole_images",
           "whole_samples"]
