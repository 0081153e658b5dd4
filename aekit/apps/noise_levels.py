"""An input's noise level against the levels a denoising run was trained on.

A Gaussian denoiser is trained on one noise level (``noise_strength``) or, blind, on a range up to ``noise_max``.
``aekit denoise`` estimates each image's level (``aekit.metrics.noise.estimate_sigma``) or takes the user's
``sigma``. An image noisier than the trained range gets a warning: the model has not learnt to remove that much.
Given ``sigma`` below a one-level denoiser's level, the missing noise is added first (seeded), so that the model
sees what it was trained on: otherwise a denoiser of sigma 0.5 treats the image's own detail as noise and returns
it worse than it came in. This needs the user's level: the estimate reads clipped noise low (on MNIST digits at
sigma 0.5, clipped to [0, 1], it reads about 0.28), so it reports and warns but adds nothing. A blind denoiser
trained from 0 (the ``photo-denoise`` preset) needs neither.
"""

from __future__ import annotations

import logging

import numpy as np

from aekit.errors import AekitError
from aekit.metrics.noise import estimate_sigma
from aekit.runs.run import Run

log = logging.getLogger(__name__)

TOLERANCE = 0.01  # a level this close to the trained one (in [0, 1] units, 2.5 of 255) counts as the same


def trained_levels(run: Run) -> tuple[float, float] | None:
    """The Gaussian noise levels ``run`` was trained to remove, (low, high); None for runs of other noise."""
    train = run.config.train
    if train.get("noise") != "gaussian":
        return None
    low = float(train.get("noise_strength", 0.5))
    return low, max(low, float(train.get("noise_max", 0.0) or 0.0))


def check_sigma(sigma: float | None) -> None:
    if sigma is not None and not (isinstance(sigma, (int, float)) and 0 <= sigma <= 1):
        raise AekitError(f"`sigma` is a noise level in [0, 1] (25 of 255 is 0.098), got {sigma!r}")


def matched(image: np.ndarray, name: str, levels: tuple[float, float] | None, sigma: float | None = None,
            seed: int = 0) -> tuple[np.ndarray, dict]:
    """``image`` (uint8) ready for a run trained on ``levels``, and what was found: {"noise_sigma", and
    "noise_added" where noise was added to reach a one-level denoiser's level}."""
    level = float(sigma) if sigma is not None else estimate_sigma(image / 255.0)
    found = {"noise_sigma": round(level, 4)}
    log.info("%s: noise sigma %s %.3f (%.0f of 255)", name, "given as" if sigma is not None else "about", level,
             level * 255)
    if levels is None:
        return image, found
    low, high = levels
    if level > high + TOLERANCE:
        log.warning("%s: its noise (sigma %.3f, %.0f of 255) is above the %s the model was trained on: expect "
                    "noise left in the result", name, level, level * 255,
                    f"{high:g}" if low == high else f"range {low:g} to {high:g}")
    elif sigma is not None and low == high and level < low - TOLERANCE:
        extra = float(np.sqrt(low**2 - level**2))
        noise = np.random.default_rng(seed).normal(0.0, extra * 255.0, image.shape)
        image = np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)
        found["noise_added"] = round(extra, 4)
        log.info("%s: added noise of sigma %.3f to reach the model's %g", name, extra, low)
    return image, found
