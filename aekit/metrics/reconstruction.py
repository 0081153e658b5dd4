"""Reconstruction metrics (BCE, MSE, PSNR, SSIM), and the PCA baseline every autoencoder is measured against."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from aekit.errors import AekitError
from aekit.models.inference import in_batches

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] for BCE, as Keras does
SSIM_WIN, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03  # Wang et al. 2004
SSIM_BATCH = 512  # samples per batch in ssim(), to bound memory


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, batch_size: int = 1024, device: torch.device | str = "cpu") -> torch.Tensor:
    """Model-space reconstructions of ``x`` (float32, (N, *input_shape)), computed in batches, on the CPU."""
    model.eval()
    return in_batches(lambda b: model(b)["x_hat"].float(), x, batch_size, device)


@torch.no_grad()
def active_dims(model, x: torch.Tensor, batch_size: int = 1024, device: torch.device | str = "cpu",
                threshold: float = 0.01) -> int:
    """A VAE's active code dimensions (Burda et al. 2016): those whose posterior mean varies across the inputs ``x``
    with variance above ``threshold``. Zero means posterior collapse: the decoder ignores the code."""
    model.eval()
    mu = in_batches(lambda b: model.posterior(b)[0].float(), x, batch_size, device)
    return int((mu.var(0) > threshold).sum()) if len(mu) > 1 else 0


def bce(x: np.ndarray | torch.Tensor, x_hat: np.ndarray | torch.Tensor) -> float:
    """Mean binary cross-entropy of reconstructions (probabilities clipped to [1e-7, 1-1e-7])."""
    x = torch.as_tensor(x, dtype=torch.float64)
    p = torch.as_tensor(x_hat, dtype=torch.float64).clamp(EPS, 1 - EPS)
    return float(-(x * p.log() + (1 - x) * (1 - p).log()).mean())


def mse(x, x_hat) -> float:
    """Mean squared error per element."""
    x = torch.as_tensor(x, dtype=torch.float64)
    return float(((x - torch.as_tensor(x_hat, dtype=torch.float64)) ** 2).mean())


def column_mse(x, x_hat) -> np.ndarray:
    """Mean squared error of each column of table rows (N, D): float64 (D,)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    return ((x - torch.as_tensor(x_hat, dtype=torch.float64)) ** 2).flatten(1).mean(0).numpy()


