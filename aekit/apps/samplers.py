"""Image generation from any autoencoder, and interpolation between two inputs.

Samplers: ``prior`` (a VAE decodes z ~ N(0, I)), ``gmm`` (a Gaussian mixture fitted on a deterministic
autoencoder's training codes, so plain autoencoders generate too), ``vq-prior`` (a VQ-VAE decodes code maps drawn
from a small learned prior over its codebook indices). ``auto`` picks the natural one for the model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from aekit.errors import AekitError

SAMPLERS = ("auto", "prior", "gmm", "vq-prior")


def default_sampler(model) -> str:
    """The sampler that suits a model: its prior when it has one, else a mixture over its codes."""
    if hasattr(model, "sample"):
        return "prior"
    if hasattr(model, "decode_indices"):
        return "vq-prior"
    return "gmm"


class GaussianMixtureSampler:
    """A full-covariance Gaussian mixture over codes, kept as plain tensors (weights, means, Cholesky factors)."""

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor):
        self.weights, self.means, self.chol = weights, means, chol  # (K,), (K, D), (K, D, D)

    @classmethod
    def fit(cls, codes: np.ndarray, n_components: int = 10, seed: int = 0) -> "GaussianMixtureSampler":
        """Fit on codes (N, D) with scikit-learn's EM."""
        flat = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
        k = max(1, min(n_components, len(flat) // 10))
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-5, random_state=seed, max_iter=200).fit(flat)
        chol = np.linalg.cholesky(gm.covariances_)
        return cls(*(torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in (gm.weights_, gm.means_, chol)))

    def tensors(self) -> dict[str, torch.Tensor]:
        """For saving next to the model (safetensors, no pickle)."""
        return {"weights": self.weights, "means": self.means, "chol": self.chol}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], dim: int) -> "GaussianMixtureSampler":
        """Rebuild from saved tensors, checking their shapes against the code size."""
        w, m, c = t.get("weights"), t.get("means"), t.get("chol")
        if w is None or m is None or c is None or m.ndim != 2 or m.shape[1] != dim or c.shape != (len(w), dim, dim) \
                or m.shape[0] != len(w):
            raise AekitError("saved code mixture does not match the model's code size")
        return cls(w, m, c)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes (n, D)."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.means.shape[1], 1, generator=generator)
        return self.means[comp] + (self.chol[comp] @ eps).squeeze(-1)


@torch.no_grad()
def interpolate_codes(model, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode ``steps`` codes evenly spaced on the line between the codes of inputs a and b (each (1, *shape))."""
    if steps < 2:
        raise AekitError("`steps` must be at least 2")
    model.eval()
    za, zb = model.encode(a), model.encode(b)
    t = torch.linspace(0, 1, steps, device=za.device).view(-1, *([1] * (za.dim() - 1)))
    return model.decode(za + t * (zb - za))


def grid(images: np.ndarray, pad: int = 2, cols: int | None = None) -> np.ndarray:
    """uint8 images (N, H, W[, C]) tiled into one image with ``pad`` black pixels between them."""
    n, h, w = images.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return out
