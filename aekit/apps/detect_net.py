"""The detector's network: a small CNN that reads an image's high-pass residuals, not its content.

An autoencoder's output differs from a real image in how its pixels vary locally (decoders smooth strokes, leave
faint halos and an upsampling grid), much less in what it shows. So the first layer is fixed: three 3x3 high-pass
kernels per channel (a Laplacian and the two second differences along rows and columns, each summing to zero, as the
SRM filters of steganalysis), so the learned layers never see the image's brightness or layout, only its residuals.
Three conv layers follow (the last of stride 2) and a global average and max pool, so the score does not depend on
where in the image a trace lies. One logit: P(synthetic) = sigmoid(logit).

    ResidualNet((1, 28, 28))(x)   # x (B, 1, 28, 28) in [0, 1] -> logits (B,)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aekit.apps.degrade import degrade, recompress
from aekit.errors import AekitError

WIDTHS = (16, 16, 32)  # conv widths after the fixed high-pass layer
BATCH = 1024  # images scored at once
BATCH_TRAIN, LR = 128, 2e-3
AUGMENTATIONS = {"mix": degrade, "jpeg": recompress}  # what training batches can go through (``fit_residual_net``)

# Fixed high-pass kernels (3x3, each summing to zero): Laplacian, second difference along rows, along columns.
HIGH_PASS = torch.tensor([[[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                          [[0, 0, 0], [1, -2, 1], [0, 0, 0]],
                          [[0, 1, 0], [0, -2, 0], [0, 1, 0]]], dtype=torch.float32)


class ResidualNet(nn.Module):
    """Real-vs-synthetic classifier of (C, H, W) images in [0, 1] that sees their high-pass residuals only."""

    def __init__(self, input_shape: tuple[int, int, int], widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        c = int(input_shape[0])
        self.input_shape, self.widths = tuple(int(v) for v in input_shape), tuple(int(w) for w in widths)
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise ValueError(f"widths must be three positive numbers, got {widths}")
        # (3C, 1, 3, 3): every channel through every kernel; a buffer, not a parameter: it is never trained
        self.register_buffer("high_pass", HIGH_PASS.repeat(c, 1, 1).unsqueeze(1) * 4.0)
        w1, w2, w3 = self.widths
        self.body = nn.Sequential(
            nn.Conv2d(3 * c, w1, 3, padding=1), nn.ReLU(),  # (B, w1, H, W)
            nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(),  # (B, w2, H, W)
            nn.Conv2d(w2, w3, 3, stride=2, padding=1), nn.ReLU(),  # (B, w3, H/2, W/2)
        )
        self.head = nn.Linear(2 * w3, 1)

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, 3C, H, W) high-pass residuals (edges replicated, so a border is no edge)."""
        x = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        return nn.functional.conv2d(x, self.high_pass, groups=self.input_shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of model-space images (B, C, H, W) in [0, 1]; positive means synthetic."""
        h = self.body(self.residuals(x))
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)  # (B, 2 * w3)
        return self.head(pooled).squeeze(1)

    def to_model_space(self, images: np.ndarray) -> torch.Tensor:
        return images_to_model_space(images, self.input_shape)


def images_to_model_space(images: np.ndarray, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) images of a detector's ``input_shape`` -> float32 (N, C, H, W) in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise AekitError(f"the detector scores uint8 images, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    c, h, w = input_shape
    if images.ndim != 4 or images.shape[1:] != (h, w, c):
        want = f"(N, {h}, {w})" if c == 1 else f"(N, {h}, {w}, {c})"
        raise AekitError(f"the detector takes images of shape {want}, got {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255


@torch.no_grad()
def score_images(net: nn.Module, images: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
    """P(synthetic) for uint8 images shaped as the detector's input, (N,) float64 (any detector network: one with
    ``to_model_space`` and logits (B,))."""
    x = net.to_model_space(images)
    net.eval()
    probs = [torch.sigmoid(net(x[i : i + batch_size]).double()) for i in range(0, len(x), batch_size)]
    return torch.cat(probs).numpy() if probs else np.zeros(0)


def _batches(real: np.ndarray, fake: np.ndarray, rng: np.random.Generator, augment: str | None):
    """One epoch's shuffled (images, labels) batches of ``BATCH_TRAIN``, every image through ``AUGMENTATIONS[augment]``
    afresh (none when ``augment`` is None)."""
    x = np.concatenate([real, fake])
    y = np.r_[np.zeros(len(real), np.float32), np.ones(len(fake), np.float32)]
    order = rng.permutation(len(x))
    for i in range(0, len(x), BATCH_TRAIN):
        idx = order[i : i + BATCH_TRAIN]
        yield (AUGMENTATIONS[augment](x[idx], rng) if augment else x[idx]), torch.from_numpy(y[idx])


def fit_residual_net(real: np.ndarray, fake: np.ndarray, seed: int = 0, epochs: int = 8,
                     augment: str | None = "mix", widths: tuple[int, ...] = WIDTHS) -> ResidualNet:
    """Train a ResidualNet on uint8 real (label 0) and synthetic (label 1) images, on one CPU thread: Adam with a
    one-cycle schedule, binary cross-entropy with the classes weighted equally whatever their counts, each batch
    put afresh through ``augment``: "mix" (``degrade``: JPEG, resizing and noise at random), "jpeg" (``recompress``:
    every image re-saved as JPEG) or None (the images as they are). Seeded: the same inputs and seed give the same
    weights."""
    if augment is not None and augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)} or None, got {augment!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions gain little from threads; one makes the weights reproducible
    try:
        shape = (1, *real.shape[1:3]) if real.ndim == 3 else (real.shape[3], *real.shape[1:3])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = ResidualNet(shape, widths)
        steps = epochs * -(-(len(real) + len(fake)) // BATCH_TRAIN)
        opt = torch.optim.Adam(net.parameters(), LR)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(len(real) / max(len(fake), 1)))
        rng = np.random.default_rng(seed)
        net.train()
        for _ in range(epochs):
            for images, labels in _batches(real, fake, rng, augment):
                loss = loss_fn(net(net.to_model_space(images)), labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        return net.eval()
    finally:
        torch.set_num_threads(threads)
