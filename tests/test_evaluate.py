"""SSIM against scikit-image, and FID with aekit's own feature net (trained on the bundled 8x8 digits)."""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest
import torch

from aekit.apps import features as fidmod
from aekit.data import load_dataset
from aekit.errors import AekitError
from aekit.metrics.reconstruction import reconstruction_metrics, ssim, ssim_window_size

# ---------------------------------------------------------------- SSIM


def skimage_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """scikit-image's mean SSIM over samples of (N, C, H, W) arrays, with the Wang et al. settings."""
    metrics = pytest.importorskip("skimage.metrics")
    return float(np.mean([metrics.structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=0)
        for x, y in zip(a, b)]))


def test_ssim_matches_skimage_on_random_colour_images():
    rng = np.random.default_rng(0)
    a = rng.random((5, 3, 17, 23))
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    assert ssim(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-4)
    assert ssim(a * 255, b * 255, data_range=255.0) == pytest.approx(skimage_ssim(a * 255, b * 255, 255.0), abs=1e-4)


def test_ssim_matches_skimage_on_real_digits(mnist):
    x = mnist.x_test[:64, None].astype(np.float64) / 255
    blurred = torch.nn.functional.avg_pool2d(torch.from_numpy(x), 3, stride=1, padding=1).numpy()
    shifted = np.roll(x, 1, axis=3)
    for y in (blurred, shifted, x[::-1].copy()):
        assert ssim(torch.from_numpy(x).float(), y) == pytest.approx(skimage_ssim(x, y), abs=1e-4)


def test_ssim_small_images_use_the_largest_odd_window():
    pytest.importorskip("scipy.ndimage")
    from scipy.ndimage import gaussian_filter

    assert [ssim_window_size(s, s) for s in (28, 11, 10, 8, 7, 2, 1)] == [11, 11, 9, 7, 7, 1, 1]
    rng = np.random.default_rng(1)
    a, b = rng.random((4, 1, 8, 8)), rng.random((4, 1, 8, 8))

    def f(img):  # a 7-tap Gaussian, sigma 1.5 (radius 3 = int(2.0 * 1.5 + 0.5)), valid region 2x2
        return gaussian_filter(img, 1.5, truncate=2.0)[3:-3, 3:-3]

    vals = []
    for x, y in zip(a[:, 0], b[:, 0]):
        mx, my = f(x), f(y)
        vx, vy, cxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
        c1, c2 = 0.01**2, 0.03**2
        vals.append((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean())
    assert ssim(a, b) == pytest.approx(np.mean(vals), abs=1e-10)


def test_ssim_properties():
    rng = np.random.default_rng(2)
    x = rng.random((8, 1, 16, 16))
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    little = ssim(x, np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1))
    lots = ssim(x, np.clip(x + rng.normal(0, 0.3, x.shape), 0, 1))
    assert 1.0 > little > lots
    with pytest.raises(AekitError):
        ssim(x[:, 0], x[:, 0])


def test_reconstruction_metrics_reports_ssim_for_images_only():
    x = np.random.default_rng(3).random((4, 1, 12, 12))
    assert reconstruction_metrics(x, x)["ssim"] == pytest.approx(1.0)
    assert "ssim" not in reconstruction_metrics(x.reshape(4, -1), x.reshape(4, -1))


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_distance_identical_and_shifted():
    f = np.random.default_rng(4).normal(size=(500, 6))
    assert fidmod.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6)
    assert fidmod.frechet_distance(f, f + 1.0) == pytest.approx(6.0, rel=1e-6)  # |mu shift|^2 = 6, same covariance


