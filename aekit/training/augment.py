"""Data augmentation for image models: random geometric distortions of each training image, drawn afresh every step.

Used by the trainer before any denoising noise, so the distorted clean image is the target and the noise is added
on top of it: a model sees new images instead of the same ones again (Simard et al. 2003 for the distortions).
For the MNIST Gaussian denoiser these distortions cost 0.12 dB on test digits, since MNIST's test digits are as
size-normalised and centred as its training digits: they are for data whose test images vary in pose more than its
training images do.

- rotate: angle drawn uniformly from [-rotate, rotate] degrees;
- scale: zoom drawn uniformly from [1 - scale, 1 + scale];
- shift: translation drawn uniformly from [-shift, shift] times the image's width / height;
- elastic: a smooth random displacement field (white noise blurred by a Gaussian of sigma = 1/7 of the shorter
  side, 4 pixels at 28x28), scaled so each axis moves by ``elastic`` pixels RMS;
- p: the share of images distorted; the others pass through untouched (resampling blurs slightly, so keeping some
  originals keeps the model's targets as sharp as the real data).

One bicubic resampling per image (``torch.nn.functional.grid_sample``, border padding), clamped to the batch's range.
Draws come from torch's global RNG, which the trainer seeds and checkpoints, so a resumed run draws the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aekit.metrics.reconstruction import gaussian_window
from aekit.training.config import active


def _smooth(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """``field`` (N, 2, H, W) blurred by a separable Gaussian (reflected edges), rescaled to unit RMS."""
    h, w = field.shape[-2:]
    radius = max(1, min(int(3 * sigma), h - 1, w - 1))
    k = gaussian_window(2 * radius + 1, sigma).to(field)
    out = F.pad(field, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(2, 1, -1, 1), groups=2)
    return out / k.pow(2).sum()  # white noise of unit variance blurred by k (x) k has RMS sum(k^2)


def warp(x: torch.Tensor, angle: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor,
         displacement: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` (N, C, H, W) rotated by ``angle`` (N,) radians (counter-clockwise as displayed, rows downward), zoomed by
    ``zoom`` (N,) about the centre, moved by ``shift`` (N, 2) pixels (x, y), and each output pixel then sampled
    ``displacement`` (N, 2, H, W) pixels (x, y) away: one bicubic resampling, border padding, clamped to x's range."""
    n, _, h, w = x.shape
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # output -> input: rotate back, shrink by the zoom
    # that pixel-space map in grid_sample's [-1, 1] coordinates (x spans W, y spans H)
    theta = torch.stack([torch.stack([cos, -sin * h / w, -shift[:, 0] * 2 / w], 1),
                         torch.stack([sin * w / h, cos, -shift[:, 1] * 2 / h], 1)], 1)
    grid = F.affine_grid(theta.float(), [n, 1, h, w], align_corners=False)
    if displacement is not None:
        grid = grid + torch.stack([displacement[:, 0] * 2 / w, displacement[:, 1] * 2 / h], -1)
    out = F.grid_sample(x.float(), grid, mode="bicubic", padding_mode="border", align_corners=False)
    return out.clamp(x.min().float(), x.max().float()).to(x.dtype)  # tensors: no device sync


def augment(x: torch.Tensor, rotate: float = 0.0, scale: float = 0.0, shift: float = 0.0, elastic: float = 0.0,
            p: float = 1.0) -> torch.Tensor:
    """A randomly distorted copy of the image batch ``x`` (N, C, H, W); ``x`` itself when every strength is 0."""
    if not active(rotate, scale, shift, elastic, p):
        return x
    if x.dim() != 4:
        raise ValueError(f"augmentation needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    dev = x.device

    def uniform(*shape: int, bound: float) -> torch.Tensor:  # draws from [-bound, bound]
        return (torch.rand(*shape, device=dev) * 2 - 1) * bound

    angle, zoom = uniform(n, bound=math.radians(rotate)), 1 + uniform(n, bound=scale)
    moved = uniform(n, 2, bound=shift) * torch.tensor([w, h], device=dev, dtype=torch.float32)
    field = _smooth(torch.randn(n, 2, h, w, device=dev), min(h, w) / 7) * elastic if elastic else None
    out = warp(x, angle, zoom, moved, field)
    if p < 1:
        keep = torch.rand(n, device=dev) >= p
        out = torch.where(keep.view(n, 1, 1, 1), x, out)
    return out
