"""Training-time augmentation: the geometry of one warp, the random draws, and the trainer's use of them."""

from __future__ import annotations

import math

import pytest
import torch
from test_train import _assert_same_weights, _kill_and_resume, _model

from aekit import TrainConfig, train
from aekit.errors import AekitError
from aekit.training.augment import _smooth, augment, warp
from aekit.training.config import check_augment


def _one(a=0.0, z=1.0, s=(0.0, 0.0)):
    return torch.tensor([a]), torch.tensor([z]), torch.tensor([list(s)])


def _peak(y: torch.Tensor) -> tuple[int, int]:
    return divmod(int(y.argmax()), y.shape[-1])


def test_warp_rotates_zooms_and_shifts_as_displayed():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 1, 2] = 1  # up and to the left of the centre (4, 4)
    assert _peak(warp(x, *_one(math.pi / 2))) == _peak(torch.rot90(x, 1, (2, 3))) == (6, 1)  # counter-clockwise
    assert _peak(warp(x, *_one(s=(2, 1)))) == (2, 4)  # 2 pixels right, 1 down
    near = torch.zeros(1, 1, 9, 9)
    near[0, 0, 3, 3] = 1
    assert _peak(warp(near, *_one(z=2.0))) == (2, 2)  # twice as far from the centre
    # a quarter turn of an asymmetric image is exactly rot90 (bicubic at whole pixels)
    img = torch.rand(2, 3, 12, 12)
    assert torch.allclose(warp(img, *[t.repeat(2, *[1] * (t.dim() - 1)) for t in _one(math.pi / 2)]),
                          torch.rot90(img, 1, (2, 3)), atol=1e-5)


def test_warp_keeps_a_round_blob_round_on_a_wide_image():
    h, w = 20, 40  # non-square: a rotation must act in pixels, not in the stretched [-1, 1] square
    yy, xx = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    blob = torch.exp(-(xx**2 + yy**2) / 18)[None, None]
    inner = (xx**2 + yy**2 <= 81)[None, None]  # points whose source lies inside the image at any angle
    for degrees in (30, 90):
        turned = warp(blob, *_one(math.radians(degrees)))
        assert (turned - blob)[inner].abs().max() < 0.02  # bicubic interpolation error only
    oval = torch.exp(-(xx**2 / 4 + yy**2) / 18)[None, None]
    assert (warp(oval, *_one(math.radians(90))) - blob)[inner].abs().max() > 0.3  # an oval does turn


def test_augment_draws_within_its_bounds_and_keeps_a_share_untouched(small_x):
    x = small_x[:64]
    assert augment(x) is x and augment(x, rotate=10, p=0) is x
    torch.manual_seed(0)
    y = augment(x, rotate=8, scale=0.08, elastic=0.7, p=0.5)
    assert y.shape == x.shape and y.dtype == x.dtype and y.min() >= 0 and y.max() <= 1
    same = (y == x).flatten(1).all(1)
    assert 16 < int(same.sum()) < 48  # about half kept, bit for bit
    moved = (y - x)[~same].abs().flatten(1).mean(1)
    assert bool((moved > 0.005).all())  # the others really distorted
    ink = x.flatten(1).sum(1)
    assert torch.allclose(y.flatten(1).sum(1)[~same], ink[~same], rtol=0.3)  # ... but still the same digits
    torch.manual_seed(0)
    assert torch.equal(y, augment(x, rotate=8, scale=0.08, elastic=0.7, p=0.5))  # torch's global RNG: reproducible


def test_elastic_field_has_the_stated_rms():
    torch.manual_seed(0)
    field = _smooth(torch.randn(64, 2, 56, 56), 8.0)
    assert abs(field[..., 16:-16, 16:-16].pow(2).mean().sqrt().item() - 1) < 0.1


@pytest.mark.parametrize("bad", [dict(rotate=-1), dict(scale=1.0), dict(shift=-0.1), dict(elastic=-1), dict(p=1.5)])
def test_bad_augmentation_settings(bad):
    args = dict(rotate=0, scale=0, shift=0, elastic=0, p=1) | bad
    with pytest.raises(ValueError, match="augmentation"):
        check_augment(**args)
    with pytest.raises(ValueError, match="augmentation"):
        TrainConfig(**{f"augment_{k}": v for k, v in args.items()})


def test_trainer_augments_images_resumably_and_refuses_tables(small_x, tmp_path, monkeypatch):
    cfg = TrainConfig(epochs=2, batch_size=32, checkpoint_every=5, noise="gaussian", augment_rotate=10,
                      augment_scale=0.1, augment_elastic=1.0, augment_p=0.5)
    full = _model()
    train(full, small_x, cfg, tmp_path / "full", progress=False)
    _assert_same_weights(full, _kill_and_resume(monkeypatch, small_x, cfg, tmp_path / "killed", 5, seed=99))
    plain = _model()
    train(plain, small_x, TrainConfig(epochs=2, batch_size=32, noise="gaussian"), progress=False)
    assert not torch.equal(next(plain.parameters()), next(full.parameters()))  # the distortions changed training
    with pytest.raises(AekitError, match="image data"):
        train(_model(shape=(784,)), small_x.flatten(1), cfg, progress=False)
