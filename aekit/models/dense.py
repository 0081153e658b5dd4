"""Dense (fully connected) autoencoder: the article's 784-128-32-128-784 model and its generalisations."""

from __future__ import annotations

import torch

from aekit.models.base import glorot_init_, numel
from aekit.models.blocks import mlp
from aekit.models.code_terms import CodeTermsAutoencoder
from aekit.models.configs import DenseConfig


class DenseAutoencoder(CodeTermsAutoencoder):
    """x (B, *input_shape) -> flatten -> hidden... -> code (B, code_size) -> ...hidden -> logits (B, *input_shape)."""

    def __init__(self, config: DenseConfig):
        super().__init__()
        self.config = config
        d = numel(config.input_shape)
        widths = [d, *config.hidden, config.code_size]
        self.encoder = mlp(widths, config.activation, config.code_activation)
        self.decoder = mlp(widths[::-1], config.activation, None)
        if config.init == "glorot":
            glorot_init_(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (B, code_size)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.input_shape)  # (B, *input_shape)
