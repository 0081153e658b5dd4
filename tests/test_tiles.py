"""Tiling: the tiles cover every pixel, the blend is a weighted mean (so an identity model returns its input), and a
bad overlap is refused."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.apps.tiles import apply_tiled, edge_weights, tile_starts
from aekit.errors import AekitError


def test_tiles_cover_the_image_with_the_last_one_flush():
    assert tile_starts(28, 28, 14) == [0]
    assert tile_starts(20, 28, 14) == [0]
    assert tile_starts(56, 28, 0) == [0, 28]
    assert tile_starts(57, 28, 0) == [0, 28, 29]
    starts = tile_starts(100, 28, 14)
    assert starts[0] == 0 and starts[-1] == 72 and all(0 < b - a <= 14 for a, b in zip(starts, starts[1:]))


def test_the_window_ramps_over_the_overlap_and_never_reaches_zero():
    assert np.array_equal(edge_weights(6, 0), np.ones(6))
    w = edge_weights(8, 3)
    assert np.allclose(w, [0.25, 0.5, 0.75, 1, 1, 0.75, 0.5, 0.25])


@pytest.mark.parametrize("size", [(28, 28), (41, 50), (13, 60), (9, 11), (100, 29)])
@pytest.mark.parametrize("overlap", [(0, 0), (14, 14), (5, 20)])
def test_an_identity_model_gives_back_its_input(size, overlap):
    image = np.random.default_rng(0).random((3, *size)).astype(np.float32)
    calls = []

    def identity(tiles):
        assert tiles.shape[1:] == (3, 28, 28)
        calls.append(len(tiles))
        return tiles

    out = apply_tiled(identity, image, (28, 28), overlap, chunk=4)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.allclose(out, image, atol=1e-6)
    assert max(calls) <= 4


def test_each_pixel_is_the_weighted_mean_of_the_tiles_over_it():
    image = np.zeros((1, 28, 42), np.float32)  # two tiles, starts 0 and 14, sharing columns 14..27
    out = apply_tiled(lambda t: t + np.arange(len(t))[:, None, None, None], image, (28, 28), (0, 14))  # +0, +1
    assert np.allclose(out[0, :, :14], 0) and np.allclose(out[0, :, 28:], 1)
    shared = out[0, 0, 14:28]  # the first tile's weight falls as the second's rises
    w = edge_weights(28, 14)
    assert np.allclose(shared, w[:14] / (w[14:] + w[:14]))
    assert np.all(np.diff(shared) > 0)


def test_a_bad_overlap_is_refused():
    image = np.zeros((1, 40, 40), np.float32)
    for overlap in [(28, 0), (0, -1)]:
        with pytest.raises(AekitError, match="overlap"):
            apply_tiled(lambda t: t, image, (28, 28), overlap)
