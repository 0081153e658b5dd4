"""Convolutional autoencoder: strided conv stages down to a code vector (or a code map) and back up.

With ``skips`` it is a U-Net (Ronneberger et al. 2015), or in denoising terms RED-Net's symmetric skips (Mao et al.
2016): each decoder stage adds the encoder's features of the same size, so the decoder need not rebuild fine detail
from the deepest map alone. The contract still holds, ``decode(encode(x))`` is the forward pass: the code is then one
flat vector, the deep code followed by every skipped feature map, and ``decode`` splits it again. Such a code is
larger than the input; the option is for denoising and restoration, not for compression or embeddings. Measured for
issue 4 (MNIST, Gaussian noise 0.5, the `denoise` preset, 600-s probes on one thread): 21.37 dB with skips against
21.14 without, and ahead at every epoch (20.82 / 21.23 against 20.52 / 20.91 after epochs 1 / 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.models.base import Autoencoder, activation, check_config, check_sparsity, numel
from aekit.models.blocks import (
    MAX_LAYERS,
    UPSAMPLES,
    check_conv,
    conv_decoder,
    conv_encoder,
    encoder_output_size,
    kaiming_init_,
    mlp_hidden,
    stage_sizes,
)
from aekit.models.neighbors import check_neighbors


@dataclass(frozen=True)
class ConvConfig:
    input_shape: tuple[int, ...] = (1, 28, 28)  # one image (C, H, W); C = 1 or 3, H and W >= 4, odd sizes fine
    channels: tuple[int, ...] = (32, 64)  # widths of the stride-2 stages; the decoder mirrors them
    blocks_per_stage: int = 2  # convs per stage: one stride-2 conv plus (n - 1) stride-1 convs
    decoder_blocks_per_stage: int = 0  # the decoder's convs per stage when they differ (0: blocks_per_stage)
    stem: int = 0  # stride-1 convs (width channels[0]) at full resolution before the first stage and after the last
    kernel_size: int = 3  # odd; every conv uses "same" padding (kernel_size // 2)
    code_size: int = 32  # width of the code vector, or channels of the code map when spatial_code
    spatial_code: bool = False  # False: flatten -> Linear -> (B, code_size); True: 1x1 conv -> (B, code_size, h, w)
    bottleneck: tuple[int, ...] = ()  # flat code only: hidden widths of an MLP between features and code (mirrored)
    activation: str = "relu"  # hidden-layer activation
    code_activation: str = "identity"  # activation on the code
    output_activation: str = "sigmoid"  # "sigmoid" or "identity"
    loss: str = "bce"  # "bce" or "mse"
    norm: str = "none"  # "none", "batch" or "group" after every hidden conv
    residual: bool = False  # the stride-1 convs of each stage get identity shortcuts: act(x + norm(conv(x)))
    upsample: str = "transpose"  # decoder: "transpose" (stride-2 transposed conv) or "nearest" (resize, then conv)
    head: str = "full"  # decoder output: "full" (a last hidden layer at full size) or "subpixel" (from half size)
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
    skips: bool = False  # U-Net skips: each decoder stage adds the encoder's same-size features (they join the code)

    def __post_init__(self):
        check_config(self)
        check_sparsity(self)
        check_neighbors(self)
        check_conv(self.input_shape, self.channels, self.blocks_per_stage, self.kernel_size, self.norm, self.head)
        if not 0 <= self.stem <= MAX_LAYERS:
            raise ValueError(f"stem must be 0 to {MAX_LAYERS}, got {self.stem}")
        if not 0 <= self.decoder_blocks_per_stage <= MAX_LAYERS:
            raise ValueError(f"decoder_blocks_per_stage must be 0 (blocks_per_stage) to {MAX_LAYERS}, got "
                             f"{self.decoder_blocks_per_stage}")
        activation(self.activation), activation(self.code_activation)  # unknown names raise ValueError here
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, got {self.upsample!r}")
        if self.head == "subpixel" and self.stem:
            raise ValueError(f"a subpixel head takes no stem (stem=0), got stem {self.stem}")
        if self.bottleneck and (self.spatial_code or any(int(w) <= 0 for w in self.bottleneck)):
            raise ValueError("bottleneck needs a flat code (spatial_code=False) and positive widths")
        if self.skips and len(self.channels) < 2:
            raise ValueError(f"skips need two or more stages (channels), got {tuple(self.channels)}")
        if self.skips and (self.sparsity != "none" or self.neighbor_weight or self.landmark_weight):
            raise ValueError("skips put the encoder's features into the code: no sparsity, neighbour or landmark term")


class ConvAutoencoder(Autoencoder):
    """x (B, C, H, W) -> conv stages -> (B, c, h, w) -> code -> (B, c, h, w) -> transposed conv stages -> logits."""

    def __init__(self, config: ConvConfig):
        super().__init__()
        self.config = config
        cfg = config
        c, h, w = encoder_output_size(cfg.input_shape, cfg.channels, cfg.kernel_size)
        self.feature_shape = (c, h, w)  # the encoder's output for one image
        self.encoder = conv_encoder(cfg.input_shape[0], cfg.channels, cfg.blocks_per_stage, cfg.kernel_size,
                                    cfg.activation, cfg.norm, stem=cfg.stem, residual=cfg.residual)
        if cfg.spatial_code:
            self.to_code = nn.Sequential(nn.Conv2d(c, cfg.code_size, 1), activation(cfg.code_activation))
            self.from_code = nn.Sequential(nn.Conv2d(cfg.code_size, c, 1), activation(cfg.activation))
        else:
            widths = [numel(self.feature_shape), *map(int, cfg.bottleneck)]
            self.to_code = nn.Sequential(nn.Flatten(), *mlp_hidden(widths, cfg.activation, cfg.norm),
                                         nn.Linear(widths[-1], cfg.code_size), activation(cfg.code_activation))
            self.from_code = nn.Sequential(*mlp_hidden([cfg.code_size, *reversed(widths[1:])], cfg.activation, cfg.norm),
                                           nn.Linear(widths[1] if len(widths) > 1 else cfg.code_size, widths[0]),
                                           activation(cfg.activation), nn.Unflatten(1, self.feature_shape))
        per_up = cfg.decoder_blocks_per_stage or cfg.blocks_per_stage  # the decoder's convs per stage
        self.decoder = conv_decoder(cfg.input_shape[0], cfg.channels, tuple(cfg.input_shape[1:]), per_up,
                                    cfg.kernel_size, cfg.activation, cfg.norm, stem=cfg.stem, residual=cfg.residual,
                                    upsample=cfg.upsample, head=cfg.head)
        kaiming_init_(self)
        # skips: encoder layer j's output (the end of stage i < last) is added after decoder layer k (the up-conv
        # that returns to stage i's size); the shapes of those outputs, in the order they join the code
        n, per = len(cfg.channels), cfg.blocks_per_stage
        sizes = stage_sizes(tuple(cfg.input_shape[1:]), n, cfg.kernel_size)
        stages = range(n - 1) if cfg.skips else ()
        self.skip_from = [cfg.stem + (i + 1) * per - 1 for i in stages]
        self.skip_to = {(n - 2 - i) * per_up + per_up - 1: i for i in stages}
        self.skip_shapes = [(int(cfg.channels[i]), *sizes[i + 1]) for i in stages]

    @property
    def deep_code_shape(self) -> tuple[int, ...]:
        """Shape of the deepest part of one code: (code_size,) or (code_size, h, w) with a spatial code."""
        c, h, w = self.feature_shape
        return (self.config.code_size, h, w) if self.config.spatial_code else (self.config.code_size,)

    @property
    def code_shape(self) -> tuple[int, ...]:
        """Shape of one code: ``deep_code_shape``, or with skips one flat vector that also holds the skipped maps."""
        deep = self.deep_code_shape
        return (numel(deep) + sum(map(numel, self.skip_shapes)),) if self.skip_shapes else deep

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if not self.skip_shapes:
            return self.to_code(self.encoder(x))  # (B, code_size) or (B, code_size, h, w)
        skipped = []
        for j, layer in enumerate(self.encoder):
            x = layer(x)
            if j in self.skip_from:
                skipped.append(x)
        return torch.cat([t.flatten(1) for t in (self.to_code(x), *skipped)], 1)  # (B, code_shape[0])

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        if not self.skip_shapes:
            return self.decoder(self.from_code(z))  # (B, C, H, W)
        deep = self.deep_code_shape
        parts = z.split([numel(deep), *map(numel, self.skip_shapes)], 1)
        y = self.from_code(parts[0].reshape(-1, *deep))
        for k, layer in enumerate(self.decoder):
            y = layer(y)
            if k in self.skip_to:
                y = y + parts[1 + self.skip_to[k]].reshape(-1, *self.skip_shapes[self.skip_to[k]])
        return y
