"""The input-space neighbour graph behind the neighbour-preserving code term, and the per-epoch neighbour draws.

``knn_graph`` finds each sample's k nearest neighbours (Euclidean, in the space of the first ``dims`` principal
components when the inputs are wider: PCA-50 keeps MNIST's neighbourhoods and is ~10x cheaper than 784 pixels) and
weighs the edges as UMAP's fuzzy simplicial set does for one direction: ``exp(-(d - rho) / sigma)``, rho the distance
to the nearest neighbour and sigma set so the weights of a sample sum to log2(k) (McInnes et al. 2018, section 3.1).

``NeighborSampler(epoch)`` draws one neighbour per sample with probability proportional to those weights, seeded by
the epoch, and returns it as the trainer's side tensor ``neighbor`` (the neighbour's own input, shape like x).
"""

from __future__ import annotations

import logging
import math
import time

import torch

log = logging.getLogger(__name__)

PCA_DIMS = 50
CHUNK = 2048  # query rows per distance block: a (CHUNK, N) float32 block at a time


def _project(x: torch.Tensor, dims: int, seed: int) -> torch.Tensor:
    """Rows of x (N, D) on their first ``dims`` principal components (x itself when D <= dims)."""
    if x.shape[1] <= dims or len(x) <= dims:
        return x
    from sklearn.decomposition import PCA

    pca = PCA(dims, svd_solver="randomized", random_state=seed)
    return torch.from_numpy(pca.fit_transform(x.numpy()).astype("float32"))


@torch.no_grad()
def knn_graph(x: torch.Tensor, k: int, dims: int = PCA_DIMS, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices (N, k) int64, distances (N, k) float32) of each row's k nearest other rows, nearest first.
    x: (N, ...) float; k is capped at N - 1."""
    t0 = time.perf_counter()
    v = _project(x.detach().cpu().flatten(1).float(), dims, seed)
    n = len(v)
    k = min(k, n - 1)
    sq = (v * v).sum(1)
    idx, dist = [], []
    for i in range(0, n, CHUNK):
        d = torch.addmm(sq[None], v[i : i + CHUNK], v.T, beta=1, alpha=-2)  # (c, N): |b|^2 - 2 a.b
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = math.inf  # not one's own neighbour
        top = d.topk(k, largest=False)  # sorted, nearest first
        idx.append(top.indices)
        dist.append((top.values + sq[i : i + CHUNK, None]).clamp_min(0).sqrt())
    log.info("%d-nearest-neighbour graph of %d samples in %.1f s", k, n, time.perf_counter() - t0)
    return torch.cat(idx), torch.cat(dist)


def membership(dist: torch.Tensor, iterations: int = 64) -> torch.Tensor:
    """UMAP's edge weights exp(-(d - rho) / sigma) for distances (N, k) sorted nearest first; each row sums to
    log2(k) (sigma found by bisection, as umap's smooth_knn_dist does)."""
    k = dist.shape[1]
    d = (dist - dist[:, :1]).double()  # d - rho, rho = distance to the nearest neighbour
    target = math.log2(k) if k > 1 else 1.0
    lo, hi = torch.zeros(len(d), 1, dtype=d.dtype), torch.full((len(d), 1), math.inf, dtype=d.dtype)
    sigma = torch.ones(len(d), 1, dtype=d.dtype)
    for _ in range(iterations):
        total = torch.exp(-d / sigma).sum(1, keepdim=True)
        too_big = total > target
        hi = torch.where(too_big, sigma, hi)
        lo = torch.where(too_big, lo, sigma)
        sigma = torch.where(torch.isinf(hi), sigma * 2, (lo + hi) / 2)
    return torch.exp(-d / sigma).float()


class NeighborSampler:
    """Draws one graph neighbour per sample each epoch: ``sampler(epoch) -> {"neighbor": (N, *x.shape[1:])}``."""

    def __init__(self, x: torch.Tensor, k: int, seed: int = 0, dims: int = PCA_DIMS):
        self.x, self.seed = x, seed
        if len(x) < 2:  # no other sample: a sample is its own neighbour (the attraction is then constant)
            self.indices, self.weights = torch.zeros(len(x), 1, dtype=torch.int64), torch.ones(len(x), 1)
        else:
            self.indices, dist = knn_graph(x, k, dims, seed)
            self.weights = membership(dist)

    def draw(self, epoch: int) -> torch.Tensor:
        """Indices (N,) of one neighbour per sample for this epoch, with probability proportional to edge weight."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + 7)
        pick = torch.multinomial(self.weights, 1, generator=gen)  # (N, 1) column within each row
        return self.indices.gather(1, pick).squeeze(1)

    def __call__(self, epoch: int) -> dict[str, torch.Tensor]:
        return {"neighbor": self.x[self.draw(epoch)]}


def neighbor_sampler(model, x: torch.Tensor, seed: int = 0) -> NeighborSampler | None:
    """The sampler a model's neighbour term needs (None when its config asks for no such term)."""
    cfg = model.config
    if not getattr(cfg, "neighbor_weight", 0.0):
        return None
    return NeighborSampler(x, cfg.neighbors, seed)
