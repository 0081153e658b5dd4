"""The feature network behind aekit's FID and its swap detector: trained once per (dataset, seed) on the dataset's
labelled training split and cached in ``<cache>/fid/<dataset>-seed<seed>.safetensors``; and the FIDs that need
it (``fid``, ``fid_floor``). The distance itself is ``aekit.metrics.fid``.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aekit._version import __version__
from aekit.data import Dataset, load_dataset
from aekit.data.cache import cache_root
from aekit.data.named import named_datasets
from aekit.errors import AekitError
from aekit.metrics.fid import (  # noqa: F401 (the FID API in one place)
    CHANNELS,
    EVAL_BATCH,
    FEATURES,
    FeatureNet,
    fid_against_test,
    frechet_distance,
    image_shape,
    sample,
)
from aekit.storage import load_state_dict_checked, load_tensors, save_tensors

log = logging.getLogger(__name__)

BATCH, LR, EPOCHS = 128, 3e-3, 3  # Adam with a one-cycle schedule: 98.9% MNIST test accuracy in 3 epochs
MIN_STEPS = 500  # small datasets (digits: 1,438 images) train for more epochs to reach this many steps
MIN_ACCURACY = 0.9  # below this the feature net is logged as a poor one


def train_feature_net(ds: Dataset, seed: int = 0, purpose: str = "FID feature net",
                      epochs: int | None = None, stem_stride: int = 2, device: str = "cpu") -> FeatureNet:
    """Train the feature net on a Dataset's labelled training split, seeded, on ``device`` with one CPU thread (below).

    The same small classifier serves elsewhere (the swap benchmark's digit and domain classifiers, the swap
    detector); ``purpose`` names it in the log, ``epochs`` replaces the default budget (3 epochs, at least 500 steps),
    ``stem_stride`` 1 keeps the first conv at full resolution (the detector's choice; FID features use 2);
    ``device`` is where it trains (the net comes back on the CPU).

    One thread makes the weights independent of the machine's thread count and is several times faster than two
    when other processes share the cores (small convolutions gain little from intra-op threads); the global RNG
    and thread count are restored afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(ds, seed, purpose, epochs, stem_stride, device)
    finally:
        torch.set_num_threads(threads)


def fit_classifier(net: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int, batch: int = BATCH,
                   lr: float = LR, device: str = "cpu") -> nn.Module:
    """Train a classifier of model-space images ``x`` with labels ``y``: cross-entropy, Adam with a one-cycle
    schedule, seeded shuffles, each batch moved to ``device``; returns ``net`` in eval mode, on the CPU."""
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr)
    per_epoch = math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(1, epochs * per_epoch))
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            loss = nn.functional.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.cpu().eval()


def _train(ds: Dataset, seed: int, purpose: str = "FID feature net", epochs: int | None = None,
           stem_stride: int = 2, device: str = "cpu") -> FeatureNet:
    """The training loop of train_feature_net: Adam, one-cycle schedule, seeded shuffles."""
    start = time.perf_counter()
    n_classes = int(max(ds.y_train.max(), ds.y_test.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureNet(image_shape(ds), n_classes, stem_stride=stem_stride)
    x, y = net.to_model_space(ds.x_train), torch.as_tensor(ds.y_train)
    per_epoch = math.ceil(len(x) / BATCH)
    epochs = epochs or max(EPOCHS, math.ceil(MIN_STEPS / per_epoch))
    fit_classifier(net, x, y, epochs, seed, device=device)
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
