"""A run's latent space as a 2-D map that can be read both ways: test images placed by their codes, and any point of
the map decoded back into an image.

A 2-D code is its own map. A wider code is projected on its first two principal components (PCA of the test codes),
and a point of the map goes back to the code space through the projection's inverse: the mean code plus the point's
coordinates along the two components (the nearest code to the point in the plane they span). A 1-D code is drawn on
a line (the map's second axis is unused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.runs.run import Run, as_run

MAX_POINTS = 2000  # test images placed on the map


@dataclass
class LatentMap:
    """The test set's codes and their 2-D map. ``points`` (N, 2), ``labels`` (N,) or None, ``images`` the test images
    (uint8), ``codes`` (N, D) flat; ``mean`` (D,) and ``components`` (2, D) the PCA (None for a 2-D or 1-D code)."""

    run: Run
    points: np.ndarray
    labels: np.ndarray | None
    images: np.ndarray
    codes: np.ndarray
    code_shape: tuple[int, ...]
    mean: np.ndarray | None
    components: np.ndarray | None

    @property
    def projection(self) -> str:
        """What the map's axes are, in words."""
        width = self.codes.shape[1]
        if self.components is None:
            return "the code itself" if width == 2 else "the code (1-D, on the first axis)"
        return f"the first two principal components of the {width}-D code (PCA of the test codes)"

    def code_at(self, points: np.ndarray) -> np.ndarray:
        """Flat codes (K, D) of map points (K, 2): the projection's inverse."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.components is None:
            return points[:, : self.codes.shape[1]].astype(np.float32)
        return (self.mean + points @ self.components).astype(np.float32)

    def decode_at(self, points: np.ndarray) -> np.ndarray:
        """The images (K, H, W[, C], uint8) decoded at map points (K, 2)."""
        return self.decode_codes(self.code_at(points))

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Flat codes (K, D) decoded into uint8 images."""
        z = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32)).view(-1, *self.code_shape)
        return self.run.normalizer.inverse(self.run.decode(z).clamp(0, 1).numpy())

    def nearest(self, point: tuple[float, float]) -> int:
        """The index of the test image placed nearest to ``point`` on the map."""
        return int(np.argmin(((self.points - np.asarray(point, dtype=np.float64)) ** 2).sum(axis=1)))

    def interpolate(self, a: int, b: int, t: float) -> np.ndarray:
        """The image decoded at fraction ``t`` (0..1) of the way from test image ``a``'s code to ``b``'s (the whole
        codes, not their map points)."""
        for i in (a, b):
            if not 0 <= i < len(self.codes):
                raise AekitError(f"test image {i} is not on the map (0 to {len(self.codes) - 1})")
        if not 0.0 <= t <= 1.0:
            raise AekitError(f"`t` must be between 0 and 1, got {t}")
        return self.decode_codes(((1 - t) * self.codes[a] + t * self.codes[b])[None])[0]


def latent_map(run: Run | str | Path, n: int = MAX_POINTS) -> LatentMap:
    """The map of the first ``n`` test images of an image run's own data."""
    run = as_run(run)
    if run.normalizer.kind == TABLE:
        raise AekitError(f"{run.path.name} is a table run; the latent map draws images")
    ds = run.dataset()
    images = ds.x_test[:n]
    if len(images) == 0:
        raise AekitError(f"{run.path.name}'s data has no test images")
    z = run.encode(torch.from_numpy(run.normalizer.transform(images)))
    codes = z.flatten(1).numpy().astype(np.float64)
    labels = None if ds.y_test is None else np.asarray(ds.y_test[:n])
    if codes.shape[1] <= 2:
        points = codes if codes.shape[1] == 2 else np.column_stack([codes[:, 0], np.zeros(len(codes))])
        return LatentMap(run, points, labels, images, codes, tuple(z.shape[1:]), None, None)
    mean = codes.mean(axis=0)
    _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)  # rows of vt: principal directions, by variance
    components = vt[:2]
    return LatentMap(run, (codes - mean) @ components.T, labels, images, codes, tuple(z.shape[1:]), mean, components)
