"""FID with aekit's own feature network: a small classifier trained on the dataset's labelled training split.

These are NOT Inception FIDs (Inception weights cannot be fetched here, and Inception knows nothing of 8x8 or 28x28
grey digits). The features are the 128-d penultimate activations of a two-stage conv net that aekit trains once per
(dataset, seed) and caches in ``<cache>/fid/<dataset>-seed<seed>.safetensors``. A number from this module is
comparable only with another one computed on the same dataset, with the same feature-net seed and the same sample
sizes (FID is biased by sample size). Report it beside ``fid_floor``: the FID of real training images against the
test split, the value a perfect generator would get.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn

from aekit._version import __version__
from aekit.data import Dataset, load_dataset
from aekit.data.cache import cache_root
from aekit.data.named import named_datasets
from aekit.errors import AekitError
from aekit.storage import load_state_dict_checked, load_tensors, save_tensors

log = logging.getLogger(__name__)

FEATURES = 128  # width of the penultimate layer, the feature space
CHANNELS = (16, 32)  # conv stage widths
BATCH, LR, EPOCHS = 128, 3e-3, 3  # Adam with a one-cycle schedule: 98.9% MNIST test accuracy in 3 epochs
MIN_STEPS = 500  # small datasets (digits: 1,438 images) train for more epochs to reach this many steps
EVAL_BATCH = 2048
MIN_ACCURACY = 0.9  # below this the feature net is logged as a poor one


class FeatureNet(nn.Module):
    """Conv classifier for one dataset's image shape; its 128-d penultimate activations are the FID features."""

    def __init__(self, input_shape: tuple[int, int, int], n_classes: int, meta: dict | None = None,
                 stem_stride: int = 2):
        super().__init__()
        c, h, w = input_shape
        self.input_shape, self.n_classes, self.meta = tuple(input_shape), n_classes, dict(meta or {})
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
        self.stem_stride = stem_stride  # 1 keeps the first layer at full resolution (pixel-level artefacts)
        c1, c2 = CHANNELS
        s = stem_stride
        flat = c2 * math.ceil(math.ceil(h / s) / 2) * math.ceil(math.ceil(w / s) / 2)
        self.body = nn.Sequential(
            nn.Conv2d(c, c1, 5, stride=s, padding=2), nn.ReLU(),  # (B, c1, ceil(H/s), ceil(W/s))
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (B, c2, ceil(H/2s), ceil(W/2s))
            nn.Flatten(), nn.Linear(flat, FEATURES), nn.ReLU(),  # (B, 128): the FID features
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_classes) of model-space images (B, C, H, W) in [0, 1]."""
        return self.head(self.body(x))

    def to_model_space(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W) or (N, H, W, C) images of this net's shape -> float32 (N, C, H, W) in [0, 1]."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise AekitError(f"FID features need uint8 images as in the Dataset, got {images.dtype}; "
                             "convert with (x * 255).round().clip(0, 255).astype(np.uint8)")
        if images.ndim == 3:
            images = images[..., None]
        c, h, w = self.input_shape
        if images.ndim != 4 or images.shape[1:] != (h, w, c):
            want = f"(N, {h}, {w})" if c == 1 else f"(N, {h}, {w}, {c})"
            raise AekitError(f"the {self.meta.get('dataset', '')} feature net needs images of shape {want}, "
                             f"got {images.shape}; it resizes nothing")
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255

    @torch.no_grad()
    def features(self, images_uint8: np.ndarray) -> np.ndarray:
        """Penultimate activations (N, 128) float64 of uint8 images shaped as this net's dataset."""
        x = self.to_model_space(images_uint8)
        self.eval()
        out = [self.body(x[i : i + EVAL_BATCH]).double() for i in range(0, len(x), EVAL_BATCH)]
        return torch.cat(out).numpy() if out else np.zeros((0, FEATURES))

    @torch.no_grad()
    def accuracy(self, images_uint8: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of images classified as their label."""
        x, y = self.to_model_space(images_uint8), torch.as_tensor(labels)
        self.eval()
        hits = sum(int((self(x[i : i + EVAL_BATCH]).argmax(1) == y[i : i + EVAL_BATCH]).sum())
                   for i in range(0, len(x), EVAL_BATCH))
        return hits / max(len(x), 1)


def image_shape(ds: Dataset) -> tuple[int, int, int]:
    """(C, H, W) of a Dataset's images; AekitError for tables or unlabelled data."""
    if ds.kind != "image" or ds.y_train is None or ds.y_test is None:
        raise AekitError(f"{ds.name}: FID needs a labelled image dataset")
    s = ds.x_train.shape
    return (1, s[1], s[2]) if len(s) == 3 else (s[3], s[1], s[2])


def train_feature_net(ds: Dataset, seed: int = 0, purpose: str = "FID feature net",
                      epochs: int | None = None, stem_stride: int = 2) -> FeatureNet:
    """Train the feature net on a Dataset's labelled training split, seeded, on one CPU thread (see below).

    The same small classifier serves elsewhere (the swap benchmark's digit and domain classifiers, the swap
    detector); ``purpose`` names it in the log, ``epochs`` replaces the default budget (3 epochs, at least 500 steps),
    ``stem_stride`` 1 keeps the first conv at full resolution (the detector's choice; FID features use 2).

    One thread makes the weights independent of the machine's thread count and is several times faster than two
    when other processes share the cores (small convolutions gain little from intra-op threads); the global RNG
    and thread count are restored afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(ds, seed, purpose, epochs, stem_stride)
    finally:
        torch.set_num_threads(threads)


def _train(ds: Dataset, seed: int, purpose: str = "FID feature net", epochs: int | None = None,
           stem_stride: int = 2) -> FeatureNet:
    """The training loop of train_feature_net: Adam, one-cycle schedule, seeded shuffles."""
    start = time.perf_counter()
    n_classes = int(max(ds.y_train.max(), ds.y_test.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureNet(image_shape(ds), n_classes, stem_stride=stem_stride)
    x, y = net.to_model_space(ds.x_train), torch.as_tensor(ds.y_train)
    per_epoch = math.ceil(len(x) / BATCH)
    epochs = epochs or max(EPOCHS, math.ceil(MIN_STEPS / per_epoch))
    opt = torch.optim.Adam(net.parameters(), LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=epochs * per_epoch)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(BATCH):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    acc = net.accuracy(ds.x_test, ds.y_test)
    secs = time.perf_counter() - start
    net.meta = {"dataset": ds.name, "seed": seed, "test_accuracy": acc, "input_shape": list(net.input_shape),
                "n_classes": n_classes, "epochs": epochs, "train_seconds": round(secs, 2), "aekit": __version__}
    log.info("%s for %s (seed %d): %.2f%% test accuracy, %d epochs in %.1f s",
             purpose, ds.name, seed, 100 * acc, epochs, secs)
    if acc < MIN_ACCURACY:
        log.warning("%s for %s reaches only %.1f%% test accuracy", purpose, ds.name, 100 * acc)
    return net


def cache_path(dataset: str, seed: int, cache_dir: str | Path | None = None) -> Path:
    """Where the feature net for (dataset, seed) is cached."""
    return cache_root(cache_dir) / "fid" / f"{dataset}-seed{seed}.safetensors"


def load_feature_net(path: Path, dataset: str, seed: int) -> FeatureNet:
    """A cached feature net, checked against its metadata; AekitError when unreadable or not the one asked for."""
    tensors, meta = load_tensors(path)
    if not isinstance(meta, dict) or meta.get("dataset") != dataset or meta.get("seed") != seed:
        raise AekitError(f"{path} holds no feature net for {dataset} seed {seed}")
    try:
        net = FeatureNet(tuple(int(v) for v in meta["input_shape"]), int(meta["n_classes"]), meta)
    except (KeyError, TypeError, ValueError) as e:
        raise AekitError(f"{path} has bad feature-net metadata ({e})") from None
    load_state_dict_checked(net, tensors, path)
    return net.eval()


def feature_net(dataset: str, seed: int = 0, cache_dir: str | Path | None = None) -> FeatureNet:
    """The feature net for a named dataset: loaded from the cache, else trained once and cached."""
    if dataset not in named_datasets():
        raise AekitError(f"FID feature nets exist for named datasets only ({', '.join(named_datasets())}), "
                         f"not {dataset!r}")
    path = cache_path(dataset, seed, cache_dir)
    if path.exists():
        try:
            return load_feature_net(path, dataset, seed)
        except AekitError as e:
            log.warning("cached FID feature net is unusable (%s); deleting it and training again", e)
            path.unlink(missing_ok=True)
    net = train_feature_net(load_dataset(dataset, cache_dir=cache_dir), seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(path, net.state_dict(), net.meta)
    return net.eval()


def _sqrtm(m: np.ndarray) -> np.ndarray:
    """scipy's matrix square root, quiet about singular input (dead ReLU units make the covariances singular)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(m)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets (Heusel et al. 2017, the FID formula).

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with unbiased covariances. A matrix square root that is not
    finite is retried with 1e-6 added to both diagonals; the real part is taken (tiny imaginary parts are numerical
    noise); the result is clipped at 0.
    """
    a, b = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise AekitError(f"frechet_distance needs two (N, D) arrays with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise AekitError(f"frechet_distance needs at least 2 samples per set, got {len(a)} and {len(b)}")
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        log.warning("singular product of covariances in frechet_distance; adding 1e-6 to the diagonals")
        offset = np.eye(len(s1)) * 1e-6
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(covmean.imag).max()
        if imag > 1e-3 * max(1.0, np.abs(covmean.real).max()):
            log.warning("matrix square root has an imaginary part of %.3g; using the real part", imag)
        covmean = covmean.real
    d = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    return max(float(d), 0.0)


def sample(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded sample of n images without replacement (all of them, in order, when n >= len)."""
    if n >= len(images):
        return images
    return images[np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))]