def psnr(x, x_hat, data_range: float = 1.0) -> float:
    """Mean over samples of each sample's PSNR in dB (a perfect sample counts as 100 dB)."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten(1)
    err = ((x - torch.as_tensor(x_hat, dtype=torch.float64).flatten(1)) ** 2).mean(1)
    db = 10 * torch.log10(data_range**2 / err.clamp_min(1e-10))
    return float(db.clamp_max(100).mean())


def gaussian_window(size: int, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian of odd ``size`` taps (float64), as scipy.ndimage builds it."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-0.5 * (r / sigma) ** 2)
    return w / w.sum()


def ssim_window_size(height: int, width: int) -> int:
    """11, or the largest odd size that fits an image smaller than 11 pixels on a side."""
    side = min(SSIM_WIN, height, width)
    return side if side % 2 else side - 1


def valid_filter_matrix(win: torch.Tensor, n: int) -> torch.Tensor:
    """(n - k + 1, n) matrix whose product with a length-n signal is its valid-region correlation with ``win``."""
    k = len(win)
    m = torch.zeros(n - k + 1, n, dtype=win.dtype)
    for i in range(n - k + 1):
        m[i, i : i + k] = win
    return m


def _ssim_maps(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-pixel SSIM over the valid region: x, y (B, H, W) float64 -> (B, H - k + 1, W - k + 1)."""
    rows, cols = valid_filter_matrix(win, x.shape[1]), valid_filter_matrix(win, x.shape[2])
    stack = torch.stack([x, y, x * x, y * y, x * y], 1)  # (B, 5, H, W)
    mx, my, xx, yy, xy = (rows @ stack @ cols.T).unbind(1)  # separable Gaussian filter as two matmuls
    vx, vy, cxy = xx - mx * mx, yy - my * my, xy - mx * my  # population (co)variances
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(x, x_hat, data_range: float = 1.0) -> float:
    """Mean SSIM over samples and channels of (N, C, H, W) images, as scikit-image computes it (see below).

    Wang et al. 2004: an 11-tap Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population (co)variances,
    each channel separately, averaged over the valid region only (no padding); the numbers match
    ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=data_range, channel_axis=0)`` averaged over samples. Images smaller than 11 pixels on a side use
    the largest odd window that fits (7 for 8x8 digits), still with sigma 1.5, where scikit-image would refuse.
    """
    a = torch.as_tensor(x, dtype=torch.float64)
    b = torch.as_tensor(x_hat, dtype=torch.float64)
    if a.ndim != 4 or a.shape != b.shape:
        raise AekitError(f"ssim needs two (N, C, H, W) arrays of the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.shape[0] == 0 or min(a.shape[1:]) < 1:
        raise AekitError(f"ssim needs at least one non-empty image, got shape {tuple(a.shape)}")
    win = gaussian_window(ssim_window_size(a.shape[2], a.shape[3]))
    a, b = a.flatten(0, 1), b.flatten(0, 1)  # (N * C, H, W): channels are independent images
    total = sum(float(_ssim_maps(a[i : i + SSIM_BATCH], b[i : i + SSIM_BATCH], win, data_range).mean((1, 2)).sum())
                for i in range(0, len(a), SSIM_BATCH))
    return total / len(a)


def ssim_per_sample(x: torch.Tensor, x_hat: torch.Tensor, window: int = 7, sigma: float = 1.0,
                    data_range: float = 1.0) -> torch.Tensor:
    """SSIM of each of N (N, C, H, W) images with its pair, averaged over channels and the valid region: (N,) float64.

    Same formula as ``ssim``; a smaller window (default 7 taps, sigma 1) makes it a local measure of structure, the
    one aekit's anomaly scores use. The window shrinks to the largest odd size that fits small images.
    """
    a, b = x.to(torch.float64), x_hat.to(torch.float64)
    n, c, h, w = a.shape
    win = gaussian_window(min(window, ssim_window_size(h, w)), sigma)
    a, b = a.flatten(0, 1), b.flatten(0, 1)
    vals = torch.cat([_ssim_maps(a[i : i + SSIM_BATCH], b[i : i + SSIM_BATCH], win, data_range).mean((1, 2))
                      for i in range(0, len(a), SSIM_BATCH)])
    return vals.view(n, c).mean(1)


def reconstruction_metrics(x, x_hat, with_bce: bool = True) -> dict[str, float]:
    """BCE (when outputs are probabilities), MSE, PSNR and, for (N, C, H, W) images, SSIM, in model space."""
    out = {"mse": mse(x, x_hat), "psnr": psnr(x, x_hat)}
    if with_bce:
        out = {"bce": bce(x, x_hat), **out}
    if np.ndim(x) == 4:
        out["ssim"] = ssim(x, x_hat)
    return out


def check_finite(metrics: dict, what: str) -> dict:
    """``metrics`` (nested dicts allowed) as they are, or one clear error naming the entries that are NaN or infinite:
    such a number is no result, it means the model's outputs (damaged weights, a diverged run) or the data are not
    finite. ``what`` names the evaluation in the message."""
    bad = [f"{k}={v}" for k, v in _numbers(metrics) if not np.isfinite(v)]
    if bad:
        raise AekitError(f"{what} gave {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}: the model's "
                         "reconstructions (or the data) are not finite numbers, so there is no result; the weights may "
                         "be damaged or the run may have diverged")
    return metrics


def _numbers(metrics: dict, prefix: str = ""):
    """(name, value) of every float in ``metrics``, nested dicts' names joined by dots."""
    for k, v in metrics.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, float):
            yield f"{prefix}{k}", v


def pca_reconstruction(x_train: np.ndarray, x_test: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """``x_test`` reconstructed by PCA with ``n_components`` fitted on the training data, as flat rows (N, D)."""
    a = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1)
    b = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    k = min(n_components, a.shape[0], a.shape[1])
    pca = PCA(n_components=k, svd_solver="randomized" if k < min(a.shape) // 2 else "full", random_state=seed)
    pca.fit(a)
    return pca.inverse_transform(pca.transform(b))


def pca_mse(x_train: np.ndarray, x_test: np.ndarray, n_components: int, seed: int = 0) -> float:
    """Test MSE of PCA with ``n_components`` fitted on the training data: the linear baseline."""
    b = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
    return mse(b, pca_reconstruction(x_train, x_test, n_components, seed))


def auroc(labels, scores) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 = positive): the probability that a random
    positive scores above a random negative, ties counting half (Mann-Whitney U / (n_pos * n_neg))."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s) or y.all() or not y.any():
        raise ValueError("auroc needs one score per label and both classes present")
    from scipy.stats import rankdata

    ranks = rankdata(s)  # average ranks for ties
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
