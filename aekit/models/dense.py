"""Dense (fully connected) autoencoder: the article's 784-128-32-128-784 model and its generalisations."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.models.base import Autoencoder, check_config, check_sparsity, glorot_init_, numel
from aekit.models.blocks import mlp
from aekit.models.neighbors import check_neighbors


@dataclass(frozen=True)
class DenseConfig:
    input_shape: tuple[int, ...] = (1, 28, 28)  # one sample in model space, e.g. (C, H, W) or (D,)
    hidden: tuple[int, ...] = (128,)  # encoder widths; the decoder mirrors them
    code_size: int = 32  # width of the code layer
    activation: str = "relu"  # hidden-layer activation
    code_activation: str = "relu"  # activation on the code (the article uses relu)
    output_activation: str = "sigmoid"  # "sigmoid" or "identity"
    loss: str = "bce"  # "bce" or "mse"
    init: str = "glorot"  # "glorot" (Keras's default) or "torch" (PyTorch's default)
    sparsity: str = "none"  # "none", "l1" (activity penalty) or "kl" (target firing rate; needs a sigmoid code)
    sparsity_weight: float = 1e-3  # weight of the sparsity term in the loss
    sparsity_target: float = 0.05  # target mean activation for "kl"
    neighbor_weight: float = 0.0  # weight of the neighbour-preserving (parametric UMAP) term (0: off)
    neighbors: int = 15  # k of the input-space k-nearest-neighbour graph the term preserves
    neighbor_min_dist: float = 0.1  # UMAP's min_dist: how tightly neighbours may pack in the code space
    neighbor_negatives: float = 5.0  # weight of repulsion per edge (UMAP's negative_sample_rate)
    landmark_weight: float = 0.0  # pull codes towards a non-parametric UMAP layout of the same graph (0: off)
    neighbor_space: str = "pixels"  # the graph's inputs: "pixels" or "deskewed" (images with their slant removed)
    critic_samples: bool = False  # the adversarial critic also judges decoded codes drawn like new samples

    def __post_init__(self):
        check_config(self)
        if any(int(w) <= 0 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {list(self.hidden)}")
        check_sparsity(self)
        check_neighbors(self)
        if self.init not in ("glorot", "torch"):
            raise ValueError(f"init must be 'glorot' or 'torch', got {self.init!r}")


class DenseAutoencoder(Autoencoder):
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
