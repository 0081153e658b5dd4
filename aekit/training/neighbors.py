"""The input-space neighbour graph behind the neighbour-preserving code term, and the per-epoch neighbour draws.

``knn_graph`` finds each sample's k nearest neighbours (Euclidean, in the space of the first ``dims`` principal
components when the inputs are wider: PCA-50 keeps MNIST's neighbourhoods and is ~10x cheaper than 784 pixels) and
weighs the edges as UMAP's fuzzy simplicial set does for one direction: ``exp(-(d - rho) / sigma)``, rho the distance
to the nearest neighbour and sigma set so the weights of a sample sum to log2(k) (McInnes et al. 2018, section 3.1).

``NeighborSampler(epoch)`` draws one neighbour per sample with probability proportional to those weights, seeded by
the epoch, and returns it as the trainer's side tensor ``neighbor`` (the neighbour's own input, shape like x).

The graph can be built on deskewed images instead of the raw pixels (``neighbor_space="deskewed"``): ``deskew`` shears
each image so that its slant (the covariance of ink row and column) is zero and moves its centre of mass to the
centre, the classic MNIST normalisation (LeCun et al. 1998). Measured on MNIST (50k training images, kNN-5 scored on
the other 10k, PCA-50 space): pixels 0.9767, deskewed 0.9851. Only the graph uses it: the neighbour inputs stay raw.

``layout`` is non-parametric UMAP on the same graph: free points optimised by UMAP's own stochastic gradient steps
(umap.layouts.optimize_layout_euclidean, vectorised). It costs seconds where the parametric loss needs many epochs of
the encoder to unfold the graph; as landmarks (side tensor ``landmark``) it gives the encoder a target to regress to
while the neighbour term refines it, as umap-learn's ParametricUMAP does with its landmark loss.
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


@torch.no_grad()
def deskew(x: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) sheared horizontally so that each one's ink has no row-column covariance, and shifted so
    that its centre of mass (of the channel mean) sits at the image centre; bilinear, zeros outside. Blank images
    are returned unchanged."""
    if x.ndim != 4:
        raise ValueError(f"deskew needs images (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    ink = x.float().mean(1)  # (N, H, W)
    rows = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    cols = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    total = ink.sum((1, 2)).clamp_min(1e-12)
    mr, mc = (ink * rows).sum((1, 2)) / total, (ink * cols).sum((1, 2)) / total  # (N,) centre of mass
    var_r = (ink * (rows - mr.view(-1, 1, 1)) ** 2).sum((1, 2)) / total
    cov = (ink * (rows - mr.view(-1, 1, 1)) * (cols - mc.view(-1, 1, 1))).sum((1, 2)) / total
    alpha = torch.where(var_r > 1e-6, cov / var_r.clamp_min(1e-6), torch.zeros_like(cov))  # slant: columns per row
    blank = ink.sum((1, 2)) <= 0
    alpha, mr, mc = alpha.masked_fill(blank, 0), mr.masked_fill(blank, (h - 1) / 2), mc.masked_fill(blank, (w - 1) / 2)
    cr, cc = (h - 1) / 2, (w - 1) / 2
    src_r = rows + (mr.view(-1, 1, 1) - cr)  # output (r, c) reads input (r + mr - cr, c + alpha (r - cr) + mc - cc)
    src_c = cols + alpha.view(-1, 1, 1) * (rows - cr) + (mc.view(-1, 1, 1) - cc)
    grid = torch.stack([2 * src_c / (w - 1) - 1, 2 * src_r.expand(n, h, w) / (h - 1) - 1], -1)  # (N, H, W, 2): x, y
    out = torch.nn.functional.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.to(x.dtype)


def _pca_init(x: torch.Tensor, dims: int, seed: int) -> torch.Tensor:
    """Starting points: the data's first ``dims`` principal components, scaled into [-10, 10] (UMAP's scale)."""
    from sklearn.decomposition import PCA

    flat = x.detach().cpu().flatten(1).float().numpy()
    k = min(dims, *flat.shape)
    y = torch.zeros(len(flat), dims)
    y[:, :k] = torch.from_numpy(PCA(k, svd_solver="randomized", random_state=seed).fit_transform(flat))
    return 10 * y / y.abs().max().clamp_min(1e-12)


@torch.no_grad()
def layout(x: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor, dims: int, a: float, b: float,
           epochs: int = 200, negatives: int = 5, seed: int = 0, chunks: int = 4) -> torch.Tensor:
    """UMAP's embedding (N, dims) of the graph (indices, weights (N, k)): from a PCA start, each epoch samples every
    edge with probability weight / max weight, moves both ends together (attraction) and the head away from
    ``negatives`` random points (repulsion), gradients clipped to [-4, 4], learning rate decaying linearly to 0.
    Each epoch's edges are applied in ``chunks`` vectorised steps."""
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    n, k = indices.shape
    y = _pca_init(x, dims, seed)
    heads = torch.arange(n).repeat_interleave(k)
    tails, w = indices.flatten(), weights.flatten()
    keep = w / w.max()
    for epoch in range(epochs):
        alpha = 1.0 - epoch / epochs
        edges = torch.nonzero(torch.rand(len(w), generator=gen) < keep).flatten()
        edges = edges[torch.randperm(len(edges), generator=gen)]
        for part in edges.chunk(chunks):
            h, t = heads[part], tails[part]
            diff = y[h] - y[t]
            d2 = (diff * diff).sum(1, keepdim=True)
            coef = -2 * a * b * d2.clamp_min(1e-12).pow(b - 1) / (1 + a * d2.pow(b))
            g = (coef * diff).clamp(-4, 4) * alpha
            y.index_add_(0, h, g)
            y.index_add_(0, t, -g)
            hn = h.repeat(negatives)
            tn = torch.randint(n, (len(hn),), generator=gen)
            diff = y[hn] - y[tn]
            d2 = (diff * diff).sum(1, keepdim=True)
            coef = 2 * b / ((1e-3 + d2) * (1 + a * d2.pow(b)))
            g = torch.where(d2 > 0, (coef * diff).clamp(-4, 4), torch.zeros(()))  # a point does not repel itself
            y.index_add_(0, hn, g * alpha)
    log.info("UMAP layout of %d points in %d dims: %.1f s", n, dims, time.perf_counter() - t0)
    return y


class NeighborSampler:
    """Side data from the kNN graph of x: ``sampler(epoch) -> {"neighbor": (N, *x.shape[1:]), "landmark": (N, D)}``,
    one graph neighbour per sample drawn afresh each epoch, and fixed landmarks (a UMAP layout in ``landmark_dims``
    dimensions; none when 0)."""

    def __init__(self, x: torch.Tensor, k: int, seed: int = 0, dims: int = PCA_DIMS, neighbors: bool = True,
                 landmark_dims: int = 0, min_dist: float = 0.1, space: torch.Tensor | None = None):
        self.x, self.seed, self.neighbors = x, seed, neighbors
        space = x if space is None else space  # what the graph (and the layout's start) is computed on
        if len(x) < 2:  # no other sample: a sample is its own neighbour (the attraction is then constant)
            self.indices, self.weights = torch.zeros(len(x), 1, dtype=torch.int64), torch.ones(len(x), 1)
        else:
            self.indices, dist = knn_graph(space, k, dims, seed)
            self.weights = membership(dist)
        self.landmarks = None
        if landmark_dims:
            from aekit.models.neighbors import umap_ab

            self.landmarks = layout(space, self.indices, self.weights, landmark_dims, *umap_ab(min_dist), seed=seed)

    def draw(self, epoch: int) -> torch.Tensor:
        """Indices (N,) of one neighbour per sample for this epoch, with probability proportional to edge weight."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + 7)
        pick = torch.multinomial(self.weights, 1, generator=gen)  # (N, 1) column within each row
        return self.indices.gather(1, pick).squeeze(1)

    def __call__(self, epoch: int) -> dict[str, torch.Tensor]:
        out = {"neighbor": self.x[self.draw(epoch)]} if self.neighbors else {}
        return out if self.landmarks is None else {**out, "landmark": self.landmarks}


def neighbor_sampler(model, x: torch.Tensor, seed: int = 0) -> NeighborSampler | None:
    """The sampler a model's neighbour and landmark terms need (None when its config asks for neither)."""
    cfg = model.config
    near, landmark = getattr(cfg, "neighbor_weight", 0.0), getattr(cfg, "landmark_weight", 0.0)
    if not near and not landmark:
        return None
    space = deskew(x) if getattr(cfg, "neighbor_space", "pixels") == "deskewed" else None
    return NeighborSampler(x, cfg.neighbors, seed, neighbors=bool(near),
                           landmark_dims=int(cfg.code_size) if landmark else 0, min_dist=cfg.neighbor_min_dist,
                           space=space)
