"""What model configs are made of: the field groups several models share, their checks, and config.json's flat
``"config"`` dict. Imports no torch, so a config can be read and validated without loading PyTorch.

A model's config is a frozen dataclass made by ``flat_config`` from these groups plus its own fields:

- ``AutoencoderConfig``: every model's sample shape, code size, activations and reconstruction loss;
- ``CodeTerms``: the optional terms on a deterministic code (sparsity, neighbour, landmark, critic samples);
- ``ConvBackbone``: the conv stages of the image models (``aekit.models.backbone`` builds them).

Each group declares a field once, with its default; a config lists the fields it offers, in config.json's order, and
overrides a default by assigning it. A group field a config does not list is a fixed setting of that model: readable
as an attribute (a VQ-VAE's ``norm`` is "none"), so one builder serves every model, but not a field of the config.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

ACTIVATION_NAMES = ("relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid", "identity")  # base.ACTIVATIONS' keys
OUTPUT_ACTIVATIONS = ("sigmoid", "identity")
LOSSES = ("bce", "mse")
SPARSITY = ("none", "l1", "kl")
NEIGHBOR_SPACES = ("pixels", "deskewed")  # what the input-space kNN graph is computed on
NORMS = ("none", "batch", "group")
UPSAMPLES = ("transpose", "nearest")
HEADS = ("full", "subpixel")
MAX_LAYERS = 64  # stages, or convs per stage: a bound that keeps a hostile config from building forever
MAX_INPUT_VALUES = 1 << 24  # one sample: 16.8M values (4096x4096 grey, 2364x2364 RGB); bounds a hostile config


def check_activation(name: str) -> None:
    """An activation name ``aekit.models.base.activation`` knows; ValueError with one line otherwise."""
    if name not in ACTIVATION_NAMES:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATION_NAMES)}")


def check_input_shape(shape: tuple) -> None:
    """A sample shape of positive sizes, at most MAX_INPUT_VALUES values in all; raises ValueError with one line."""
    if not shape or any(int(s) <= 0 for s in shape):
        raise ValueError(f"input_shape must be positive sizes, got {shape}")
    if math.prod(int(s) for s in shape) > MAX_INPUT_VALUES:
        raise ValueError(f"input_shape {shape} holds more than {MAX_INPUT_VALUES} values per sample")


def check_conv(input_shape, channels, blocks_per_stage: int, kernel_size: int, norm: str = "none",
               head: str = "full") -> None:
    """Validate the conv stages' shape fields; raises ValueError with one line."""
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"a conv model needs input_shape (C, H, W), got {tuple(input_shape)}")
    if not channels or any(int(c) <= 0 for c in channels):
        raise ValueError(f"channels must be one or more positive widths, got {tuple(channels)}")
    if len(channels) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} stages (channels), got {len(channels)}")
    if not 1 <= blocks_per_stage <= MAX_LAYERS:
        raise ValueError(f"blocks_per_stage must be 1 to {MAX_LAYERS}, got {blocks_per_stage}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    _, h, w = input_shape
    if h < 4 or w < 4:
        raise ValueError(f"conv models need images of at least 4x4, got {h}x{w}")


class AutoencoderConfig:
    """The fields of every model's config: one sample's shape, the code, the activations and the loss."""

    input_shape: tuple[int, ...] = (1, 28, 28)  # one sample in model space: (C, H, W), or (D,) where a model allows
    code_size: int = 32  # width of the code vector, or channels of the code map with a spatial code
    activation: str = "relu"  # hidden-layer activation
    code_activation: str = "identity"  # activation on the code
    output_activation: str = "sigmoid"  # "sigmoid" or "identity"
    loss: str = "bce"  # "bce" or "mse"

    def check_autoencoder(self) -> None:
        """Validate the fields every model config shares; raises ValueError with one line."""
        check_input_shape(tuple(self.input_shape))
        if int(self.code_size) <= 0:
            raise ValueError(f"code_size must be positive, got {self.code_size}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {self.output_activation!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ValueError("loss 'bce' needs output_activation 'sigmoid'")


class CodeTerms:
    """Terms a deterministic autoencoder's loss can add on its code (``aekit.models.code_terms``), and
    the critic's extra samples (``base.Autoencoder.critic_pairs``): a sparse or neighbour-preserving autoencoder is a
    setting, not a class."""

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

    def check_code_terms(self) -> None:
        """Validate the sparsity, then the neighbour and landmark fields; raises ValueError with one line."""
        if self.sparsity not in SPARSITY:
            raise ValueError(f"sparsity must be one of {SPARSITY}, got {self.sparsity!r}")
        if self.sparsity_weight < 0 or not 0 < self.sparsity_target < 1:
            raise ValueError("sparsity_weight must be >= 0 and sparsity_target in (0, 1)")
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ValueError("KL sparsity needs code_activation 'sigmoid' (activations read as firing rates)")
        if min(self.neighbor_weight, self.landmark_weight, self.neighbor_negatives) < 0 or self.neighbors < 1:
            raise ValueError("neighbor_weight, landmark_weight and neighbor_negatives must be >= 0, neighbors >= 1")
        if self.landmark_weight and getattr(self, "spatial_code", False):
            raise ValueError("landmark_weight needs a code vector (spatial_code=False)")
        if not 0 <= self.neighbor_min_dist < 3:
            raise ValueError(f"neighbor_min_dist must lie in [0, 3), got {self.neighbor_min_dist}")
        if self.neighbor_space not in NEIGHBOR_SPACES:
            raise ValueError(f"neighbor_space must be one of {NEIGHBOR_SPACES}, got {self.neighbor_space!r}")
        if self.neighbor_space == "deskewed" and len(tuple(self.input_shape)) != 3:
            raise ValueError(f"neighbor_space='deskewed' needs image inputs (C, H, W), got {tuple(self.input_shape)}")


class ConvBackbone:
    """The conv stages of every image model: strided conv stages down to a feature map, the code layers, and the
    mirrored decoder (``aekit.models.backbone``). Requires the ``AutoencoderConfig`` fields."""

    channels: tuple[int, ...] = (32, 64)  # widths of the stride-2 stages; the decoder mirrors them
    blocks_per_stage: int = 2  # convs per stage: one stride-2 conv plus (n - 1) stride-1 convs
    decoder_blocks_per_stage: int = 0  # the decoder's convs per stage when they differ (0: blocks_per_stage)
    stem: int = 0  # stride-1 convs (width channels[0]) at full resolution before the first stage and after the last
    kernel_size: int = 3  # odd; every conv uses "same" padding (kernel_size // 2)
    spatial_code: bool = False  # False: flatten -> Linear -> (B, code_size); True: 1x1 conv -> (B, code_size, h, w)
    bottleneck: tuple[int, ...] = ()  # flat code only: hidden widths of an MLP between features and code (mirrored)
    norm: str = "none"  # "none", "batch" or "group" after every hidden conv
    residual: bool = False  # the stride-1 convs of each stage get identity shortcuts: act(x + norm(conv(x)))
    upsample: str = "transpose"  # decoder: "transpose" (stride-2 transposed conv) or "nearest" (resize, then conv)
    head: str = "full"  # decoder output: "full" (a last hidden layer at full size) or "subpixel" (from half size)

    def check_backbone(self) -> None:
        """Validate the backbone's fields and activations; raises ValueError with one line."""
        check_conv(self.input_shape, self.channels, self.blocks_per_stage, self.kernel_size, self.norm, self.head)
        if not 0 <= self.stem <= MAX_LAYERS:
            raise ValueError(f"stem must be 0 to {MAX_LAYERS}, got {self.stem}")
        if not 0 <= self.decoder_blocks_per_stage <= MAX_LAYERS:
            raise ValueError(f"decoder_blocks_per_stage must be 0 (blocks_per_stage) to {MAX_LAYERS}, got "
                             f"{self.decoder_blocks_per_stage}")
        check_activation(self.activation)
        check_activation(self.code_activation)
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, got {self.upsample!r}")
        if self.head == "subpixel" and self.stem:
            raise ValueError(f"a subpixel head takes no stem (stem=0), got stem {self.stem}")
        if self.bottleneck and (self.spatial_code or any(int(w) <= 0 for w in self.bottleneck)):
            raise ValueError("bottleneck needs a flat code (spatial_code=False) and positive widths")


def flat_config(cls):
    """``cls`` as a frozen dataclass whose fields are exactly the names in ``cls.FIELDS``, in that order (the
    order of config.json's keys). A field's type is the nearest annotation in ``cls``'s MRO, its default the
    nearest value; every field ``cls`` itself annotates must be listed (a forgotten one is a TypeError at import)."""
    names = tuple(cls.FIELDS)
    types: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        types.update(inspect.get_annotations(klass))
    unknown = [n for n in names if n not in types]
    unlisted = [n for n in inspect.get_annotations(cls) if n not in names]
    if unknown or unlisted or len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}.FIELDS: unknown {unknown}, unlisted {unlisted}, or a name twice")
    cls.__annotations__ = {n: types[n] for n in names}
    for n in names:
        setattr(cls, n, getattr(cls, n))  # the nearest default, on cls itself where dataclass looks for it
    return dataclasses.dataclass(frozen=True)(cls)


def config_to_dict(cfg) -> dict:
    """A config dataclass as JSON-ready data (tuples become lists)."""
    return dataclasses.asdict(cfg)


def config_from_dict(cls, data: dict):
    """Rebuild a config dataclass, refusing unknown keys and restoring tuple fields."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    kwargs = {k: _typed(k, names[k].default, tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
    return cls(**kwargs)


def _typed(name: str, default, value):
    """``value`` as the type of the field's default (an int where a float is due becomes a float); ValueError with
    one line for a value of another kind, e.g. the string "nan" from ``--set beta=nan``, or a non-finite number."""
    kind = type(default)
    if default is dataclasses.MISSING or default is None:
        return value
    if kind is bool or isinstance(value, bool):
        ok = kind is bool and isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) or isinstance(value, float) and value.is_integer()
        value = int(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        want = {float: "a finite number", int: "a whole number", bool: "true or false", str: "a string",
                tuple: "a list"}.get(kind, kind.__name__)
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return value
