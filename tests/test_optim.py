"""MuonAdam: Muon for weight matrices and conv kernels, Adam for the rest, inside the one trainer."""

from __future__ import annotations

import math

import pytest
import torch
from test_train import Stop, _assert_same_weights, _die_after_checkpoint

from aekit import TrainConfig, train
from aekit.models import build_model
from aekit.runs import files as ckpt
from aekit.training.optim import NS_COEFFICIENTS, RMS_MATCH, MuonAdam, orthogonalize


def _newton_schulz(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The iteration as Jordan writes it, on the matrix itself, in float64."""
    a, b, c = NS_COEFFICIENTS
    x = g.double() / g.double().norm()
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x


@pytest.mark.parametrize("shape", [(4, 432), (48, 432), (32, 4704), (9, 48), (96, 96)])
def test_orthogonalize_is_the_newton_schulz_iteration_run_in_the_small_gram_space(shape):
    torch.manual_seed(0)
    g = torch.randn(3, *shape)
    g[:, 0] *= 30  # one dominant direction, as gradients have
    out = orthogonalize(g)
    assert out.shape == g.shape and out.dtype == torch.float32
    for gi, oi in zip(g, out):
        ref = _newton_schulz(gi)
        assert torch.allclose(oi.double(), ref, atol=2e-4, rtol=1e-3)
        s = torch.linalg.svdvals(ref)
        assert s.max() < 1.25 and s.median() > 0.65  # near-orthogonal (not exactly: the tiny singular values of a
        #                                              square random matrix stay small after 5 steps)


def test_one_step_is_nesterov_momentum_orthogonalized_and_adam_for_the_rest():
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(6, 8, 3)  # kernel (8, 6, 3, 3) -> an 8 x 54 matrix; its bias (8,) takes Adam steps
    twin = torch.nn.Conv2d(6, 8, 3)
    twin.load_state_dict(conv.state_dict())
    lr, grads = 0.01, [torch.randn(8, 6, 3, 3), torch.randn(8, 6, 3, 3)]
    opt = MuonAdam(conv.parameters(), lr=lr, eps=1e-8)
    adam = torch.optim.Adam([twin.bias], lr=lr, eps=1e-8)
    w, buf = conv.weight.detach().clone().double(), torch.zeros(8, 54, dtype=torch.float64)
    for gw in grads:
        conv.weight.grad, conv.bias.grad = gw.clone(), gw[:, 0, 0, 0].clone()
        twin.bias.grad = gw[:, 0, 0, 0].clone()
        opt.step()
        adam.step()
        g = gw.reshape(8, -1).double()
        buf = 0.95 * buf + 0.05 * g
        w -= lr * RMS_MATCH * math.sqrt(54) * _newton_schulz(g + 0.95 * (buf - g)).reshape(w.shape)
    assert torch.allclose(conv.weight.double(), w, atol=1e-5)
    assert torch.allclose(conv.bias, twin.bias, atol=1e-7)
    assert set(opt.state[conv.weight]) == {"momentum_buffer"}
    assert set(opt.state[conv.bias]) == {"step", "exp_avg", "exp_avg_sq"}


def test_tall_weights_are_orthogonalized_on_their_short_side_with_wide_ones_of_the_same_shape():
    torch.manual_seed(2)
    tall, wide = torch.nn.Parameter(torch.zeros(40, 5)), torch.nn.Parameter(torch.zeros(5, 40))
    gt, gw = torch.randn(40, 5), torch.randn(5, 40)
    tall.grad, wide.grad = gt.clone(), gw.clone()
    MuonAdam([tall, wide], lr=1.0, momentum=0.0).step()
    scale = -RMS_MATCH * math.sqrt(40)
    assert torch.allclose(tall.double(), scale * _newton_schulz(gt.T).T, atol=1e-4)
    assert torch.allclose(wide.double(), scale * _newton_schulz(gw), atol=1e-4)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bad Muon settings"):
        MuonAdam([torch.nn.Parameter(torch.zeros(2, 2))], momentum=1.0)


def _conv(seed=0):
    torch.manual_seed(seed)
    return build_model("conv", input_shape=(1, 28, 28), channels=[8, 16], code_size=8)


def test_the_trainer_fits_with_muon_and_resumes_it_identically(small_x, tmp_path, monkeypatch):
    # Bitwise-identical resumes are a CPU promise (cuDNN's convolutions are not deterministic).
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, optimizer="muon", checkpoint_every=5, weight_decay=0.01,
                      device="cpu")
    full = _conv()
    res = train(full, small_x[:256], cfg, tmp_path / "full", progress=False)
    assert res.history[1]["train_loss"] < res.history[0]["train_loss"] - 0.1
    tensors, meta = ckpt.load_tensors(tmp_path / "full" / ckpt.STATE)
    assert any(k.endswith(".momentum_buffer") for k in tensors) and meta["optim"]["param_groups"][0]["momentum"]

    _die_after_checkpoint(monkeypatch, epoch=1, after_step=3)
    with pytest.raises(Stop):
        train(_conv(), small_x[:256], cfg, tmp_path / "killed", progress=False)
    monkeypatch.undo()
    resumed = _conv(seed=5)  # its weights must come from the checkpoint
    train(resumed, small_x[:256], cfg, tmp_path / "killed", resume=True, progress=False)
    _assert_same_weights(full, resumed)


def test_cli_trains_with_muon(mnist_npz, tmp_path, capsys):
    from aekit.cli import main

    run = tmp_path / "run"
    assert main(["train", "--data", str(mnist_npz), "--optimizer", "muon", "--epochs", "1", "--lr", "0.03",
                 "--no-eval", "--out", str(run)]) == 0
    assert ckpt.read_run_config(run)["train"]["optimizer"] == "muon"
    assert ckpt.read_metrics(run)[0]["train_loss"] < 0.4  # the seed's dense model, 32 steps from ~0.69
