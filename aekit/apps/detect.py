"""``aekit detect-train`` and ``aekit detect``: a classifier that tells real images from what autoencoders make.

The detector is trained on a run's own training images (label 0) against its outputs for them (label 1): own-domain
reconstructions and, for a swap run, swaps into every other domain, and the same from copies of the model with their
decoder weights jittered (``aekit.apps.detect_data``: another run's decoder leaves the same kind of artefacts, not
the same ones). Fakes are quantised to uint8 exactly as a PNG would store them, and the detector sees pixels only: provenance marks
live in PNG text chunks and content credentials, never in the pixels, so stripping them changes nothing it sees.
Networks, each reading what decoders leave in pixels rather than what this run's domains look like: ``spectral``
(``aekit.apps.detect_spectral``), a linear model of the image's log DCT spectrum; ``residual-cnn``
(``aekit.apps.detect_net``), a small CNN on high-pass residuals whose every training batch, real and synthetic
alike, goes through a random mix of JPEG, resizing and noise (``aekit.apps.degrade``); and ``ensemble`` (the
default, ``aekit.apps.detect_ensemble``), the spectral model beside ``ENSEMBLE_CNNS`` residual CNNs trained without
that augmentation from successive seeds, each view's score ranked among held-out real images' scores, an image's
score its highest rank. A JPEG re-save erases most of what they read on images as they are, so a detector for JPEG
files (``jpeg``) learns from JPEG re-saves instead, and ``detect_files`` warns when a detector meets files of the
other kind. ``benchmarks/detect.py`` measures them and how far they generalise: to other swap runs and to other
aekit generators they never saw.

A detector's ``threshold`` is the score above which ``aekit detect`` calls an image synthetic, set on held-out real
validation images so that a new real image of their kind scores above it with probability at most
``FALSE_POSITIVES`` (``conformal_threshold``; when there are too few of them to tell, 0.5, or for an ensemble the
rank above all of them in some view, with a warning). Real images of another kind than the run's (another identity,
other paper, another camera) can score higher or lower as a whole, so a threshold set on the run's own images flags
far more or far fewer of them; ``aekit detect --reference`` sets it instead on real images of the kind being checked
(``reference_threshold``), at the same ``FALSE_POSITIVES``, and an ensemble ranks among them.

A detector folder holds ``config.json`` (kind, network, input shape, threshold, the run and its fingerprint,
validation figures) and ``model.safetensors``; nothing is pickled.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aekit.apps.degrade import recompress
from aekit.apps.detect_data import detector_data, synthesise
from aekit.apps.detect_ensemble import EnsembleNet
from aekit.apps.detect_net import WIDTHS, ResidualNet, fit_residual_net, score_images
from aekit.apps.detect_spectral import SpectralNet, fit_spectral_net
from aekit.apps.inputs import expand_inputs, read_model_image
from aekit.errors import AekitError
from aekit.metrics.reconstruction import auroc
from aekit.models.base import check_input_shape
from aekit.runs.detector import prepare_detector_dir, read_detector, write_detector
from aekit.runs.run import Run, as_run
from aekit.storage import check_state_dict, load_state_dict_checked

log = logging.getLogger(__name__)

SPECTRAL, RESIDUAL, ENSEMBLE = "spectral", "residual-cnn", "ensemble"
NETWORKS = (ENSEMBLE, SPECTRAL, RESIDUAL)  # the networks a detector folder's weights can be for (config ``network``)
EPOCHS = 8
ENSEMBLE_CNNS = 3  # residual CNNs in an ensemble: what one CNN ranks well depends on its seed (benchmarks/detect.py)
FALSE_POSITIVES = 0.01  # the share of held-out real images the threshold lets through as synthetic
MOSTLY_FLAGGED = (20, 0.5)  # at least this many files and more than this share flagged, without a reference: a warning

__all__ = ["detect_files", "detector_data", "load_detector", "on_reference", "reference_threshold", "score_images",
           "synthesise", "train_detector"]


def conformal_threshold(real_scores: np.ndarray, false_positives: float = FALSE_POSITIVES) -> float:
    """The k-th lowest of n real images' scores, k = ceil((n + 1) (1 - ``false_positives``)): a new real image of
    the same kind scores above it with probability at most ``false_positives`` (split conformal prediction; the
    plain quantile lets through up to (n + 1) / n times more at this tail). Needs n >= 1 / ``false_positives`` - 1."""
    n = len(real_scores)
    k = math.ceil((n + 1) * (1 - false_positives) - 1e-9)
    if not 1 <= k <= n:
        raise ValueError(f"{n} scores are too few to set a threshold at {false_positives:.0%}")
    return float(np.sort(real_scores)[k - 1])


def pick_threshold(real_scores: np.ndarray, false_positives: float = FALSE_POSITIVES) -> float:
    """``conformal_threshold`` of held-out real images' scores (never below 0.5); 0.5 when fewer than
    ``1 / false_positives`` real images are there to tell."""
    if len(real_scores) < 1 / false_positives:
        return 0.5
    return max(0.5, conformal_threshold(real_scores, false_positives))


def need_reference(n: int, false_positives: float = FALSE_POSITIVES) -> None:
    """Refuse a reference of ``n`` real images, too few to set a threshold at ``false_positives``."""
    need = round(1 / false_positives)
    if n < need:
        raise AekitError(f"a reference needs at least {need} real images to set a threshold that lets through "
                         f"{false_positives:.0%} of them, got {n} (a folder counts every image inside it)")


def reference_threshold(real_scores: np.ndarray, false_positives: float = FALSE_POSITIVES) -> float:
    """The threshold set on a user's own real images of the kind being checked, ``conformal_threshold`` of their
    scores: another real image of this kind scores above it with probability at most ``false_positives``. Unlike
    ``pick_threshold`` it may fall below 0.5 (these images say where real ones of this kind score); it needs at
    least ``1 / false_positives`` of them."""
    need_reference(len(real_scores), false_positives)
    return conformal_threshold(real_scores, false_positives)


def train_detector(run: Run | str | Path, out: str | Path, max_per_domain: int = 2000, seed: int = 0,
                   epochs: int = EPOCHS, force: bool = False, augment: bool = True, variety: bool = True,
                   network: str = ENSEMBLE, jpeg: bool = False) -> dict:
    """Train a real-vs-synthetic detector for a run's outputs into folder ``out``; returns its config. ``network``:
    ``"ensemble"`` (the spectral model and ``ENSEMBLE_CNNS`` residual CNNs without JPEG/resize/noise augmentation,
    seeds ``seed``, ``seed`` + 1, ...; minutes on a CPU), ``"spectral"`` (a linear model of the log DCT spectrum, ``detect_spectral``;
    seconds) or ``"residual-cnn"`` (``detect_net``; ``augment``: JPEG, resizing and noise at random on every training
    image). ``jpeg``: a detector for JPEG files, trained and validated on JPEG re-saves of the images
    (``aekit.apps.degrade.recompress``, in place of ``augment``; its threshold is set on re-saved real images). ``epochs``: of each CNN.
    ``variety``: besides the run's reconstructions and swaps, the same from jittered copies of it and its outputs
    for noisy inputs and for mixed codes (``aekit.apps.detect_data.synthesise``)."""
    run, out = as_run(run), Path(out)
    if network not in NETWORKS:
        raise AekitError(f"unknown detector network {network!r}; choose from {', '.join(NETWORKS)}")
    if max_per_domain < 10:
        raise AekitError("`max_per_domain` must be at least 10")
    if not 1 <= epochs <= 1000:
        raise AekitError("`epochs` must be between 1 and 1000")
    if jpeg and not augment:
        raise AekitError("a detector for JPEG files (`jpeg`) trains on JPEG re-saves: it cannot go without `augment`")
    prepare_detector_dir(out, force)
    start = time.perf_counter()
    train, val, counts = detector_data(run, max_per_domain, seed, variety=variety)
    if jpeg:  # it checks JPEG files: validated, and its threshold set, on JPEG re-saves
        rng = np.random.default_rng(seed + 1)
        val = {kind: recompress(images, rng) for kind, images in val.items()}
    net, settings = _fit(network, train, val["real"], seed, epochs, augment, jpeg)
    real_val, fake_val = score_images(net, val["real"]), score_images(net, val["fake"])
    if isinstance(net, EnsembleNet):  # the held-out real images are its scale: each left out of its own ranking
        real_val = net.left_out(real_val)
    threshold = _threshold(net, real_val)
    what = "swap" if any(kind.startswith("swap-to-") for kind in counts) else "synthetic-image"
    config = {"network": network, **settings, "jpeg": jpeg, "input_shape": list(net.input_shape),
              "threshold": threshold, "detects": what, "variety": variety,
              "run": str(run.path), "run_fingerprint": run.fingerprint, "seed": seed, "trained_on": counts,
              **_validation(real_val, fake_val, threshold), "train_seconds": round(time.perf_counter() - start, 1)}
    write_detector(out, net.state_dict(), config)
    log.info("%s detector for the outputs of %s (seed %d): validation AUROC %.4f, threshold %.3f, in %.0f s",
             what, run.path.name, seed, config["val_auroc"], threshold, config["train_seconds"])
    return config


def _threshold(net: nn.Module, real_val: np.ndarray) -> float:
    """``pick_threshold`` on the held-out real images' scores; for an ensemble ranking among fewer than
    ``1 / FALSE_POSITIVES`` of them, n, the rank n / (n + 1) instead: an image is synthetic when some view scores it
    above every one of them."""
    n = len(real_val)
    if not isinstance(net, EnsembleNet) or n >= 1 / FALSE_POSITIVES:
        return pick_threshold(real_val)
    log.warning("only %d held-out real images: the detector calls an image synthetic when one of its %d views scores "
                "it above all of them, which may flag up to %.0f%% of real images; to set the threshold on real "
                "images of your own, pass at least %d of them as a reference when detecting", n, len(net.views),
                100 * min(1, len(net.views) / (n + 1)), round(1 / FALSE_POSITIVES))
    return n / (n + 1)


def _fit(network: str, train: dict, real_val: np.ndarray, seed: int, epochs: int, augment: bool,
         jpeg: bool) -> tuple[nn.Module, dict]:
    """A detector network fitted to training images {"real", "fake"}, and the settings its config records (an
    ensemble ranks among ``real_val``); with ``jpeg``, fitted to JPEG re-saves of them (``recompress``: the spectral
    model's once, from ``seed``; every CNN batch afresh, in place of ``augment``)."""
    cnn_augment = "jpeg" if jpeg else None
    if network == SPECTRAL:
        return _fit_spectral(train, seed, jpeg), {}
    if network == RESIDUAL:
        net = fit_residual_net(train["real"], train["fake"], seed, epochs, cnn_augment or ("mix" if augment else None))
        return net, {"widths": list(net.widths), "epochs": epochs, "augment": "jpeg" if jpeg else augment}
    views = [_fit_spectral(train, seed, jpeg)]
    views += [fit_residual_net(train["real"], train["fake"], seed + k, epochs, cnn_augment)
              for k in range(ENSEMBLE_CNNS)]
    net = EnsembleNet(views, len(real_val)).set_scale(real_val)
    specs = [{"network": SPECTRAL}] + [{"network": RESIDUAL, "widths": list(v.widths), "seed": seed + k}
                                       for k, v in enumerate(views[1:])]
    return net, {"views": specs, "epochs": epochs, "augment": False, "scale_size": len(real_val)}


def _fit_spectral(train: dict, seed: int, jpeg: bool) -> SpectralNet:
    """The spectral model fitted to training images {"real", "fake"}, or with ``jpeg`` to one JPEG re-save of each
    (qualities drawn from ``seed``)."""
    real, fake = train["real"], train["fake"]
    if jpeg:
        rng = np.random.default_rng(seed)
        real, fake = recompress(real, rng), recompress(fake, rng)
    return fit_spectral_net(real, fake)


def _validation(real: np.ndarray, fake: np.ndarray, threshold: float) -> dict:
    """Validation figures of a detector's scores on held-out real and synthetic images."""
    out = {"val_real": len(real), "val_synthetic": len(fake)}
    if len(real) and len(fake):
        out["val_auroc"] = auroc(np.r_[np.zeros(len(real)), np.ones(len(fake))], np.r_[real, fake])
    out["val_false_positive_rate"] = float((real > threshold).mean()) if len(real) else None
    out["val_true_positive_rate"] = float((fake > threshold).mean()) if len(fake) else None
    return out


def load_detector(path: str | Path) -> tuple[nn.Module, dict]:
    """A detector folder's network (eval mode) and config; AekitError for anything else."""
    cfg, tensors, weights = read_detector(path)
    if cfg.get("network") not in NETWORKS:
        raise AekitError(f"{path} holds a detector of an older aekit (not {' or '.join(NETWORKS)}); train it again "
                         "with aekit detect-train")
    try:
        shape = tuple(int(v) for v in cfg["input_shape"])
        if len(shape) != 3 or not 0 < float(cfg["threshold"]) < 1:
            raise ValueError("bad shape or threshold")
        check_input_shape(shape)
        with torch.device("meta"):  # shapes checked before anything the (untrusted) config asks for is allocated
            check_state_dict(_network(cfg, shape), tensors, weights)
        net = _network(cfg, shape)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise AekitError(f"{path}: bad detector config ({e})") from None
    load_state_dict_checked(net, tensors, weights)
    if isinstance(net, EnsembleNet) and not (net.scale.isfinite().all() and (net.scale.diff(dim=1) >= 0).all()):
        raise AekitError(f"{weights}: the ensemble's scale is not sorted finite scores (damaged?)")
    return net.eval(), cfg


MAX_VIEWS, MAX_SCALE = 64, 10**6  # bounds on what an (untrusted) ensemble config may ask to allocate


def _network(cfg: dict, shape: tuple[int, int, int]) -> nn.Module:
    """The untrained network a detector config describes (its weights are loaded into it)."""
    if cfg["network"] == SPECTRAL:
        return SpectralNet(shape)
    if cfg["network"] == RESIDUAL:
        return ResidualNet(shape, tuple(int(v) for v in cfg.get("widths", WIDTHS)))
    views, size = cfg["views"], int(cfg["scale_size"])
    if not isinstance(views, list) or not 0 < len(views) <= MAX_VIEWS or not 0 < size <= MAX_SCALE:
        raise ValueError(f"an ensemble needs 1 to {MAX_VIEWS} views and 1 to {MAX_SCALE} real images to rank among")
    if any(not isinstance(v, dict) or v.get("network") not in (SPECTRAL, RESIDUAL) for v in views):
        raise ValueError(f"an ensemble's views are {SPECTRAL} or {RESIDUAL} networks")
    return EnsembleNet([_network(v, shape) for v in views], size)


def _read_files(net: nn.Module, files: list[str]) -> tuple[list[Path], np.ndarray]:
    """Image files (folders expand to the images inside, each file once) as uint8 images of the detector's shape."""
    paths = list({p.resolve(): p for p in expand_inputs(files)}.values())
    images = np.stack([read_model_image(f, net.input_shape, resize=False) for f in paths])  # resizing would fake pixels
    return paths, images


def on_reference(net: nn.Module, reference: np.ndarray) -> tuple[nn.Module, float, np.ndarray]:
    """A detector network set on uint8 ``reference`` real images of the kind being checked: (the network, ranking
    among them when it is an ensemble; the threshold ``reference_threshold`` sets on their scores, an ensemble's
    each left out of its own ranking; the reference's scores as ``score_images`` gives them)."""
    need_reference(len(reference))
    if isinstance(net, EnsembleNet):
        net = net.rescaled(reference)
    scores = score_images(net, reference)
    ranked = net.left_out(scores) if isinstance(net, EnsembleNet) else scores
    threshold = reference_threshold(ranked)
    if threshold >= ranked.max() and (ranked >= threshold).mean() > FALSE_POSITIVES:
        log.warning("the reference's top scores all equal %.4f, where this detector's scores stop: no image can "
                    "score above it, so every image will be called real", threshold)
    return net, threshold, scores


def detect_files(detector: str | Path, inputs: list[str],
                 reference: list[str] | None = None) -> tuple[list[tuple[Path, float]], float]:
    """Score image files (folders expand to the images inside): ([(file, score)], the threshold above which an
    image counts as synthetic). The threshold is the detector's own, or with ``reference`` (files or folders of real
    images of the kind being checked, at least ``1 / FALSE_POSITIVES``) the one ``on_reference`` sets on them."""
    net, cfg = load_detector(detector)
    threshold = float(cfg["threshold"])
    if reference:
        references, real = _read_files(net, reference)
        _warn_other_kind(references, bool(cfg.get("jpeg")), "reference ")
        net, threshold, _ = on_reference(net, real)
    files, images = _read_files(net, inputs)
    _warn_other_kind(files, bool(cfg.get("jpeg")))
    scores = score_images(net, images)
    if not reference:
        _warn_mostly_flagged(scores, threshold)
    return list(zip(files, scores.tolist())), threshold


def _warn_mostly_flagged(scores: np.ndarray, threshold: float) -> None:
    """Warn when most of many files score above a threshold set on the run's own real images: they are synthetic, or
    real images of another kind than the run's, which such a threshold can flag wholesale (``benchmarks/detect.py``:
    58-80 % of another swap run's real images) and a reference of that kind tells apart."""
    n, flagged = len(scores), int((scores > threshold).sum())
    if n >= MOSTLY_FLAGGED[0] and flagged > MOSTLY_FLAGGED[1] * n:
        log.warning("%d of %d files score above the threshold, which was set on the run's own real images: if some "
                    "are real images of another kind (another person, paper or camera), set it on at least %d "
                    "genuine images of that kind as a reference", flagged, n, round(1 / FALSE_POSITIVES))


def is_jpeg(path: Path) -> bool:
    """Whether a file holds a JPEG image (by its first bytes, whatever its name)."""
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


def _warn_other_kind(files: list[Path], jpeg_detector: bool, what: str = "") -> None:
    """Warn when files (``what``: "reference " for a reference's) are of another kind than the detector learned
    from: JPEG files for a detector of images as they are (a re-save erases much of what it reads) or other files
    for a detector of JPEG files."""
    other = [f for f in files if is_jpeg(f) != jpeg_detector]
    if not other:
        return
    if jpeg_detector:
        log.warning("%d of %d %sfiles are not JPEG (%s, ...), and this detector learned from JPEG re-saves: it is "
                    "measured on JPEG files only", len(other), len(files), what, other[0].name)
    else:
        log.warning("%d of %d %sfiles are JPEG (%s, ...): a JPEG re-save erases much of what this detector reads; "
                    "one trained for JPEG files (aekit detect-train --jpeg) scores them better", len(other),
                    len(files), what, other[0].name)
