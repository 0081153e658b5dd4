"""What a detector learns from: a run's real training images against what the run makes of them.

``synthesise`` gives a model's outputs for images of one domain: its reconstructions and, for a swap model, their
swaps into every other domain; with ``variety``, also the same from ``JITTERED_COPIES`` copies of the model with
their decoder weights jittered (``jittered``: another run's decoder leaves the same kind of artefacts, not the same
ones), and its outputs for noisy inputs and for mixed codes. ``detector_data`` splits a run's images and everything
made from them into training and validation by source image, so that no validation image has a sibling in training.
Everything is uint8, quantised exactly as a PNG would store it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from aekit.errors import AekitError
from aekit.metrics.reconstruction import reconstruct
from aekit.runs.run import Run, as_run

VAL_FRACTION = 0.1  # of each domain's real images, held out with everything made from them
NOISY_INPUT = (0.1, 0.5)  # the range of Gaussian noise on inputs for denoiser-like outputs (``synthesise``)
JITTER = 0.05  # decoder weights jittered by this share of each tensor's spread, as another run's (``jittered``)
JITTERED_COPIES = 3  # jittered copies a detector also learns from: one stand-in for another run ranks it by its seed

__all__ = ["detector_data", "jittered", "synthesise"]


def _subset(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))]


def _decode(model, z: torch.Tensor, domain: int | None, batch_size: int = 512) -> torch.Tensor:
    """Codes decoded (by decoder ``domain`` of a swap model), in batches, clamped to [0, 1]."""
    parts = [model.decode(z[i : i + batch_size], *(() if domain is None else (domain,)))
             for i in range(0, len(z), batch_size)]
    return torch.cat(parts).clamp(0, 1) if parts else torch.zeros(0, *model.config.input_shape)


def _codes(model, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Model-space images encoded, in batches."""
    return torch.cat([model.encode(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _through(model, x: torch.Tensor, domain: int | None) -> torch.Tensor:
    """Model-space images through the model: reconstructed (a plain model's own forward pass), or encoded and
    decoded by decoder ``domain`` of a swap model; clamped to [0, 1]."""
    if domain is None:
        return reconstruct(model, x).clamp(0, 1)
    return _decode(model, _codes(model, x), domain)


@torch.no_grad()
def jittered(model, scale: float = JITTER, seed: int = 0):
    """A copy of ``model`` whose decoder weights (every decoder's for a swap model; all weights of a model without a
    ``decoder``, such as the compressive one) are perturbed: each tensor plus Gaussian noise of ``scale`` times its
    own spread. A stand-in for the decoder of another run (other seed, other data): outputs that keep the
    architecture's artefacts but not this one run's exact weights."""
    model = copy.deepcopy(model).eval()
    decoder = getattr(model, "decoders", None) or getattr(model, "decoder", None) or model
    gen = torch.Generator().manual_seed(seed)
    for p in decoder.parameters():
        if p.numel() > 1:
            p.add_(scale * p.std() * torch.randn(p.shape, generator=gen))
    return model


def _is_swap(model, domain: int | None) -> bool:
    return bool(getattr(model, "critic_classes", 0)) and domain is not None


def _outputs(model, x: torch.Tensor, domain: int | None, z: torch.Tensor | None) -> list[tuple[str, torch.Tensor]]:
    """Model-space images ``x`` of one domain through the model: their reconstructions and (swap models) their swaps
    into every other domain, decoded from their codes ``z`` (None for a plain model), [(kind, images)]."""
    if not _is_swap(model, domain):
        return [("reconstruction", _through(model, x, None))]
    return [("reconstruction" if j == domain else f"swap-to-{name}", _decode(model, z, j))
            for j, name in enumerate(model.domains)]


@torch.no_grad()
def synthesise(model, norm, images: np.ndarray, domain: int | None = None, variety: bool = True,
               seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """What ``model`` makes of uint8 ``images`` of one domain: [(kind, uint8 images)]. Their reconstructions and
    (swap models) their swaps into every other domain; with ``variety``, also the same from ``JITTERED_COPIES``
    ``jittered`` copies of the model (as other runs' decoders would make them; copy k from ``seed + 1000 k``) and
    the outputs a user gets from other uses of the same decoder: of noisy copies of the images (Gaussian, sigma drawn
    from ``NOISY_INPUT``, as a denoiser's) and of the mean of two images' codes (as a generator's)."""
    model.eval()
    x = torch.from_numpy(norm.transform(images))
    z = _codes(model, x) if _is_swap(model, domain) or (variety and len(x)) else None  # encoded once
    out = _outputs(model, x, domain, z)
    if variety and len(x):
        for k in range(JITTERED_COPIES):  # a swap model's copies keep its encoder (``jittered``): the same codes
            copy_k = jittered(model, seed=seed + 1000 * k)
            out += [(f"jittered{k + 1}-{kind}", y) for kind, y in _outputs(copy_k, x, domain, z)]
        gen = torch.Generator().manual_seed(seed)
        sigma = NOISY_INPUT[0] + (NOISY_INPUT[1] - NOISY_INPUT[0]) * torch.rand(len(x), 1, 1, 1, generator=gen)
        noisy = (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        out.append(("from-noisy", _through(model, noisy, domain)))
        out.append(("code-mix", _decode(model, (z + z[torch.randperm(len(z), generator=gen)]) / 2, domain)))
    return [(kind, norm.inverse(images.numpy())) for kind, images in out]


def _run_sets(run: Run) -> list[tuple[str, np.ndarray, int | None]]:
    """(name, real training images, domain index or None) per domain of a run (one "data" set for a plain run)."""
    if len(run.model.config.input_shape) != 3:
        raise AekitError(f"{run.path} was trained on table data; the detector works on images")
    if run.domains:
        return [(name, ds.x_train, i) for i, (name, ds) in enumerate(run.domain_datasets().items())]
    return [("data", run.dataset().x_train, None)]


def detector_data(run: Run | str | Path, max_per_domain: int = 2000, seed: int = 0,
                  val_fraction: float = VAL_FRACTION, variety: bool = True) -> tuple[dict, dict, dict]:
    """A run's real training images and its synthetic versions of them (uint8), split into training and validation
    by source image (an image and everything made from it fall on the same side): ({"real", "fake"} for training,
    the same for validation, counts by kind)."""
    run = as_run(run)
    model, norm = run.model, run.normalizer
    parts = {"train": {"real": [], "fake": []}, "val": {"real": [], "fake": []}}
    counts = {}
    for name, x, domain in _run_sets(run):
        x = _subset(x, max_per_domain, seed)
        held = np.zeros(len(x), bool)
        held[np.random.default_rng(seed).choice(len(x), max(1, round(len(x) * val_fraction)), replace=False)] = True
        counts[f"real-{name}"] = len(x)
        for side, pick in (("train", ~held), ("val", held)):
            parts[side]["real"].append(x[pick])
        for kind, images in synthesise(model, norm, x, domain, variety, seed):
            counts[f"{kind}-from-{name}"] = len(images)
            for side, pick in (("train", ~held), ("val", held)):
                parts[side]["fake"].append(images[pick])
    train, val = ({k: np.concatenate(v) for k, v in parts[side].items()} for side in ("train", "val"))
    return train, val, counts
