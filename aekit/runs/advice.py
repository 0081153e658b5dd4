"""Warnings when a run's settings do not fit its data, or its result says it learnt little: one line each, with
what to change. Given before training (the data and the model) and after it (the test metrics beside PCA)."""

from __future__ import annotations

import logging
import math

import torch

from aekit.models import Autoencoder

log = logging.getLogger(__name__)

BEHIND_PCA = 1.5  # a test MSE this many times PCA's at the same code size is far behind


def code_numel(model: Autoencoder) -> int:
    """How many numbers one sample's code holds (a code map counts every position)."""
    was = model.training
    with torch.no_grad():
        z = model.eval().encode(torch.zeros(1, *model.config.input_shape))
    model.train(was)
    return int(z[0].numel())


def fit_code_size(model: str, config: dict) -> dict:
    """``config`` with a code narrower than the data when a preset's flat code (``code_size`` numbers) is as wide as
    one sample (the seed's 32 on a table of 8 columns would copy its rows and flag no outlier): a quarter of the
    sample's values, at least 1, said in one line. Spatial codes and U-Net skips are left as they are."""
    width, code = math.prod(config["input_shape"]), config.get("code_size", 32)
    if config.get("spatial_code") or config.get("skips") or config.get("input_skip") or model in ("vq", "swap") \
            or code < width:
        return config
    narrower = max(1, width // 4)
    what = f"{width} columns" if len(config["input_shape"]) == 1 else f"{width} values per image"
    log.warning("the preset's code of %d numbers is as wide as the data (%s): using a code of %d (a quarter); set "
                "`code_size` to choose", code, what, narrower)
    return {**config, "code_size": narrower}


def check_fit(model: Autoencoder, x: torch.Tensor, noise: str = "none") -> list[str]:
    """Warnings about ``model`` for training rows ``x`` (model space): a code as wide as a sample (an autoencoder
    that can copy learns nothing; a denoiser, trained with ``noise``, may), more parameters than the data has values."""
    said = []
    per_sample, code = int(x[0].numel()), code_numel(model)
    what = f"{per_sample} columns" if x.dim() == 2 else f"{per_sample:,} values per image"
    if code >= per_sample and noise == "none":
        said.append(f"warning: the code ({code:,} numbers) is as wide as the data ({what}): the model can copy its "
                    f"input instead of learning a compressed code; choose a `code_size` below {per_sample}")
    params = sum(p.numel() for p in model.parameters())
    if params > x.numel():
        said.append(f"warning: the model has {params:,} parameters for {len(x):,} samples of {per_sample:,} values "
                    f"({x.numel():,} in all): it can memorise them; watch the test error (or `val_fraction`), or "
                    "use more data or a smaller model")
    for line in said:
        log.warning(line)
    return said


def check_result(metrics: dict, noise: str = "none", dense_on_images: bool = False) -> list[str]:
    """A warning when a plain autoencoder ends far behind PCA of the same code size on the test split
    (``dense_on_images``: the model has no convolutions and the data are images, so the conv model is worth a try)."""
    mse, pca = metrics.get("test_mse"), metrics.get("pca_mse")
    if noise != "none" or mse is None or not pca or pca < 1e-9 or mse <= BEHIND_PCA * pca:  # < 1e-9: PCA is exact
        return []
    line = (f"warning: the test MSE {mse:.5f} is {mse / pca:.1f}x that of PCA with the same code size ({pca:.5f}): the "
            "model learnt less than a linear projection; train longer (`epochs`, `min_steps`), "
            + ("try the conv model for images, " if dense_on_images else "") + "or use PCA")
    log.warning(line)
    return [line]