def test_kernel_distance_is_the_unbiased_mmd_and_tells_shifted_sets_apart():
    from aekit.metrics.fid import kernel_distance

    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, (5, 3))
    k = lambda x, y: (x @ y / 3 + 1) ** 3  # noqa: E731
    within = (sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / 42
              + sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20)
    assert kernel_distance(a, b) == pytest.approx(within - 2 * np.mean([[k(x, y) for y in b] for x in a]), rel=1e-12)
    same, other = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    shifted = kernel_distance(same, other + 0.3)
    assert abs(kernel_distance(same, other)) < 0.05 * shifted  # no bias from the sample size: about 0
    assert kernel_distance(same, other + 0.6) > shifted > 0
    with pytest.raises(AekitError, match="same D"):
        kernel_distance(same, other[:, :4])


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(5)
    a, b = rng.normal(1.0, 2.0, (400, 1)), rng.normal(-0.5, 0.5, (300, 1))
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    assert fidmod.frechet_distance(a, b) == pytest.approx((a.mean() - b.mean()) ** 2 + (sa - sb) ** 2, rel=1e-9)
    grid = np.array([[i, j] for i in (-1, 1) for j in (-1, 1)], dtype=float)  # exactly uncorrelated columns
    s1, s2 = np.array([2.0, 0.5]), np.array([1.0, 3.0])
    m1, m2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    sd = np.sqrt(4 / 3)  # sample std of the grid's columns
    expected = ((m1 - m2) ** 2).sum() + ((s1 * sd - s2 * sd) ** 2).sum()
    assert fidmod.frechet_distance(grid * s1 + m1, grid * s2 + m2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(AekitError):
        fidmod.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(AekitError):
        fidmod.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------- FID with the digits feature net


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A cache folder holding the digits feature net (seed 0), trained once for this module."""
    root = tmp_path_factory.mktemp("aekit-cache")
    fidmod.feature_net("digits", 0, cache_dir=root)
    return root


@pytest.fixture
def cache(digits_cache, tmp_path, monkeypatch):
    """A private copy of the digits cache, also set as $AEKIT_CACHE."""
    shutil.copytree(digits_cache, tmp_path / "c")
    monkeypatch.setenv("AEKIT_CACHE", str(tmp_path / "c"))
    return tmp_path / "c"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_feature_net_cache_round_trip(cache, digits, monkeypatch):
    path = fidmod.cache_path("digits", 0)
    assert path == cache / "fid" / "digits-seed0.safetensors" and path.is_file()
    first = fidmod.feature_net("digits")
    mtime = os.stat(path).st_mtime_ns
    monkeypatch.setattr(fidmod, "train_feature_net", lambda *a, **k: pytest.fail("retrained a cached net"))
    second = fidmod.feature_net("digits")
    assert os.stat(path).st_mtime_ns == mtime
    np.testing.assert_array_equal(first.features(digits.x_test), second.features(digits.x_test))
    meta = second.meta
    assert meta["dataset"] == "digits" and meta["seed"] == 0 and meta["input_shape"] == [1, 8, 8]
    assert meta["test_accuracy"] > 0.95 and meta["aekit"]


def test_feature_net_is_deterministic(cache, digits):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    again = fidmod.train_feature_net(digits, seed=0)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    cached = fidmod.feature_net("digits")
    for k, v in cached.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_features_shape_and_errors(cache, digits):
    net = fidmod.feature_net("digits")
    assert net.features(digits.x_test[:10]).shape == (10, 128)
    assert net.features(digits.x_test[:10, :, :, None]).shape == (10, 128)  # (N, H, W, 1) is the same shape
    with pytest.raises(AekitError, match="resizes nothing"):
        net.features(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(AekitError, match="uint8"):
        net.features(digits.x_test[:3].astype(np.float32))
    with pytest.raises(AekitError):
        fidmod.fid(np.zeros((3, 28, 28), np.uint8), "digits")
    with pytest.raises(AekitError, match="named datasets"):
        fidmod.feature_net("not-a-dataset")


def test_fid_real_below_noise_and_floor(cache, digits):
    rng = np.random.default_rng(6)
    noise = rng.integers(0, 256, digits.x_train.shape, dtype=np.uint8)
    assert fidmod.fid(digits.x_test, "digits") == pytest.approx(0.0, abs=1e-6)  # the reference set itself
    real = fidmod.fid(digits.x_train, "digits")
    noisy = fidmod.fid(noise, "digits")
    floor = fidmod.fid_floor("digits")
    assert floor == pytest.approx(real)  # n=10000 > 1,438: the whole training split
    assert 0 <= floor < 0.1 * noisy
    assert fidmod.fid_floor("digits", n=300) > 0


def test_corrupt_cache_is_retrained(cache, digits, caplog):
    path = fidmod.cache_path("digits", 0)
    path.write_bytes(b"not a safetensors file")
    with caplog.at_level(logging.WARNING, logger="aekit.apps.features"):
        net = fidmod.feature_net("digits")
    assert "deleting it and training again" in caplog.text
    assert net.features(digits.x_test[:2]).shape == (2, 128)
    assert fidmod.load_feature_net(path, "digits", 0).meta["dataset"] == "digits"  # a good file again


def test_mnist_feature_net_accuracy(mnist):
    net = fidmod.train_feature_net(mnist, seed=0)
    logging.getLogger(__name__).info("MNIST feature net: %s", net.meta)
    assert net.meta["test_accuracy"] >= 0.985
    assert net.features(mnist.x_test[:5]).shape == (5, 128)
