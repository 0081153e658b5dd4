"""Noise models for denoising."""

from __future__ import annotations

import pytest
import torch

from aekit.training.config import check_noise
from aekit.training.noise import corrupt


def test_noise_models_have_the_stated_statistics():
    x = torch.full((200, 1, 28, 28), 0.5)
    g = torch.Generator().manual_seed(0)
    gauss = corrupt(x, "gaussian", 0.1, g)
    assert abs((gauss - x).std().item() - 0.1) < 0.005 and gauss.min() >= 0 and gauss.max() <= 1
    sp = corrupt(x, "salt_pepper", 0.2, g)
    changed = sp != x
    assert abs(changed.float().mean().item() - 0.2) < 0.01
    assert set(sp[changed].unique().tolist()) == {0.0, 1.0}
    masked = corrupt(x, "mask", 0.3, g)
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.01
    assert corrupt(x, "none", 0.5) is x


def test_noise_is_reproducible_with_a_generator():
    x = torch.rand(4, 10)
    a = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(1))
    b = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("kind, strength", [("speckle", 0.1), ("mask", 1.5), ("gaussian", -1)])
def test_bad_noise_settings(kind, strength):
    with pytest.raises(ValueError):
        check_noise(kind, strength)
