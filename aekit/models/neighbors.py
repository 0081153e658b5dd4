"""The neighbour-preserving code term: parametric UMAP's loss, added to the reconstruction loss with a weight.

UMAP (McInnes et al., "UMAP: Uniform Manifold Approximation and Projection", 2018) and its parametric form (Sainburg
et al., "Parametric UMAP Embeddings for Representation and Semisupervised Learning", 2021) fit low-dimensional
points whose similarity ``q(d) = 1 / (1 + a d^(2b))`` matches a k-nearest-neighbour graph of the inputs, by cross
entropy: edges of the graph are pulled together (``-log q``) and random pairs pushed apart (``-log(1 - q)``).

Here each training sample comes with one neighbour drawn from its k nearest neighbours in input space (the trainer
draws them afresh every epoch, see ``aekit.training.neighbors``); ``forward(x, neighbor=...)`` encodes both, and ``neighbor_penalty``
returns ``weight * (attraction + negatives * repulsion)``: attraction averaged over the (sample, neighbour) edges,
repulsion averaged over every other (sample, neighbour-of-another-sample) pair in the batch, standing in for UMAP's
``negatives`` random negative samples per edge.

The parametric loss alone needs many epochs to unfold the graph (parametric UMAP trains for ~100k steps). The
landmark term is the shortcut: ``landmark_penalty`` pulls each code towards its sample's point in a non-parametric
UMAP layout of the same graph (``aekit.training.neighbors.layout``, computed in seconds), ``landmark_weight`` times the mean squared
distance, as umap-learn's ParametricUMAP can with its landmark loss; the neighbour term keeps shaping the codes.

Configs that offer the terms have the fields ``neighbor_weight`` (0: off), ``neighbors`` (k of the graph),
``neighbor_min_dist`` (UMAP's min_dist, which sets a and b), ``neighbor_negatives``, ``landmark_weight`` (0: off) and
``neighbor_space`` ("pixels", or "deskewed": the graph of deskewed images, see ``aekit.training.neighbors.deskew``):
the ``CodeTerms`` group of ``aekit.models.config_parts``, which also validates them.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

EPS = 1e-4  # probabilities are clipped to [EPS, 1 - EPS] inside the logs, as parametric UMAP does


@functools.lru_cache(maxsize=32)
def umap_ab(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's (a, b): the curve 1 / (1 + a d^(2b)) fitted to 1 below min_dist and exp(-(d - min_dist) / spread)
    beyond it (umap.umap_.find_ab_params); min_dist 0.1, spread 1 gives a = 1.577, b = 0.895."""
    from scipy.optimize import curve_fit

    d = np.linspace(0, spread * 3, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), d, target)
    return float(a), float(b)


def similarity(sq_dist: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """UMAP's low-dimensional similarity q = 1 / (1 + a d^(2b)) from squared distances d^2."""
    return 1.0 / (1.0 + a * sq_dist.clamp_min(1e-12) ** b)


def umap_cross_entropy(z: torch.Tensor, z_nb: torch.Tensor, a: float, b: float,
                       negatives: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(attraction, repulsion): mean -log q over the edges (z_i, z_nb_i), and mean -log(1 - q) over the pairs
    (z_i, z_nb_j), j != i. z, z_nb: (B, D). ``negatives`` weights repulsion (UMAP's negative_sample_rate)."""
    z, z_nb = z.flatten(1), z_nb.flatten(1)
    attraction = -similarity(((z - z_nb) ** 2).sum(1), a, b).clamp(EPS, 1 - EPS).log().mean()
    n = len(z)
    if n < 2:
        return attraction, z.new_zeros(())
    sq = torch.cdist(z, z_nb).pow(2)  # (B, B)
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)
    repulsion = -(1 - similarity(sq[off], a, b)).clamp(EPS, 1 - EPS).log().mean()
    return attraction, negatives * repulsion


def neighbor_penalty(out: dict[str, torch.Tensor], cfg) -> dict[str, torch.Tensor]:
    """The weighted UMAP term and its two parts; empty when the config asks for none or no neighbours were given."""
    weight = getattr(cfg, "neighbor_weight", 0.0)
    if not weight or "z_neighbor" not in out:
        return {}
    a, b = umap_ab(cfg.neighbor_min_dist)
    attraction, repulsion = umap_cross_entropy(out["z"], out["z_neighbor"], a, b, cfg.neighbor_negatives)
    return {"neighbor": weight * (attraction + repulsion), "attraction": attraction.detach(),
            "repulsion": repulsion.detach()}


def landmark_penalty(z: torch.Tensor, landmark: torch.Tensor | None, cfg) -> dict[str, torch.Tensor]:
    """``landmark_weight`` times the mean squared distance between codes and their landmarks (B, D); empty when
    the config asks for none or no landmarks were given."""
    weight = getattr(cfg, "landmark_weight", 0.0)
    if not weight or landmark is None:
        return {}
    dist = ((z.flatten(1) - landmark.flatten(1)) ** 2).sum(1).mean()
    return {"landmark": weight * dist, "landmark_dist": dist.detach()}
