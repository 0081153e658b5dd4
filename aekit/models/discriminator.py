"""The adversarial decoder's critic: a small patch discriminator for images, an MLP for table rows."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class DiscriminatorConfig:
    input_shape: tuple[int, ...]  # one sample in model space: (C, H, W) or (D,)
    channels: tuple[int, ...] = (32, 64)  # conv widths (stride 2 each) for images; MLP widths for tables
    classes: int = 0  # > 0: conditioned on a class id per sample (one-hot planes, or features, beside the input)

    def __post_init__(self):
        if not self.channels or any(c <= 0 for c in self.channels):
            raise ValueError("discriminator channels must be positive widths")
        if self.classes < 0:
            raise ValueError("discriminator classes must be >= 0")


class Discriminator(nn.Module):
    """x (B, *input_shape) -> real/fake logits: (B, 1, h, w) per patch for images, (B, 1) for rows.

    With ``classes`` > 0 it judges an image as a real member of a given class (``cond``, (B,) ids): the one-hot class
    enters as extra constant input planes (images) or extra features (rows), so one critic serves every class.

    Spectral normalisation on every layer keeps the critic Lipschitz and the game stable (Miyato et al. 2018).
    """

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        if len(config.input_shape) == 3:
            cin = config.input_shape[0] + config.classes
            for cout in config.channels:
                layers += [spectral_norm(nn.Conv2d(cin, cout, 3, stride=2, padding=1)), nn.LeakyReLU(0.2)]
                cin = cout
            layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))  # (B, 1, h, w) patch logits
        else:
            width = int(torch.tensor(config.input_shape).prod()) + config.classes
            for cout in config.channels:
                layers += [spectral_norm(nn.Linear(width, cout)), nn.LeakyReLU(0.2)]
                width = cout
            layers += [nn.Flatten(), spectral_norm(nn.Linear(width, 1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        image = len(self.config.input_shape) == 3
        x = x if image else x.flatten(1)
        if self.config.classes:
            if cond is None:
                raise ValueError("a conditioned critic needs a class id per sample")
            onehot = F.one_hot(cond.long(), self.config.classes).to(x.dtype)  # (B, classes)
            if image:
                onehot = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, classes, H, W)
            x = torch.cat([x, onehot], 1)
        return self.net(x)


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's loss on real and fake logits (Goodfellow et al. 2014; hinge: Lim & Ye 2017)."""
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """The decoder's adversarial loss on the critic's logits for its outputs."""
    return -fake.mean() if kind == "hinge" else F.softplus(-fake).mean()
