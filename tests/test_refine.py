"""Encoder-side code refinement: better codes for the same decoder, and smaller/better .aek files any decoder reads."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tiny import TINY_COMPRESS, compress_train_args, fit_batch

from aekit.apps.codec import Codec
from aekit.apps.refine import code_scale, rd_objective, refine_codes, refine_symbols
from aekit.cli import main
from aekit.errors import AekitError
from aekit.models import build_model


def _fit(model, x, steps=40):
    """A few optimiser steps, so the encoder is a real (if rough) amortised guess."""
    torch.manual_seed(0)
    fit_batch(model, x, steps)
    return model.eval()


@pytest.mark.parametrize("name", ["dense", "conv", "vae"])
def test_refined_codes_reconstruct_better(name, small_x):
    torch.manual_seed(0)
    model = _fit(build_model(name, input_shape=(1, 28, 28), code_size=8), small_x[:64])
    x = small_x[64:96]
    with torch.no_grad():
        z0 = model.encode(x)
        before = (model.decode(z0) - x).pow(2).mean().item()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert torch.equal(refine_codes(model, x, steps=0), z0)  # no steps: the encoder's codes exactly
    z = refine_codes(model, x, steps=50, lr=0.1, loss="mse", batch_size=10)
    assert z.shape == z0.shape
    with torch.no_grad():
        after = (model.decode(z) - x).pow(2).mean().item()
    assert after < 0.93 * before
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())  # the model is only read


def test_default_step_follows_each_codes_scale(small_x):
    torch.manual_seed(0)
    model = _fit(build_model("dense", input_shape=(1, 28, 28), code_size=8), small_x[:64])
    x, c = small_x[64:96], 100.0
    scaled = copy.deepcopy(model)  # the same autoencoder with codes 100 times larger (the ReLU code commutes)
    with torch.no_grad():
        scaled.encoder[2].weight *= c
        scaled.encoder[2].bias *= c
        scaled.decoder[0].weight /= c
        assert torch.allclose(scaled.encode(x), c * model.encode(x), rtol=1e-4)

    def rebuilt(m, **kw):
        with torch.no_grad():
            return m.decode(refine_codes(m, x, steps=30, loss="mse", **kw))
    assert torch.allclose(rebuilt(scaled), rebuilt(model), atol=1e-4)  # the default step scales with the code
    assert not torch.allclose(rebuilt(scaled, lr=0.1), rebuilt(model, lr=0.1), atol=1e-3)  # an absolute one does not
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    assert code_scale(z).flatten().tolist() == pytest.approx([(12.5 ** 0.5 + 0.5 ** 0.5) / 2, 12.5 ** 0.5, 0.5 ** 0.5])
    assert code_scale(torch.zeros(2, 3)).flatten().tolist() == [1.0, 1.0]


def test_refinement_refuses_what_it_cannot_do(small_x):
    vq = build_model("vq", input_shape=(1, 28, 28), code_size=8)
    with pytest.raises(AekitError, match="discrete"):
        refine_codes(vq, small_x[:4])
    with pytest.raises(AekitError, match="refine_symbols"):
        refine_codes(build_model("compress", **TINY_COMPRESS), small_x[:4])
    dense = build_model("dense", input_shape=(1, 28, 28), code_size=4)
    with pytest.raises(AekitError, match="learning rate"):
        refine_codes(dense, small_x[:4], lr=0.0)
    with pytest.raises(AekitError, match="loss"):
        refine_codes(dense, small_x[:4], loss="l1")


def test_refined_symbols_lower_the_rate_distortion_objective(small_x):
    torch.manual_seed(0)
    model = _fit(build_model("compress", **TINY_COMPRESS), small_x[:64], steps=60)
    x = small_x[64:96]
    lv = model.level_tensor(len(x), 1, x.device)
    with torch.no_grad():
        plain = model.symbols(x, 1)
    refined = refine_symbols(model, x, 1, steps=30, lr=0.2)
    assert torch.equal(refined, refined.round())  # integer symbols, as the coder needs
    with torch.no_grad():
        j_plain, j_refined = rd_objective(model, plain, x, lv), rd_objective(model, refined, x, lv)
    assert bool((j_refined <= j_plain).all())  # each image keeps the better of the two
    assert j_refined.mean() < 0.95 * j_plain.mean()
    # the files hold exactly the refined symbols: any decoder of this model rebuilds their decoding
    codec = Codec(model, "ab12" * 16)
    files = codec.encode(x[:4], 1, refine=30)
    decoded = torch.stack([img for img, _, _ in codec.decode_many(files)])
    with torch.no_grad():
        expected = model.decode_symbols(refine_symbols(model, x[:4], 1, steps=30), 1)
    assert torch.allclose(decoded, expected, atol=1e-6)


def test_cli_compress_refine(mnist, mnist_npz, tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    assert main(compress_train_args(mnist_npz, run, epochs="0.3")) == 0
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(mnist.x_test[i]).save(src / f"d{i}.png")
    assert main(["compress", str(run), str(src), "--out", str(tmp_path / "aek"), "--refine", "10"]) == 0
    capsys.readouterr()
    assert main(["decompress", str(run), *map(str, sorted((tmp_path / "aek").iterdir())), "--out",
                 str(tmp_path / "png")]) == 0
    with Image.open(tmp_path / "png" / "d0.png") as im:
        assert np.asarray(im).shape == (28, 28)
    capsys.readouterr()
    assert main(["compress", str(run), str(src), "--out", str(tmp_path / "aek2"), "--refine", "-1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--refine" in err
