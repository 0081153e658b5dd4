"""A drawing made into a model's input as the run's data was made (MNIST: crop, 20x20 box, centre of mass)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aekit.apps.drawing import mnist_like, prepare_drawing
from aekit.errors import AekitError


def _mass_centre(image: np.ndarray) -> tuple[float, float]:
    mass = image.astype(np.float64)
    ys, xs = np.indices(image.shape)
    return float((ys * mass).sum() / mass.sum()), float((xs * mass).sum() / mass.sum())


def test_an_mnist_digit_drawn_large_and_off_centre_comes_back_as_mnist_made_it(mnist):
    """MNIST's digits were made this way: a digit blown up 10x and put in a corner of a large canvas is prepared
    back into (nearly) the same 28x28 digit."""
    for digit in mnist.x_test[:20]:
        canvas = np.zeros((500, 600), np.uint8)
        big = np.asarray(Image.fromarray(digit).resize((280, 280), Image.BILINEAR))
        canvas[200:480, 20:300] = big
        prepared = mnist_like(canvas)
        assert prepared.shape == (28, 28) and prepared.dtype == np.uint8
        assert np.abs(prepared.astype(int) - digit.astype(int)).mean() < 12  # out of 255: a pixel's shift at most


def test_the_ink_fits_a_20_pixel_box_with_its_centre_of_mass_in_the_middle():
    canvas = np.zeros((300, 300), np.uint8)
    canvas[10:40, 200:290] = 255  # a wide bar, far off-centre
    prepared = mnist_like(canvas)
    ink = np.argwhere(prepared > 0)
    height, width = ink.max(axis=0) - ink.min(axis=0) + 1
    assert width == 20 and 6 <= height <= 8  # 90x30 scaled by 20/90, aspect kept
    cy, cx = _mass_centre(prepared)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_an_empty_drawing_and_a_wrong_array_are_refused():
    with pytest.raises(AekitError, match="empty"):
        mnist_like(np.zeros((280, 280), np.uint8))
    with pytest.raises(AekitError, match="uint8 grey"):
        mnist_like(np.zeros((28, 28), np.float32))


def test_other_shapes_are_resized_in_the_models_colour_mode():
    rgb = np.zeros((100, 50, 3), np.uint8)
    rgb[..., 0] = 200
    out = prepare_drawing(rgb, (3, 32, 32))
    assert out.shape == (32, 32, 3) and (out[..., 0] == 200).all() and (out[..., 1] == 0).all()
    assert prepare_drawing(rgb, (1, 16, 16)).shape == (16, 16)
    drawn = np.zeros((280, 280, 3), np.uint8)
    drawn[100:200, 120:140] = 255
    assert np.array_equal(prepare_drawing(drawn, (1, 28, 28)), mnist_like(drawn[..., 0]))
