"""How well a detector tells real images from what aekit's models make, including models it never saw.

``model_outputs`` gives what a run makes, the way a user would get it: a swap run's swaps of held-out images into
every other identity, a VAE's samples from its prior, a denoiser's output for noisy held-out images (its own kind and
strength of noise), a compression run's decompressed files, any other run's reconstructions. ``evaluate`` scores
real images against those outputs: AUROC as they are and after a JPEG re-save at quality 75 (both classes), and, at
the detector's own threshold, the share of real images flagged (false positives) and of outputs caught.
``with_reference`` does the same with the threshold set on reference real images of the kind checked, as
``aekit detect --reference`` sets it, and scores put on the reference's scale (``relative_scores``) so that images of
several kinds can be ranked together.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import torch
from torch import nn

from aekit.apps.degrade import jpeg
from aekit.apps.detect import on_reference, reference_threshold
from aekit.apps.detect_ensemble import ranks
from aekit.apps.detect_net import score_images
from aekit.errors import AekitError
from aekit.metrics.reconstruction import auroc, reconstruct
from aekit.models.compress import CompressiveAutoencoder
from aekit.runs.run import Run, as_run

JPEG_QUALITY = 75


def _uint8(run: Run, x: torch.Tensor) -> np.ndarray:
    """Model-space outputs to uint8 images as a PNG would store them."""
    return run.normalizer.inverse(x.clamp(0, 1).numpy())


def swaps(run: Run, held: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A swap run's swaps of held-out uint8 images {identity: images} into every other identity:
    {"a->b": images}."""
    from aekit.apps.swap import decode_all

    out = {}
    for src, images in held.items():
        x = torch.from_numpy(run.normalizer.transform(images))
        for j, dst in enumerate(run.domains):
            if dst != src:
                out[f"{src}->{dst}"] = _uint8(run, decode_all(run.model, x, j))
    return out


def denoised(run: Run, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """A denoising run's outputs for uint8 images corrupted with its own training noise (seeded)."""
    from aekit.training.noise import corrupt

    kind, low = run.config.train.get("noise", "none"), float(run.config.train.get("noise_strength", 0.0))
    high = max(low, float(run.config.train.get("noise_max", 0.0)))
    if kind == "none" or high == 0:
        raise AekitError(f"{run.path.name} was not trained to denoise (no `noise` in its training recipe)")
    x = torch.from_numpy(run.normalizer.transform(images))
    noisy = corrupt(x, kind, (low, high), torch.Generator().manual_seed(seed))
    return _uint8(run, reconstruct(run.model, noisy))


def decompressed(run: Run, images: np.ndarray, level: int | None = None) -> np.ndarray:
    """A compression run's decompressed ``.aek`` files for uint8 images (at ``level``, default the run's own)."""
    from aekit.apps.compress import compress_images, decompress_bytes, open_codec

    codec = open_codec(run)
    level = codec.model.config.default_level if level is None else level
    return np.stack([decompress_bytes(codec, data) for data in compress_images(codec, list(images), level)])


def model_outputs(run: Run | str, images: np.ndarray | dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """What a run makes, named by kind: swaps (``images`` {identity: held-out images}), VAE samples (as many as
    ``images``), denoised or decompressed ``images``, or reconstructions of them."""
    from aekit.apps.generate import sample_images

    run = as_run(run)
    if run.domains:
        if not isinstance(images, dict) or not set(images) <= set(run.domains):
            raise AekitError(f"a swap run's outputs need held-out images by identity ({', '.join(run.domains)})")
        return swaps(run, images)
    images = np.concatenate(list(images.values())) if isinstance(images, dict) else images
    if hasattr(run.model, "sample"):
        return {"samples": sample_images(run, len(images), "prior", seed)[0]}
    if run.config.train.get("noise", "none") != "none":
        return {"denoised": denoised(run, images, seed)}
    if isinstance(run.model, CompressiveAutoencoder):
        return {"decompressed": decompressed(run, images)}
    return {"reconstructions": _uint8(run, reconstruct(run.model, torch.from_numpy(run.normalizer.transform(images))))}


def evaluate(score: nn.Module | Callable[[np.ndarray], np.ndarray], threshold: float, real: np.ndarray,
             fake: np.ndarray, jpeg_quality: int = JPEG_QUALITY) -> dict:
    """A detector (a detector network, or any function of uint8 images to P(synthetic)) on uint8 real images against
    synthetic ones: AUROC as they are and after JPEG at ``jpeg_quality`` (both classes re-saved), and the shares
    flagged at ``threshold`` in both conditions."""
    if isinstance(score, nn.Module):
        score = partial(score_images, score)
    if len(real) == 0 or len(fake) == 0:
        raise AekitError("evaluating a detector needs real and synthetic images")
    out = {"real": len(real), "synthetic": len(fake)}
    for name, (r, f) in (("", (real, fake)), (f"_jpeg{jpeg_quality}", (jpeg(real, jpeg_quality),
                                                                      jpeg(fake, jpeg_quality)))):
        sr, sf = score(r), score(f)
        out[f"auroc{name}"] = auroc(np.r_[np.zeros(len(sr)), np.ones(len(sf))], np.r_[sr, sf])
        out[f"false_positive_rate{name}"] = float((sr > threshold).mean())
        out[f"true_positive_rate{name}"] = float((sf > threshold).mean())
    return out


def relative_scores(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Scores on the scale of a reference's, in (0, 1): about the share of the reference's scores below each score
    (``aekit.apps.detect_ensemble.ranks``), kept in order between two reference scores. Images of several kinds, each
    put on its own kind's reference, rank together."""
    ref = torch.from_numpy(np.sort(np.asarray(reference, np.float64)))[None]
    return ranks(ref, torch.from_numpy(np.asarray(scores, np.float64))[:, None])[:, 0].numpy()


def with_reference(net: nn.Module | Callable[[np.ndarray], np.ndarray], reference: np.ndarray, real: np.ndarray,
                   fake: np.ndarray, jpeg_quality: int = JPEG_QUALITY) -> tuple[dict, dict]:
    """A detector set on uint8 ``reference`` real images of the kind being checked, as ``aekit detect --reference``
    sets it (``on_reference``; a plain function of images has its threshold set on them), as they are and after JPEG
    at ``jpeg_quality`` (the reference re-saved alike): (figures: counts, AUROC, the threshold and the shares of
    ``real`` and ``fake`` flagged at it; {"" or "_jpeg<q>": (real, fake) ``relative_scores``}, which pool with other
    kinds' on their own references)."""
    if len(real) == 0 or len(fake) == 0:
        raise AekitError("evaluating a detector needs real and synthetic images")
    out, relative = {"reference": len(reference), "real": len(real), "synthetic": len(fake)}, {}
    for name, images in (("", (reference, real, fake)), (f"_jpeg{jpeg_quality}", tuple(jpeg(x, jpeg_quality) for x in
                                                                                      (reference, real, fake)))):
        if isinstance(net, nn.Module):
            scorer, threshold, ref = on_reference(net, images[0])
            sr, sf = (score_images(scorer, x) for x in images[1:])
        else:
            ref, sr, sf = (net(x) for x in images)
            threshold = reference_threshold(ref)
        out[f"auroc{name}"] = auroc(np.r_[np.zeros(len(sr)), np.ones(len(sf))], np.r_[sr, sf])
        out[f"threshold{name}"] = threshold
        out[f"false_positive_rate{name}"] = float((sr > threshold).mean())
        out[f"true_positive_rate{name}"] = float((sf > threshold).mean())
        relative[name] = (relative_scores(ref, sr), relative_scores(ref, sf))
    return out, relative
