"""Reconstruction metrics, and the PCA baseline every autoencoder is measured against."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] for BCE, as Keras does


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, batch_size: int = 1024, device: torch.device | str = "cpu") -> torch.Tensor:
    """Model-space reconstructions of ``x`` (float32, (N, *input_shape)), computed in batches, on the CPU."""
    model.eval()
    outs = [model(x[i : i + batch_size].to(device))["x_hat"].float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty_like(x)


def bce(x: np.ndarray | torch.Tensor, x_hat: np.ndarray | torch.Tensor) -> float:
    """Mean binary cross-entropy of reconstructions (probabilities clipped to [1e-7, 1-1e-7])."""
    x = torch.as_tensor(x, dtype=torch.float64)
    p = torch.as_tensor(x_hat, dtype=torch.float64).clamp(EPS, 1 - EPS)
    return float(-(x * p.log() + (1 - x) * (1 - p).log()).mean())


def mse(x, x_hat) -> float:
    """Mean squared error per element."""
    x = torch.as_tensor(x, dtype=torch.float64)
    return float(((x - torch.as_tensor(x_hat, dtype=torch.float64)) ** 2).mean())


def psnr(x, x_hat, data_range: float = 1.0) -> float:
    """Mean over samples of each sample's PSNR in dB (a perfect sample counts as 100 dB)."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten(1)
    err = ((x - torch.as_tensor(x_hat, dtype=torch.float64).flatten(1)) ** 2).mean(1)
    db = 10 * torch.log10(data_range**2 / err.clamp_min(1e-10))
    return float(db.clamp_max(100).mean())


def reconstruction_metrics(x, x_hat, with_bce: bool = True) -> dict[str, float]:
    """BCE (when outputs are probabilities), MSE and PSNR of reconstructions in model space."""
    out = {"mse": mse(x, x_hat), "psnr": psnr(x, x_hat)}
    if with_bce:
        out = {"bce": bce(x, x_hat), **out}
    return out


def pca_mse(x_train: np.ndarray, x_test: np.ndarray, n_components: int, seed: int = 0) -> float:
    """Test MSE of PCA with ``n_components`` fitted on the training data: the linear baseline."""
    a = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1)
    b = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    k = min(n_components, a.shape[0], a.shape[1])
    pca = PCA(n_components=k, svd_solver="randomized" if k < min(a.shape) // 2 else "full", random_state=seed)
    pca.fit(a)
    return mse(b, pca.inverse_transform(pca.transform(b)))
