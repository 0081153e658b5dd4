"""``aekit detect-train`` and ``aekit detect``: a classifier that tells real images from what a run synthesises.

The detector is trained on the run's own training images (label 0) against its outputs for them (label 1): own-domain
reconstructions and, for a swap run, swaps into every other domain. Fakes are quantised to uint8 exactly as a PNG
would store them, and the detector sees pixels only: provenance marks live in PNG text chunks, never in the pixels,
so stripping them changes nothing it sees. The network is aekit's small conv classifier (``fid.FeatureNet``).

A detector folder holds ``config.json`` (kind, input shape, the run and its fingerprint, validation figures) and
``model.safetensors``; nothing is pickled.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from aekit.apps.features import FeatureNet, train_feature_net
from aekit.apps.inputs import expand_inputs, read_model_image
from aekit.data.dataset import IMAGE, Dataset, split
from aekit.errors import AekitError
from aekit.metrics.reconstruction import auroc, reconstruct
from aekit.models.base import check_input_shape
from aekit.runs.detector import prepare_detector_dir, read_detector, write_detector
from aekit.runs.run import Run, as_run
from aekit.storage import load_state_dict_checked

log = logging.getLogger(__name__)

EPOCHS = 10  # measured: 10 epochs with a full-resolution first layer beat 20 with the FID net's stride-2 stem
STEM_STRIDE = 1


def _subset(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))]


def synthesise(model, norm, images: np.ndarray, domain: int | None = None) -> list[tuple[str, np.ndarray]]:
    """What ``model`` makes of uint8 ``images`` of one domain: [(kind, uint8 images)], reconstructions first, then
    (swap models) the swaps into every other domain."""
    from aekit.apps.swap import decode_all

    x = torch.from_numpy(norm.transform(images))
    if getattr(model, "critic_classes", 0) and domain is not None:  # a swap model
        return [("reconstruction" if j == domain else f"swap-to-{name}",
                 norm.inverse(decode_all(model, x, j).clamp(0, 1).numpy())) for j, name in enumerate(model.domains)]
    return [("reconstruction", norm.inverse(reconstruct(model, x).clamp(0, 1).numpy()))]


def detector_data(run: Run | str | Path, max_per_domain: int = 2000,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Real training images of a run and its synthetic versions of them (uint8), and counts by kind."""
    run = as_run(run)
    model, norm = run.model, run.normalizer
    if len(model.config.input_shape) != 3:
        raise AekitError(f"{run.path} was trained on table data; the detector works on images")
    if run.domains:
        sets = [(name, ds.x_train, i) for i, (name, ds) in enumerate(run.domain_datasets().items())]
    else:
        sets = [("data", run.dataset().x_train, None)]
    real, fake, counts = [], [], {}
    for name, x, domain in sets:
        x = _subset(x, max_per_domain, seed)
        real.append(x)
        counts[f"real-{name}"] = len(x)
        for kind, images in synthesise(model, norm, x, domain):
            fake.append(images)
            counts[f"{kind}-from-{name}"] = len(images)
    return np.concatenate(real), np.concatenate(fake), counts


def train_detector(run: Run | str | Path, out: str | Path, max_per_domain: int = 2000, seed: int = 0,
                   epochs: int = EPOCHS, force: bool = False) -> dict:
    """Train a real-vs-synthetic classifier for a run's outputs into folder ``out``; returns its config."""
    run, out = as_run(run), Path(out)
    if max_per_domain < 10:
        raise AekitError("`max_per_domain` must be at least 10")
    if not 1 <= epochs <= 1000:
        raise AekitError("`epochs` must be between 1 and 1000")
    prepare_detector_dir(out, force)
    real, fake, counts = detector_data(run, max_per_domain, seed)
    x = np.concatenate([real, fake])
    y = np.concatenate([np.zeros(len(real), np.int64), np.ones(len(fake), np.int64)])
    x_tr, y_tr, x_val, y_val = split(x, y, 0.1, seed)
    what = "swap" if any(kind.startswith("swap-to-") for kind in counts) else "synthetic-image"
    net = train_feature_net(Dataset(f"the outputs of {run.path.name}", x_tr, y_tr, x_val, y_val, IMAGE,
                                    f"detector for {run.path}"), seed, purpose=f"{what} detector", epochs=epochs,
                            stem_stride=STEM_STRIDE)
    val = score_images(net, x_val)
    config = {"input_shape": list(net.input_shape), "n_classes": 2,
              "stem_stride": net.stem_stride, "epochs": epochs,
              "run": str(run.path), "run_fingerprint": run.fingerprint, "seed": seed,
              "trained_on": counts, "val_images": len(x_val), "val_accuracy": float(((val > 0.5) == y_val).mean()),
              "val_auroc": auroc(y_val, val), "train_seconds": net.meta.get("train_seconds")}
    write_detector(out, net.state_dict(), config)
    return config


def load_detector(path: str | Path) -> tuple[FeatureNet, dict]:
    """A detector folder's network (eval mode) and config; AekitError for anything else."""
    cfg, tensors, weights = read_detector(path)
    try:
        shape = tuple(int(v) for v in cfg["input_shape"])
        if len(shape) != 3 or int(cfg["n_classes"]) != 2:
            raise ValueError("bad shape or classes")
        check_input_shape(shape)
        net = FeatureNet(shape, 2, {"detector": str(path)}, stem_stride=int(cfg.get("stem_stride", 2)))
    except (KeyError, TypeError, ValueError) as e:
        raise AekitError(f"{path}: bad detector config ({e})") from None
    load_state_dict_checked(net, tensors, weights)
    return net.eval(), cfg


@torch.no_grad()
def score_images(net: FeatureNet, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """P(synthetic) for uint8 images shaped as the detector's input, (N,) float64."""
    x = net.to_model_space(images)
    net.eval()
    probs = [torch.softmax(net(x[i : i + batch_size]).double(), 1)[:, 1] for i in range(0, len(x), batch_size)]
    return torch.cat(probs).numpy() if probs else np.zeros(0)


def detect_files(detector: str | Path, inputs: list[str]) -> list[tuple[Path, float]]:
    """Score image files (folders expand to the images inside): [(file, P(synthetic))]."""
    net, _ = load_detector(detector)
    files = expand_inputs(inputs)
    images = np.stack([read_model_image(f, net.input_shape, resize=False) for f in files])  # resizing would fake pixels
    return list(zip(files, score_images(net, images).tolist()))