def fid_against_test(net: FeatureNet, images_uint8: np.ndarray, ds: Dataset, n_ref: int, seed: int) -> float:
    """FID of uint8 images against a seeded sample of up to n_ref test images of ds, in net's feature space."""
    gen = net.features(images_uint8)
    ref = net.features(sample(ds.x_test, n_ref, seed))
    if len(gen) != len(ref):
        log.info("FID of %d images against %d test images; compare only FIDs with the same sizes", len(gen), len(ref))
    return frechet_distance(gen, ref)


def fid(images_uint8: np.ndarray, dataset: str, seed: int = 0, n_ref: int = 10000,
        cache_dir: str | Path | None = None) -> float:
    """FID of uint8 images against up to n_ref images of the dataset's test split, in aekit's feature space."""
    net = feature_net(dataset, seed, cache_dir)
    net.to_model_space(np.asarray(images_uint8)[:1])  # a wrong shape fails before the dataset is loaded
    return fid_against_test(net, images_uint8, load_dataset(dataset, cache_dir=cache_dir), n_ref, seed)


def fid_floor(dataset: str, seed: int = 0, n: int = 10000, cache_dir: str | Path | None = None) -> float:
    """The real-vs-real floor: FID of n training images against n test images (report it beside every FID)."""
    net = feature_net(dataset, seed, cache_dir)
    ds = load_dataset(dataset, cache_dir=cache_dir)
    return fid_against_test(net, sample(ds.x_train, n, seed), ds, n, seed)
