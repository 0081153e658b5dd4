"""The conv backbone of the image models, built from any config with the ``ConvBackbone`` fields: the encoder's
conv stages, the layers into and out of the code, and the mirrored decoder. The conv, swap, VAE (conv backbone),
VQ-VAE and compressive models all build their stages here; each adds what is its own around them."""

from __future__ import annotations

from torch import nn

from aekit.models.base import activation, numel
from aekit.models.blocks import conv_decoder, conv_encoder, encoder_output_size, mlp_hidden


def feature_shape(cfg) -> tuple[int, int, int]:
    """(c, h, w): the encoder's output for one image."""
    return encoder_output_size(cfg.input_shape, cfg.channels, cfg.kernel_size)


def encoder(cfg) -> nn.Sequential:
    """Images (B, C, H, W) -> features (B, *feature_shape(cfg))."""
    return conv_encoder(cfg.input_shape[0], cfg.channels, cfg.blocks_per_stage, cfg.kernel_size, cfg.activation,
                        cfg.norm, stem=cfg.stem, residual=cfg.residual)


def decoder(cfg) -> nn.Sequential:
    """Features (B, *feature_shape(cfg)) -> logits (B, C, H, W), with ``decoder_blocks_per_stage`` convs per stage
    (0: ``blocks_per_stage``)."""
    per_up = cfg.decoder_blocks_per_stage or cfg.blocks_per_stage
    return conv_decoder(cfg.input_shape[0], cfg.channels, tuple(cfg.input_shape[1:]), per_up, cfg.kernel_size,
                        cfg.activation, cfg.norm, stem=cfg.stem, residual=cfg.residual, upsample=cfg.upsample,
                        head=cfg.head)


def to_code(cfg, shape: tuple[int, int, int]) -> nn.Sequential:
    """Features of ``shape`` -> the code: a 1x1 conv to a code map (``spatial_code``), or flatten, the
    ``bottleneck`` MLP and a Linear to a code vector; then ``code_activation``."""
    if cfg.spatial_code:
        return nn.Sequential(nn.Conv2d(shape[0], cfg.code_size, 1), activation(cfg.code_activation))
    widths = [numel(shape), *map(int, cfg.bottleneck)]
    return nn.Sequential(nn.Flatten(), *mlp_hidden(widths, cfg.activation, cfg.norm),
                         nn.Linear(widths[-1], cfg.code_size), activation(cfg.code_activation))


def from_code(cfg, shape: tuple[int, int, int]) -> nn.Sequential:
    """The mirror of ``to_code``: the code -> features of ``shape``, through ``activation``."""
    if cfg.spatial_code:
        return nn.Sequential(nn.Conv2d(cfg.code_size, shape[0], 1), activation(cfg.activation))
    widths = [numel(shape), *map(int, cfg.bottleneck)]
    return nn.Sequential(*mlp_hidden([cfg.code_size, *reversed(widths[1:])], cfg.activation, cfg.norm),
                         nn.Linear(widths[1] if len(widths) > 1 else cfg.code_size, widths[0]),
                         activation(cfg.activation), nn.Unflatten(1, shape))
