"""Defaults that fit the data: a minimum number of steps on small data, and blind denoising over a noise range."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aekit import TrainConfig, train
from aekit.models import build_model
from aekit.runs.settings import MIN_STEPS, resolve_settings
from aekit.training.noise import corrupt


def _dense(shape=(1, 8, 8)):
    return build_model("dense", {"input_shape": shape, "hidden": [16], "code_size": 4})


def test_min_steps_raises_epochs_on_small_data_and_the_run_records_it(tmp_path, caplog):
    x = torch.rand(40, 1, 8, 8)  # batch 32: 2 steps an epoch
    assert TrainConfig(epochs=3, min_steps=10).epochs_for(2) == 5 and TrainConfig(epochs=3).epochs_for(2) == 3
    with caplog.at_level("WARNING", logger="aekit"):
        result = train(_dense(), x, TrainConfig(epochs=3, min_steps=10), tmp_path / "run", progress=False)
    assert len(result.history) == 5 and result.steps == 10
    assert "training 5 epochs instead of 3" in caplog.text
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert recorded["epochs"] == 5 and recorded["min_steps"] == 10  # a resume trains the same run


def test_a_run_of_too_few_steps_says_so(caplog):
    with caplog.at_level("WARNING", logger="aekit"):
        train(_dense(), torch.rand(40, 1, 8, 8), TrainConfig(epochs=3), progress=False)
    assert "only 6 optimiser steps" in caplog.text


def test_presets_lengths_become_a_minimum_only_when_the_user_gave_none():
    assert resolve_settings("seed")["train"]["min_steps"] == MIN_STEPS
    assert resolve_settings("seed", train_options={"epochs": 2})["train"]["min_steps"] == 0
    assert resolve_settings("seed", train_options={"time_limit": 60.0})["train"]["min_steps"] == 0
    assert resolve_settings("photo-denoise", data="photos/")["train"]["min_steps"] == 1500  # its own minimum
    assert resolve_settings("seed", train_options={"min_steps": 5})["train"]["min_steps"] == 5
    # the seed and fast presets on MNIST (60,000 training digits) are long enough already: they train as before
    for preset in ("seed", "fast"):
        tr = resolve_settings(preset)["train"]
        cfg = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in tr.items()})
        assert cfg.epochs_for(-(-60_000 // cfg.batch_size)) == cfg.epochs


def test_a_noise_range_draws_one_strength_per_sample():
    x = torch.full((2000, 1, 4, 4), 0.5)
    one = corrupt(x, "gaussian", 0.1, torch.Generator().manual_seed(0))
    same = corrupt(x, "gaussian", (0.1, 0.1), torch.Generator().manual_seed(0))
    assert torch.equal(one, same)  # a range of one value is that value, with the same draws
    spread = (corrupt(x, "gaussian", (0.0, 0.2), torch.Generator().manual_seed(0)) - x).flatten(1).std(1)
    assert spread.min() < 0.03 and spread.max() > 0.17  # strengths from about 0 to 0.2
    assert 0.09 < spread.mean() < 0.11


def test_noise_max_is_checked():
    assert TrainConfig(noise="gaussian", noise_strength=0.0, noise_max=0.2).noise_range() == (0.0, 0.2)
    assert TrainConfig(noise="gaussian").noise_range() == (0.5, 0.5)
    for bad, match in [({"noise": "gaussian", "noise_strength": 0.3, "noise_max": 0.2}, "at least"),
                       ({"noise_max": 0.2}, "needs a kind"),
                       ({"noise": "mask", "noise_strength": 0.1, "noise_max": 2.0}, r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)


def test_the_noise_estimate_reads_gaussian_noise_on_a_real_photo():
    from skimage import data

    from aekit.metrics.noise import estimate_sigma

    clean = data.camera() / 255.0
    assert estimate_sigma(clean) < 0.01
    for sigma in (15 / 255, 25 / 255, 50 / 255):
        noisy = clean + np.random.default_rng(0).normal(0, sigma, clean.shape)
        assert abs(estimate_sigma(noisy) - sigma) < 0.1 * sigma
    rgb = data.astronaut() / 255.0 + np.random.default_rng(1).normal(0, 25 / 255, (512, 512, 3))
    assert abs(estimate_sigma(rgb) - 25 / 255) < 2.5 / 255


def test_inputs_are_matched_to_the_noise_level_a_denoiser_was_trained_on(caplog):
    from skimage import data

    from aekit.apps.noise_levels import matched
    from aekit.metrics.noise import estimate_sigma

    clean = data.camera()
    quiet = np.clip(np.rint(clean + np.random.default_rng(0).normal(0, 0.05 * 255, clean.shape)), 0, 255)
    quiet = quiet.astype(np.uint8)
    same, found = matched(quiet, "quiet.png", (0.3, 0.3))  # a one-level denoiser of sigma 0.3: an estimate only
    assert same is quiet and abs(found["noise_sigma"] - 0.05) < 0.01 and "noise_added" not in found
    raised, found = matched(quiet, "quiet.png", (0.3, 0.3), sigma=0.05)  # the user's level: raised to the model's
    assert found["noise_sigma"] == 0.05 and abs(found["noise_added"] - np.sqrt(0.3**2 - 0.05**2)) < 0.01
    assert abs(estimate_sigma(raised / 255.0) - 0.3) < 0.04  # what the model was trained on (less the clipping)
    same, found = matched(quiet, "quiet.png", (0.0, 0.2))  # a blind denoiser: the image goes in as it is
    assert same is quiet and "noise_added" not in found
    with caplog.at_level("WARNING", logger="aekit"):
        matched(quiet, "quiet.png", (0.0, 0.02))
    assert "above the range 0 to 0.02 the model was trained on" in caplog.text
    _, found = matched(quiet, "quiet.png", None, sigma=0.2)
    assert found == {"noise_sigma": 0.2}


def test_settings_that_do_not_fit_the_data_are_named_before_training(caplog):
    from aekit.runs.advice import check_fit

    wide = build_model("dense", {"input_shape": (30,), "hidden": [64], "code_size": 32})  # a 30-column table
    with caplog.at_level("WARNING", logger="aekit"):
        said = check_fit(wide, torch.rand(40, 30))
    assert len(said) == 2 and "the code (32 numbers) is as wide as the data (30 columns)" in said[0]
    assert "parameters for 40 samples of 30 values (1,200 in all)" in said[1] and said[1] in caplog.text
    assert check_fit(wide, torch.rand(40, 30), noise="gaussian") == [said[1]]  # a denoiser may have a wide code
    assert check_fit(_dense(), torch.rand(5000, 1, 8, 8)) == []


def test_a_run_far_behind_pca_is_told_so():
    from aekit.runs.advice import check_result

    assert "3.0x that of PCA" in check_result({"test_mse": 0.03, "pca_mse": 0.01})[0]
    assert "conv model" not in check_result({"test_mse": 0.03, "pca_mse": 0.01})[0]
    assert "try the conv model" in check_result({"test_mse": 0.03, "pca_mse": 0.01}, dense_on_images=True)[0]
    assert check_result({"test_mse": 0.012, "pca_mse": 0.01}) == []
    assert check_result({"test_mse": 0.03, "pca_mse": 0.01}, noise="gaussian") == []
