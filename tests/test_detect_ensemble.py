"""The ensemble detector: views ranked among real images' scores, the highest rank; its scale set on other real
images (``--reference``); its folder read back, and refused when its config asks for what it cannot be."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from aekit.apps.detect import load_detector, on_reference, pick_threshold, reference_threshold
from aekit.apps.detect_ensemble import EnsembleNet, ranks
from aekit.apps.detect_eval import relative_scores
from aekit.apps.detect_net import images_to_model_space, score_images
from aekit.errors import AekitError


class Brightness(nn.Module):
    """A toy view: logit = gain * (mean brightness - 0.5)."""

    def __init__(self, gain: float = 10.0, shape=(1, 8, 8)):
        super().__init__()
        self.input_shape, self.gain = shape, gain

    def forward(self, x):
        return self.gain * (x.mean((1, 2, 3)) - 0.5)

    def to_model_space(self, images):
        return images_to_model_space(images, self.input_shape)


class Roughness(Brightness):
    """A toy view: logit = gain * the mean absolute difference between neighbouring pixels."""

    def forward(self, x):
        return self.gain * (x[..., 1:] - x[..., :-1]).abs().mean((1, 2, 3))


def images(rng, n: int, level: float, rough: float = 0.0) -> np.ndarray:
    """uint8 (n, 8, 8) images of brightness ``level`` with pixel noise of spread ``rough`` (and a little always)."""
    x = level + rng.normal(0, 0.01, (n, 1, 1)) + rng.normal(0, 0.005 + rough, (n, 8, 8))
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def test_ranks_are_the_share_of_the_reference_below_kept_in_order():
    rng = np.random.default_rng(0)
    ref = np.sort(rng.normal(size=200))
    s = np.r_[rng.normal(size=500), -50.0, 50.0, ref[:5]]
    r = ranks(torch.from_numpy(ref)[None], torch.from_numpy(s)[:, None])[:, 0].numpy()
    below = (ref[None, :] < s[:, None]).sum(1)
    assert np.all((r > below / 201) & (r < (below + 1) / 201))  # within the step of the share below
    assert np.all((r > 0) & (r < 1))
    order = np.argsort(s, kind="stable")
    assert np.all(np.diff(r[order]) > 0)  # strictly increasing in the score: no ties made, none broken
    assert np.allclose(r, (below + 0.5 + np.arctan(s) / np.pi) / 201)
    assert np.allclose(relative_scores(ref, s), r)  # the benchmark's pooling uses the same scale


def test_the_ensemble_score_is_the_highest_rank_of_its_views():
    rng = np.random.default_rng(1)
    real = np.concatenate([images(rng, 100, 0.4), images(rng, 100, 0.4, 0.05)])
    views = [Brightness(), Roughness()]
    net = EnsembleNet(views, len(real)).set_scale(real)
    test = np.concatenate([images(rng, 50, 0.45), images(rng, 50, 0.4, 0.2)])
    x = images_to_model_space(test, (1, 8, 8))
    each = [ranks(torch.from_numpy(np.sort(score_of(v, real)))[None], v(x).double()[:, None])[:, 0] for v in views]
    assert np.allclose(score_images(net, test), torch.stack(each).amax(0).numpy())
    with pytest.raises(ValueError, match="input shapes"):
        EnsembleNet([Brightness(), Brightness(shape=(3, 8, 8))], 10)
    with pytest.raises(ValueError, match="at least one"):
        EnsembleNet([], 10)


def score_of(view: nn.Module, images: np.ndarray) -> np.ndarray:
    return view(view.to_model_space(images)).double().numpy()


def test_a_reference_removes_the_offset_between_kinds_of_real_image():
    """The run's real images are dark; the user's are bright (another paper). On the run's scale the brightness view
    calls every one of the user's real images synthetic; ranked among a reference of the user's kind, about 1 % are,
    and rough (synthetic-looking) images of that kind still stand out."""
    rng = np.random.default_rng(2)
    run_real = images(rng, 400, 0.3)
    net = EnsembleNet([Brightness(), Roughness()], len(run_real)).set_scale(run_real)
    threshold = pick_threshold(score_images(net, run_real))
    user_real, reference, fake = images(rng, 300, 0.7), images(rng, 300, 0.7), images(rng, 300, 0.7, 0.1)
    assert (score_images(net, user_real) > threshold).mean() == 1.0
    before = net.scale.clone()
    on_ref, ref_threshold, _ = on_reference(net, reference)
    assert torch.equal(net.scale, before) and on_ref is not net  # the detector itself is left as it was
    assert (score_images(on_ref, user_real) > ref_threshold).mean() < 0.04
    assert (score_images(on_ref, fake) > ref_threshold).mean() > 0.95
    with pytest.raises(AekitError, match="at least 100 real images.*got 0"):
        on_reference(net, reference[:0])


def test_a_reference_lets_through_its_share_of_new_real_images():
    """Over many draws of a 200-image reference and 200 new real images of the same kind, the threshold
    ``on_reference`` sets flags about 1 % of the new ones: each reference image is left out of its own ranking (in
    the set it can never score above itself) and the order statistic is the conformal one. Without the first, the
    share is half again as large."""
    rng = np.random.default_rng(4)
    net = EnsembleNet([Brightness(), Roughness()], 10).set_scale(images(rng, 10, 0.5))
    flagged, in_sample = [], []
    for _ in range(100):
        reference, new = images(rng, 200, 0.5, 0.02), images(rng, 200, 0.5, 0.02)
        on_ref, threshold, _ = on_reference(net, reference)
        scores = score_images(on_ref, new)
        flagged.append((scores > threshold).mean())
        in_sample.append((scores > reference_threshold(score_images(on_ref, reference))).mean())
    assert 0.006 < np.mean(flagged) < 0.014 and np.mean(in_sample) > 1.3 * np.mean(flagged)


def test_an_ensemble_folder_round_trips_and_a_bad_one_is_refused(tmp_path):
    from aekit.apps.detect_net import ResidualNet
    from aekit.apps.detect_spectral import SpectralNet
    from aekit.runs.detector import write_detector

    rng = np.random.default_rng(3)
    real = images(rng, 30, 0.5)
    torch.manual_seed(0)
    net = EnsembleNet([SpectralNet((1, 8, 8)), ResidualNet((1, 8, 8), (4, 4, 4))], len(real)).set_scale(real)
    views = [{"network": "spectral"}, {"network": "residual-cnn", "widths": [4, 4, 4], "seed": 0}]
    cfg = {"network": "ensemble", "views": views, "scale_size": 30, "input_shape": [1, 8, 8], "threshold": 0.995}
    (tmp_path / "det").mkdir()
    write_detector(tmp_path / "det", net.state_dict(), cfg)
    back, _ = load_detector(tmp_path / "det")
    test = images(rng, 20, 0.5, 0.1)
    assert isinstance(back, EnsembleNet) and np.array_equal(score_images(back, test), score_images(net, test))
    for name, edit in (("nested", {"views": [*views, {"network": "ensemble"}]}), ("none", {"views": []}),
                       ("huge", {"scale_size": 10**9}), ("size", {"scale_size": 31}), ("no-views", {"views": None}),
                       ("inf", {"scale_size": float("inf")}),
                       ("widths", {"views": [views[0], {**views[1], "widths": [4, 4, float("inf")]}]}),
                       ("big", {"views": [views[0], {**views[1], "widths": [4, 4, 4000]}]})):
        shutil.copytree(tmp_path / "det", tmp_path / name)
        (tmp_path / name / "config.json").write_text(json.dumps({**json.loads(
            (tmp_path / "det" / "config.json").read_text()), **edit}))
        with pytest.raises(AekitError):
            load_detector(tmp_path / name)
    tensors = {k: v.clone() for k, v in net.state_dict().items()}
    tensors["scale"][0] = torch.arange(30, 0, -1).double()  # damaged: no longer sorted
    write_detector(tmp_path / "det", tensors, cfg)
    with pytest.raises(AekitError, match="not sorted"):
        load_detector(tmp_path / "det")
