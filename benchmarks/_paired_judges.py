"""The paired swap benchmark's judges, each trained on real rendered images only (never on a swap model's output):

- ``content_judge``: a digit classifier per identity b, trained on b's drawing of all MNIST training images and of a
  copy of them shifted by up to 2 pixels (a three-stage conv net with batch norm, ``DigitJudge``; aekit's feature net
  reads MNIST at only 0.989);
- ``identity_judge``: a K-way classifier of which identity drew an image (aekit's feature net);
- ``realism_critic``: for one identity, real images against one model's swaps into it (aekit's feature net at full
  resolution, the swap detector's choice), trained and checked on parts of MNIST's test images the evaluation does
  not use.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import nn

from aekit.apps.features import fit_classifier, train_feature_net
from aekit.data.dataset import IMAGE, Dataset
from aekit.data.identities import render
from aekit.fileio import atomic_write


class DigitJudge(nn.Module):
    """RGB (B, 3, 28, 28) in [0, 1] -> digit logits (B, 10): a stride-2 5x5 stem, then two conv stages that each
    halve the map (28 -> 14 -> 7 -> 3), batch norm throughout."""

    def __init__(self, channels: int = 3, widths: tuple[int, int, int] = (32, 64, 128), n_classes: int = 10):
        super().__init__()
        stem, mid, top = widths

        def stage(c_in: int, c_out: int, **conv) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, bias=False, **conv), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.body = nn.Sequential(*stage(channels, stem, kernel_size=5, stride=2, padding=2),  # (B, stem, 14, 14)
                                  *stage(stem, mid, kernel_size=3, padding=1), nn.MaxPool2d(2),  # (B, mid, 7, 7)
                                  *stage(mid, top, kernel_size=3, padding=1), nn.MaxPool2d(2),  # (B, top, 3, 3)
                                  nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(top * 9, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def model_space(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255


@torch.no_grad()
def predict(net: nn.Module, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Class predictions (N,) of uint8 RGB images (N, H, W, 3)."""
    net.eval()
    x = model_space(images)
    return torch.cat([net(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)]).numpy()


@torch.no_grad()
def realness(critic: nn.Module, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """A realism critic's margin for "real" (its real logit less its swap logit; above 0 it calls the image real),
    float64 (N,), of uint8 RGB images (N, H, W, 3)."""
    critic.eval()
    x = model_space(images)
    logits = torch.cat([critic(x[i : i + batch]) for i in range(0, len(x), batch)]).double()
    return (logits[:, 1] - logits[:, 0]).numpy()


@torch.no_grad()
def features(net: DigitJudge, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The judge's last features before its head (N, 1152), float64, of uint8 RGB images (N, 28, 28, 3)."""
    net.eval()
    x = model_space(images)
    return torch.cat([net.body(x[i : i + batch]).double() for i in range(0, len(x), batch)]).numpy()


@torch.no_grad()
def read(net: DigitJudge, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The judge's digit predictions (N,) and its ``features`` (N, 1152) of uint8 RGB images, its body run once."""
    feats = features(net, images)
    return net.head(torch.from_numpy(feats).float()).argmax(1).numpy(), feats  # the features are float32 values


def shifted(grey: np.ndarray, most: int, seed: int = 0) -> np.ndarray:
    """Each grey digit (N, H, W) moved by its own random whole-pixel offset of up to ``most`` in each direction,
    the uncovered border left black (MNIST's background)."""
    rng = np.random.default_rng(seed)
    n, h, w = grey.shape
    padded = np.pad(grey, ((0, 0), (most, most), (most, most)))
    dy, dx = rng.integers(0, 2 * most + 1, (2, n))
    return np.stack([padded[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def content_judge(identity: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, epochs: int, seed: int = 0, shift: int = 2,
                  device: str = "cpu") -> tuple[DigitJudge, dict]:
    """A digit classifier of identity's drawings of ``x_train`` (grey MNIST digits) and of one copy of them each
    shifted by up to ``shift`` pixels (``shifted``: a judge that has seen digits off centre reads a swap whose
    strokes sit a pixel away); its accuracy on the identity's drawings of ``x_test``."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    grey = np.concatenate([x_train, shifted(x_train, shift, seed)]) if shift else x_train
    labels = np.concatenate([y_train, y_train]) if shift else y_train
    net = fit_classifier(DigitJudge(), model_space(render(identity, grey)), torch.as_tensor(labels), epochs, seed,
                         device=device)
    acc = float((predict(net, render(identity, x_test)) == y_test).mean())
    return net, {"test_accuracy": acc, "train_images": len(grey), "shift": shift, "epochs": epochs,
                 "seconds": round(time.perf_counter() - start, 1)}


def kept_content_judge(folder: str | Path | None, identity: str, x_train: np.ndarray, y_train: np.ndarray,
                       x_test: np.ndarray, y_test: np.ndarray, epochs: int,
                       device: str = "cpu") -> tuple[DigitJudge, dict]:
    """``content_judge``, kept in ``folder`` (None: not kept): a judge trained before with the same settings (the
    first ``len(x_train)`` MNIST digits, as every caller passes them) is loaded and measured again on ``x_test``
    instead of trained again (an hour for four identities on one CPU thread)."""
    path = Path(folder) / f"content-{identity}-{len(x_train)}-digits-{epochs}-epochs.safetensors" if folder else None
    if path is None or not path.exists():
        net, info = content_judge(identity, x_train, y_train, x_test, y_test, epochs, device=device)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, save(net.state_dict(), metadata={"info": json.dumps(info)}))
        return net, info
    net = DigitJudge()
    with safe_open(path, "pt") as f:
        net.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
        info = json.loads(f.metadata()["info"])
    acc = float((predict(net, render(identity, x_test)) == y_test).mean())
    return net, {**info, "test_accuracy": acc, "kept": True}


def identity_judge(identities: list[str], x_train: np.ndarray, x_test: np.ndarray, seed: int = 0,
                   epochs: int | None = None, device: str = "cpu"):
    """Which identity drew an image: trained on each grey digit of ``x_train`` drawn by one identity in turn,
    checked on ``x_test`` drawn the same way."""
    def drawn(x):
        who = np.arange(len(x)) % len(identities)
        out = np.empty((*x.shape, 3), np.uint8)
        for k, name in enumerate(identities):
            out[who == k] = render(name, x[who == k])
        return out, who.astype(np.int64)

    return train_feature_net(Dataset("identity", *drawn(x_train), *drawn(x_test), IMAGE, "rendered MNIST"), seed,
                             "identity judge", epochs=epochs, device=device)


def realism_critic(real: np.ndarray, fake: np.ndarray, real_test: np.ndarray, fake_test: np.ndarray,
                   seed: int = 0, epochs: int | None = None, device: str = "cpu"):
    """Real images of one identity (class 1) against swaps into it (class 0), uint8 RGB; checked on held-out ones."""
    ones, zeros = np.ones, np.zeros
    ds = Dataset("critic", np.concatenate([real, fake]), np.r_[ones(len(real)), zeros(len(fake))].astype(np.int64),
                 np.concatenate([real_test, fake_test]),
                 np.r_[ones(len(real_test)), zeros(len(fake_test))].astype(np.int64), IMAGE, "real vs swaps")
    return train_feature_net(ds, seed, "realism critic", epochs=epochs, stem_stride=1, device=device)
