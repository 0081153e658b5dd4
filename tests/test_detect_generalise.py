"""The detector's parts and its evaluation: JPEG/resize/noise degradation, the residual network, the threshold, and
the three evaluation cases (the same swap run, another swap run, other generators) on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from aekit.apps.degrade import degrade, jpeg, recompress
from aekit.apps.detect import load_detector, pick_threshold, reference_threshold, train_detector
from aekit.apps.detect_eval import evaluate, model_outputs, relative_scores, with_reference
from aekit.apps.detect_net import ResidualNet, fit_residual_net, score_images
from aekit.apps.detect_spectral import SpectralNet, dct_matrix, fit_spectral_net
from aekit.apps.swap import train_swap
from aekit.cli import main
from aekit.errors import AekitError
from aekit.metrics.reconstruction import auroc
from aekit.runs.run import Run
from aekit.runs.settings import resolve_settings

TINY_SWAP = {"channels": [8, 16], "blocks_per_stage": 1}


def _bold(x: np.ndarray) -> np.ndarray:
    return ndimage.grey_dilation(x, size=(1, 3, 3))


def _swap_run(folder, name: str, identities: dict, seed: int) -> Run:
    sources = {}
    for key, (train, test) in identities.items():
        sources[key] = str(folder / f"{name}-{key}.npz")
        np.savez(sources[key], x_train=train, x_test=test)
    return train_swap(sources, folder / name, model_options=TINY_SWAP, progress=False,
                      train_options={"epochs": 2, "seed": seed})


def _run(folder, name: str, preset: str, model: str | None, config: dict, data) -> Run:
    settings = resolve_settings(preset, data=str(data), model=model, model_options=config,
                                train_options={"epochs": 1, "batch_size": 64})
    return Run.create(settings, folder / name, progress=False)


@pytest.fixture(scope="module")
def tiny(mnist, tmp_path_factory):
    """Swap run A (plain vs bold digits), a detector of it, swap run B (inverted vs outlined digits, another seed and
    other digits) and three generators (a VAE, a denoiser, a compressor), all trained for seconds."""
    folder = tmp_path_factory.mktemp("generalise")
    x, t = mnist.x_train, mnist.x_test
    run_a = _swap_run(folder, "a", {"plain": (x[:128], t[:32]), "bold": (_bold(x[128:256]), _bold(t[32:64]))}, 0)
    run_b = _swap_run(folder, "b", {"inverted": (255 - x[256:384], 255 - t[64:96]),
                                    "outline": (_bold(x[384:512]) - x[384:512], _bold(t[96:128]) - t[96:128])}, 1)
    data = folder / "mnist.npz"
    np.savez(data, x_train=x[512:768], x_test=t[128:160])
    gens = {"vae": _run(folder, "vae", "seed", "vae", {"backbone": "conv", "channels": [8, 16]}, data),
            "denoiser": _run(folder, "denoiser", "denoise", None, {"channels": [8, 16], "blocks_per_stage": 1,
                                                                    "code_size": 8}, data),
            "compressor": _run(folder, "compressor", "compress", None, {"channels": [8, 16], "code_size": 8}, data)}
    train_detector(run_a, folder / "det", max_per_domain=100)
    train_detector(run_a, folder / "det-cnn", max_per_domain=100, epochs=3, network="residual-cnn")
    held = {"a": {"plain": t[:32], "bold": _bold(t[32:64])},
            "b": {"inverted": 255 - t[64:96], "outline": _bold(t[96:128]) - t[96:128]}}
    return {"a": run_a, "b": run_b, "gens": gens, "det": folder / "det", "det-cnn": folder / "det-cnn", "held": held,
            "real": t[160:192]}


@pytest.mark.parametrize("detector", ["det", "det-cnn"])
def test_the_three_evaluation_cases_give_numbers_in_range(tiny, detector):
    net, cfg = load_detector(tiny[detector])
    threshold = cfg["threshold"]
    for case in ("a", "b"):  # (a) held-out swaps of the detector's own run, (b) swaps of another run
        made = model_outputs(tiny[case], tiny["held"][case])
        names = list(tiny["held"][case])
        assert sorted(made) == sorted([f"{names[0]}->{names[1]}", f"{names[1]}->{names[0]}"])
        real = np.concatenate(list(tiny["held"][case].values()))
        res = evaluate(net, threshold, real, np.concatenate(list(made.values())))
        assert res["real"] == 64 and res["synthetic"] == 64
        for key in ("auroc", "auroc_jpeg75", "false_positive_rate", "false_positive_rate_jpeg75",
                    "true_positive_rate", "true_positive_rate_jpeg75"):
            assert 0 <= res[key] <= 1, (case, key, res)
        if case == "a":  # two epochs of a tiny swap model leave traces the detector of that run must see
            assert res["auroc"] > 0.9, res
    kinds = {}
    for name, run in tiny["gens"].items():  # (c) generators the detector never saw
        (kind, made), = model_outputs(run, tiny["real"]).items()
        kinds[name] = kind
        assert made.dtype == np.uint8 and made.shape == tiny["real"].shape
        res = evaluate(net, threshold, tiny["real"], made)
        assert 0 <= res["auroc"] <= 1 and 0 <= res["auroc_jpeg75"] <= 1
    assert kinds == {"vae": "samples", "denoiser": "denoised", "compressor": "decompressed"}


def test_evaluation_refuses_what_it_cannot_score(tiny):
    net, _ = load_detector(tiny["det"])
    with pytest.raises(AekitError, match="real and synthetic"):
        evaluate(net, 0.5, tiny["real"], tiny["real"][:0])
    with pytest.raises(AekitError, match="by identity"):
        model_outputs(tiny["a"], tiny["real"])
    with pytest.raises(AekitError, match="by identity"):
        model_outputs(tiny["a"], {"nobody": tiny["real"]})
    with pytest.raises(AekitError, match="uint8"):
        score_images(net, tiny["real"].astype(np.float32))
    with pytest.raises(AekitError, match=r"\(N, 28, 28\)"):
        score_images(net, np.zeros((2, 32, 32), np.uint8))
    from aekit.apps.detect_eval import denoised

    with pytest.raises(AekitError, match="not trained to denoise"):
        denoised(tiny["gens"]["vae"], tiny["real"])


def test_an_old_or_damaged_detector_is_refused_in_one_line(tiny, tmp_path, capsys):
    import shutil

    for name, edit in (("old", lambda c: {k: v for k, v in c.items() if k != "network"}),
                       ("threshold", lambda c: {**c, "threshold": 1.5}),
                       ("widths", lambda c: {**c, "widths": [0, 4, 4]}),
                       ("shape", lambda c: {**c, "input_shape": [1, 28, 24]})):
        shutil.copytree(tiny["det-cnn" if name == "widths" else "det"], tmp_path / name)
        cfg = json.loads((tmp_path / name / "config.json").read_text())
        (tmp_path / name / "config.json").write_text(json.dumps(edit(cfg)))
        with pytest.raises(AekitError):
            load_detector(tmp_path / name)
        capsys.readouterr()
        assert main(["detect", str(tmp_path / name), str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    assert "older aekit" in str(pytest.raises(AekitError, load_detector, tmp_path / "old").value)


def test_jpeg_and_degrade_keep_shape_and_type_and_are_seeded(mnist):
    x = mnist.x_test[:20]
    j = jpeg(x, 75)
    assert j.dtype == np.uint8 and j.shape == x.shape and not np.array_equal(j, x)
    assert np.abs(j.astype(int) - x).mean() < 10  # a re-save, not another image
    rgb = np.repeat(x[..., None], 3, axis=3)
    assert jpeg(rgb, 50).shape == rgb.shape and jpeg(x[..., None], 50).shape == (20, 28, 28, 1)
    with pytest.raises(ValueError):
        jpeg(x, 0)
    a, b = degrade(x, np.random.default_rng(3)), degrade(x, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == x.shape and a.dtype == np.uint8
    assert not np.array_equal(a, x) and np.array_equal(x, mnist.x_test[:20])  # a copy; the input is untouched


def test_recompress_resaves_every_image_at_its_own_drawn_quality(mnist):
    x = mnist.x_test[:20]
    a, b = recompress(x, np.random.default_rng(5)), recompress(x, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == x.shape and a.dtype == np.uint8
    qualities = np.random.default_rng(5).integers(50, 96, len(x))  # the draws recompress makes, in order
    assert np.array_equal(a, np.stack([jpeg(im[None], int(q))[0] for im, q in zip(x, qualities)]))
    assert all(not np.array_equal(im, orig) for im, orig in zip(a, x))  # every image re-saved
    assert np.array_equal(recompress(x, np.random.default_rng(0), (75, 75)), jpeg(x, 75))
    assert recompress(x[:0], np.random.default_rng(0)).shape == (0, 28, 28)


def test_the_network_sees_residuals_not_brightness():
    torch.manual_seed(0)
    net = ResidualNet((1, 12, 12)).eval()
    x = torch.rand(4, 1, 12, 12) * 0.5
    with torch.no_grad():
        assert torch.allclose(net(x), net(x + 0.3), atol=1e-6)  # a brighter copy has the same residuals
        assert not torch.allclose(net(x), net(x.flip(3).flip(2).transpose(2, 3) * 2))
    rgb = ResidualNet((3, 12, 12))
    assert rgb.residuals(torch.rand(2, 3, 12, 12)).shape == (2, 9, 12, 12)
    with pytest.raises(ValueError):
        ResidualNet((1, 12, 12), (8, 8))


def test_training_is_seeded_and_learns_a_trace(mnist):
    real = mnist.x_train[:96]
    fake = np.clip(ndimage.uniform_filter(real.astype(float), (1, 3, 3)), 0, 255).astype(np.uint8)  # blurred
    nets = [fit_residual_net(real, fake, seed=1, epochs=3, augment=None) for _ in range(2)]
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)
    test_real = mnist.x_test[:64]
    test_fake = np.clip(ndimage.uniform_filter(test_real.astype(float), (1, 3, 3)), 0, 255).astype(np.uint8)
    res = evaluate(nets[0], 0.5, test_real, test_fake)
    assert res["auroc"] > 0.9, res


def test_the_threshold_lets_through_its_share_of_real_images():
    scores = np.linspace(0, 1, 1001)
    assert pick_threshold(scores, 0.01) == pytest.approx(0.991)  # the 992nd of 1001: k = ceil(1002 * 0.99)
    assert (scores > pick_threshold(scores, 0.01)).mean() <= 0.01
    assert pick_threshold(np.zeros(500), 0.01) == 0.5  # never below an even chance
    assert pick_threshold(np.ones(50), 0.01) == 0.5  # too few real images to place it


def test_a_reference_threshold_follows_the_reference_wherever_it_lies():
    low = np.linspace(0.0, 0.2, 201)  # real images of another kind that score low as a whole
    # below 0.5, where their top 1 % begins: the 200th of 201 (k = ceil(202 * 0.99)), so that a 202nd real image
    # scores above it with probability 2 / 202 < 1 %
    assert reference_threshold(low, 0.01) == pytest.approx(0.199)
    assert reference_threshold(0.9 + low / 2, 0.01) == pytest.approx(0.9995)
    assert reference_threshold(np.arange(100.0), 0.01) == 99  # 100 images: only the top one places it
    with pytest.raises(AekitError, match="at least 100 real images"):
        reference_threshold(low[:99], 0.01)


def test_relative_scores_rank_images_of_two_kinds_each_on_its_own_reference():
    low, high = np.linspace(0.0, 0.2, 100), np.linspace(0.8, 1.0, 100)  # two kinds of real image, scored apart
    assert relative_scores(low, np.array([0.19])) > relative_scores(high, np.array([0.9]))  # its kind's top vs median
    steps = relative_scores(low, np.linspace(0, 1, 500))
    assert np.all(np.diff(steps) > 0) and steps[-1] < 1.01  # order kept between and above reference scores


def test_with_a_reference_the_threshold_is_set_on_the_reference_kind():
    rng = np.random.default_rng(0)

    def score(images):
        return images.reshape(len(images), -1).mean(1) / 255.0

    reference, real = (rng.integers(0, 100, (n, 8, 8)).astype(np.uint8) for n in (200, 100))  # a dark kind
    fake = rng.integers(20, 120, (100, 8, 8)).astype(np.uint8)
    res, relative = with_reference(score, reference, real, fake)
    assert res["threshold"] == pytest.approx(np.sort(score(reference))[198]) and res["threshold"] < 0.5  # 1 above it
    assert res["false_positive_rate"] <= 0.05 and res["true_positive_rate"] > 0.9 and res["auroc"] > 0.99
    assert (res["reference"], res["real"], res["synthetic"]) == (200, 100, 100)
    rel_real, rel_fake = relative[""]
    assert auroc(np.r_[np.zeros(100), np.ones(100)], np.r_[rel_real, rel_fake]) == pytest.approx(res["auroc"])
    assert {"threshold_jpeg75", "false_positive_rate_jpeg75"} <= set(res) and set(relative) == {"", "_jpeg75"}
    with pytest.raises(AekitError, match="at least 100"):
        with_reference(score, reference[:99], real, fake)


def test_the_spectral_features_are_the_log_dct_of_the_grey_levels():
    from scipy.fft import dctn

    x = torch.rand(3, 3, 28, 20)
    net = SpectralNet((3, 28, 20))
    grey = x.mean(1).double().numpy() * 255
    want = np.log(np.abs(dctn(grey, axes=(1, 2), norm="ortho")) + 1e-2).reshape(3, -1)
    assert np.allclose(net.spectrum(x).double().numpy(), want, atol=2e-3)
    assert torch.allclose(dct_matrix(5) @ dct_matrix(5).T, torch.eye(5), atol=1e-6)  # orthonormal


def test_the_spectral_detector_is_deterministic_and_learns_a_trace(mnist, tmp_path):
    real = mnist.x_train[:300]
    fake = np.clip(ndimage.uniform_filter(real.astype(float), (1, 3, 3)), 0, 255).astype(np.uint8)  # blurred
    nets = [fit_spectral_net(real, fake) for _ in range(2)]
    for p, q in zip(nets[0].state_dict().values(), nets[1].state_dict().values()):
        assert torch.equal(p, q)
    test_real = mnist.x_test[:64]
    test_fake = np.clip(ndimage.uniform_filter(test_real.astype(float), (1, 3, 3)), 0, 255).astype(np.uint8)
    assert evaluate(nets[0], 0.5, test_real, test_fake)["auroc"] > 0.95
    sharp = np.clip(real.astype(float) * 1.2, 0, 255).astype(np.uint8)  # brighter, not blurred: what it learned
    assert score_images(nets[0], sharp).mean() < score_images(nets[0], fake).mean()  # is blur, not brightness
