"""Identities: fixed appearance renderers of digits, and MNIST dealt to them as disjoint named datasets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from aekit.data import load_dataset
from aekit.data.identities import IDENTITIES, identity_datasets, identity_share, paper_sheet, render
from aekit.data.named import named_datasets
from aekit.errors import AekitError


def _square(side: int = 8) -> np.ndarray:
    """One (1, 28, 28) image: a solid square of full ink, its top-left corner at (10, 10)."""
    x = np.zeros((1, 28, 28), np.uint8)
    x[0, 10 : 10 + side, 10 : 10 + side] = 255
    return x


def _ink(image: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Where an RGB image (H, W, 3) differs from its background (the identity's drawing of a blank image, or the
    image's corner pixel) by more than 40 of 255."""
    background = image[0, 0] if background is None else background
    return np.abs(image.astype(int) - background.astype(int)).max(-1) > 40


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_every_renderer_is_deterministic_and_draws_uint8_rgb_of_the_same_size(name, mnist):
    x = mnist.x_test[:50]
    first, again = render(name, x), render(name, x.copy())
    assert first.dtype == np.uint8 and first.shape == (50, 28, 28, 3)
    assert np.array_equal(first, again)
    assert np.array_equal(render(name, x[7:8])[0], first[7])  # an image is drawn the same alone or in a batch


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_a_renderer_keeps_the_digit_where_it_was(name, mnist):
    """Pose and shape stay the source's: all drawn ink lies within 2 pixels of the digit's ink, and every stroke
    (the digit's pixels over 127) has drawn ink within 2 pixels."""
    background, near = render(name, np.zeros((1, 28, 28), np.uint8))[0], np.ones((5, 5), bool)
    for image, drawn in zip(mnist.x_test[:20], render(name, mnist.x_test[:20])):
        ink = _ink(drawn, background)
        assert ink.sum() > 20
        assert not (ink & ~ndimage.binary_dilation(image > 0, near)).any()
        assert not ((image > 127) & ~ndimage.binary_dilation(ink, near)).any()


def test_the_identities_look_different_from_each_other(mnist):
    drawn = {name: render(name, mnist.x_test[:100]).astype(float) for name in IDENTITIES}
    for a in IDENTITIES:
        for b in IDENTITIES:
            if a < b:
                assert np.abs(drawn[a] - drawn[b]).mean() > 20, (a, b)


def test_bold_thickens_strokes_and_outline_draws_only_their_edges():
    square = _square()
    bold = _ink(render("bold", square)[0])
    assert bold.sum() == 10 * 10 and bold[9:19, 9:19].all()  # one pixel more on every side
    outline = _ink(render("outline", square)[0])
    assert not outline[10:18, 10:18].any()  # hollow: the stroke itself is background
    assert outline[9, 9:19].all() and outline[18, 9:19].all() and outline[9:19, 9].all() and outline[9:19, 18].all()


def test_paper_is_one_textured_sheet_under_every_digit_and_bleed_spreads_the_ink():
    blank = np.zeros((2, 28, 28), np.uint8)
    sheets = render("paper", blank)
    assert np.array_equal(sheets[0], sheets[1]) and sheets[0].std(axis=(0, 1)).min() > 3  # textured, not flat
    assert not paper_sheet(28, 28).flags.writeable
    assert np.array_equal(render("paper", blank), sheets)
    spread = _ink(render("bleed", _square())[0])
    assert spread.sum() > 64 and spread[10:18, 10:18].all()


def test_bad_input_and_unknown_identities_are_one_clear_error():
    with pytest.raises(AekitError, match="uint8 grey digits"):
        render("bold", np.zeros((2, 28, 28), np.float32))
    with pytest.raises(AekitError, match="uint8 grey digits"):
        render("bold", np.zeros((2, 28, 28, 3), np.uint8))
    with pytest.raises(AekitError, match="unknown identity 'ink'"):
        render("ink", _square())
    with pytest.raises(AekitError, match="unknown identity"):
        identity_share("ink", 100)


@pytest.mark.parametrize("n", [60000, 1001])
def test_the_identities_training_shares_are_disjoint_and_cover_every_image(n):
    shares = {name: identity_share(name, n) for name in IDENTITIES}
    together = np.concatenate(list(shares.values()))
    assert len(together) == n and np.array_equal(np.sort(together), np.arange(n))  # disjoint and complete
    assert max(map(len, shares.values())) - min(map(len, shares.values())) <= 1
    assert all(np.array_equal(identity_share(name, n), s) for name, s in shares.items())  # fixed


def test_an_identity_is_a_named_dataset_of_its_own_share_of_mnist(mnist):
    assert set(identity_datasets()) <= set(named_datasets())
    bold, paper = load_dataset("mnist-bold"), load_dataset("mnist-paper")
    share = identity_share("bold", len(mnist.x_train))
    assert bold.x_train.shape == (15000, 28, 28, 3) and bold.x_test.shape == (10000, 28, 28, 3)
    assert np.array_equal(bold.x_train[:5], render("bold", mnist.x_train[share[:5]]))
    assert np.array_equal(bold.y_train, mnist.y_train[share]) and np.array_equal(bold.y_test, mnist.y_test)
    assert np.array_equal(paper.x_test[:5], render("paper", mnist.x_test[:5]))  # the paired truth
    assert not set(share) & set(identity_share("paper", len(mnist.x_train)))
