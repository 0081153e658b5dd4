"""Every model in the table: shapes, config validation, save/load equality, and that it can learn."""

from __future__ import annotations

import pytest
import torch

from aekit import checkpoint as ckpt
from aekit.models import MODELS, build_model, model_name

SHAPES = [(1, 28, 28), (3, 9, 7), (20,)]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_round_trip(name, shape):
    model = build_model(name, input_shape=shape, code_size=5)
    x = torch.rand(4, *shape)
    out = model(x)
    assert out["x_hat"].shape == x.shape and out["logits"].shape == x.shape
    assert out["z"].shape[0] == 4
    assert torch.allclose(model.decode(model.encode(x)), out["x_hat"])
    terms = model.loss(x, out)
    assert terms["loss"].ndim == 0 and torch.isfinite(terms["loss"])
    assert 0 <= out["x_hat"].min() and out["x_hat"].max() <= 1


def test_dense_is_the_articles_model():
    model = build_model("dense", input_shape=(784,))
    widths = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [(784, 128), (128, 32), (32, 128), (128, 784)]
    assert sum(p.numel() for p in model.parameters()) == 784 * 128 + 128 + 128 * 32 + 32 + 32 * 128 + 128 + 128 * 784 + 784
    first = model.encoder[0]
    assert torch.count_nonzero(first.bias) == 0  # Keras: zero biases
    limit = (6 / (784 + 128)) ** 0.5  # Glorot-uniform bound
    assert first.weight.abs().max() <= limit and first.weight.abs().max() > 0.9 * limit


def test_bce_matches_a_direct_computation():
    model = build_model("dense", input_shape=(10,), code_size=3)
    x = torch.rand(8, 10)
    out = model(x)
    p = out["x_hat"].double()
    direct = -(x * p.log() + (1 - x) * (1 - p).log()).mean()
    assert torch.allclose(model.loss(x, out)["loss"].double(), direct, atol=1e-6)


@pytest.mark.parametrize("bad", [dict(code_size=0), dict(loss="l1"), dict(output_activation="identity"),
                                 dict(activation="nope"), dict(input_shape=(0, 3)), dict(init="he")])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        build_model("dense", {"input_shape": (4,), **bad})


def test_unknown_model_and_field():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("transformer", input_shape=(4,))
    with pytest.raises(ValueError, match="unknown"):
        build_model("dense", {"input_shape": (4,), "depth": 3})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_gives_identical_outputs(name, tmp_path):
    model = build_model(name, input_shape=(1, 12, 12), code_size=6).eval()
    ckpt.save_model(tmp_path, model, ckpt.run_config(model, {"normalizer": None}))
    loaded, cfg = ckpt.load_model(tmp_path)
    assert cfg["model"] == model_name(model) == name
    assert loaded.config == model.config
    x = torch.rand(5, 1, 12, 12)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert torch.equal(model(x)["x_hat"], loaded(x)["x_hat"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_overfits_one_batch(name, small_x):
    torch.manual_seed(0)
    x = small_x[:32]
    model = build_model(name, input_shape=tuple(x.shape[1:]))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        loss = model.loss(x, model(x))["loss"]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mse = ((model(x)["x_hat"] - x) ** 2).mean().item()
    assert loss.item() < 0.5 * first and mse < 0.01
