"""A run's data as training saw it: one dataset, or one per identity of a swap run, in model space."""

from __future__ import annotations

import logging

import numpy as np
import torch

from aekit.data import Dataset, Normalizer, load_dataset, sample_shape
from aekit.data.dataset import IMAGE
from aekit.errors import AekitError

log = logging.getLogger(__name__)


def load_domains(domains: dict[str, str], image_size=None, test_fraction: float = 0.1,
                 seed: int = 0) -> dict[str, Dataset]:
    """Load every domain's images; they must share one sample shape (pass ``image_size`` to resize them)."""
    out = {}
    for name, source in domains.items():
        ds = load_dataset(source, image_size=tuple(image_size) if image_size else None,
                          test_fraction=test_fraction, seed=seed)
        if ds.kind != IMAGE:
            raise AekitError(f"domain {name!r} ({source}) holds table data; swap works on images")
        out[name] = ds
    if len({sample_shape(ds)[0] for ds in out.values()}) > 1:  # grey and colour domains: all become RGB (lossless)
        for name, ds in out.items():
            if ds.x_train.ndim == 3:
                log.info("domain %r is greyscale: using it as RGB like the other domains", name)
                ds.x_train, ds.x_test = (np.repeat(x[..., None], 3, axis=-1) for x in (ds.x_train, ds.x_test))
    shapes = {name: sample_shape(ds) for name, ds in out.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in shapes.items())
        raise AekitError(f"the domains' images differ in size ({listed}); pass `image_size`")
    return out


def run_datasets(info) -> dict[str, Dataset]:
    """The data a run trains on, read as its ``DataInfo`` says: {identity: dataset} for a swap run, else
    {"": the dataset}."""
    if info.domains:
        return load_domains({d.name: d.source for d in info.domains}, info.image_size, info.test_fraction)
    return {"": load_dataset(info.source, **info.loader_options())}


def domain_arrays(datasets: dict[str, Dataset], norm: Normalizer, split: str = "train",
                  limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every domain's images of one split in model space, stacked, and each image's domain index (N,)."""
    xs, ids = [], []
    for i, ds in enumerate(datasets.values()):
        x = ds.x_train if split == "train" else ds.x_test
        x = x[:limit] if limit else x
        xs.append(torch.from_numpy(norm.transform(x)))
        ids.append(torch.full((len(x),), i, dtype=torch.long))
    return torch.cat(xs), torch.cat(ids)
