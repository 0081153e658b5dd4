"""One config per model, made from the shared field groups of ``config_parts``; no torch needed to read one.

``FIELDS`` lists each config's fields in config.json's order. A group default a model changes is assigned here; the
group fields a config does not list are that model's fixed settings (see ``config_parts``).
"""

from __future__ import annotations

import re

from aekit.models.config_parts import (
    AutoencoderConfig,
    CodeTerms,
    ConvBackbone,
    check_activation,
    flat_config,
)

BACKBONES = ("dense", "conv")  # a VAE's backbones
ALIGNMENTS = ("adversarial", "mmd")  # a swap model's code-alignment terms (``aekit.models.align``)
DOMAIN_NAME = re.compile(r"[^\W_][\w.+-]{0,63}")  # it names output files (<image>-to-<domain>.png): no paths


@flat_config
class DenseConfig(CodeTerms, AutoencoderConfig):
    """The dense (fully connected) autoencoder's config."""

    FIELDS = ("input_shape", "hidden", "code_size", "activation", "code_activation", "output_activation", "loss", "init",
              "sparsity", "sparsity_weight", "sparsity_target", "neighbor_weight", "neighbors", "neighbor_min_dist",
              "neighbor_negatives", "landmark_weight", "neighbor_space", "critic_samples")
    hidden: tuple[int, ...] = (128,)  # encoder widths; the decoder mirrors them
    code_activation = "relu"  # the article uses relu
    init: str = "glorot"  # "glorot" (Keras's default) or "torch" (PyTorch's default)

    def __post_init__(self):
        self.check_autoencoder()
        if any(int(w) <= 0 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {list(self.hidden)}")
        self.check_code_terms()
        if self.init not in ("glorot", "torch"):
            raise ValueError(f"init must be 'glorot' or 'torch', got {self.init!r}")


@flat_config
class ConvConfig(CodeTerms, ConvBackbone, AutoencoderConfig):
    """The conv autoencoder's config: every backbone option, the code terms, and U-Net skips."""

    FIELDS = ("input_shape", "channels", "blocks_per_stage", "decoder_blocks_per_stage", "stem", "kernel_size",
              "code_size", "spatial_code", "bottleneck", "activation", "code_activation", "output_activation", "loss",
              "norm", "residual", "upsample", "head", "sparsity", "sparsity_weight", "sparsity_target",
              "neighbor_weight", "neighbors", "neighbor_min_dist", "neighbor_negatives", "landmark_weight",
              "neighbor_space", "critic_samples", "skips", "input_skip")
    skips: bool = False  # U-Net skips: each decoder stage adds the encoder's same-size features (they join the code)
    # input_skip: the input joins the code and the decoder predicts a correction to it (residual learning, as
    # denoisers such as DnCNN do): a clean input passes through; needs a sigmoid output (the correction is in logits)
    input_skip: bool = False

    def __post_init__(self):
        self.check_autoencoder()
        self.check_code_terms()
        self.check_backbone()
        if self.skips and len(self.channels) < 2:
            raise ValueError(f"skips need two or more stages (channels), got {tuple(self.channels)}")
        terms = self.sparsity != "none" or self.neighbor_weight or self.landmark_weight
        if (self.skips or self.input_skip) and terms:
            raise ValueError("skips put the encoder's features into the code: no sparsity, neighbour or landmark term")
        if self.input_skip and self.output_activation != "sigmoid":
            raise ValueError("input_skip corrects the input in logits: it needs output_activation 'sigmoid'")


def check_domain_name(name) -> None:
    """A domain name is a word of up to 64 letters, digits and ``_.+-``, starting with a letter or digit."""
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name):
        raise ValueError(f"a domain name is up to 64 letters, digits and _.+- starting with a letter or digit, "
                         f"got {name!r}")


@flat_config
class SwapConfig(ConvBackbone, AutoencoderConfig):
    """The swap autoencoder's config: one conv backbone, one decoder per domain, and the swap training terms."""

    FIELDS = ("input_shape", "domains", "channels", "blocks_per_stage", "kernel_size", "code_size", "spatial_code",
              "activation", "code_activation", "output_activation", "loss", "norm", "head", "warp", "recolour",
              "edges", "thicken", "cycle", "code_cycle", "align", "align_kind")
    domains: tuple[str, ...] = ("a", "b")  # names of the domains, one decoder each; the first is the default
    warp: float = 0.0  # strength of the random affine warp of the encoder's input in training (0: off; ~0.1 mild)
    recolour: float = 0.0  # share of training images the encoder sees recoloured (channels shuffled, half inverted)
    edges: float = 0.0  # share of training images the encoder sees as their edges (``random_edges``: hollow strokes)
    thicken: float = 0.0  # share of training images the encoder sees with thickened strokes (``random_thicken``)
    cycle: float = 0.0  # weight of the cycle term: a swap, encoded and decoded back to its own domain, rebuilds x
    code_cycle: float = 0.0  # weight of the code cycle: a swap, encoded again, gives its source's code back
    align: float = 0.0  # weight of the code-alignment term: every domain's codes follow one distribution (0: off)
    align_kind: str = "adversarial"  # "adversarial" (domain classifier, confusion) or "mmd" (kernel distance)

    def __post_init__(self):
        self.check_autoencoder()
        self.check_backbone()
        names = tuple(self.domains)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"domains must be two or more distinct names, got {names}")
        for name in names:
            check_domain_name(name)
        if not all(0 <= v <= 1 for v in (self.warp, self.recolour, self.edges, self.thicken)):
            raise ValueError(f"warp, recolour, edges and thicken must lie in [0, 1], got {self.warp}, {self.recolour}, "
                             f"{self.edges}, {self.thicken}")
        if self.cycle < 0 or self.code_cycle < 0:
            raise ValueError(f"cycle and code_cycle must be >= 0, got {self.cycle}, {self.code_cycle}")
        if self.align < 0 or self.align_kind not in ALIGNMENTS:
            raise ValueError(f"align must be >= 0 and align_kind one of {ALIGNMENTS}, got {self.align}, "
                             f"{self.align_kind!r}")


@flat_config
class VAEConfig(ConvBackbone, AutoencoderConfig):
    """The VAE's config: a dense backbone through ``hidden``, or the conv backbone (channels, blocks_per_stage,
    kernel_size, head); beta, KL warm-up and free bits."""

    FIELDS = ("input_shape", "backbone", "hidden", "channels", "blocks_per_stage", "kernel_size", "head", "code_size",
              "activation", "output_activation", "loss", "beta", "kl_warmup", "free_bits", "critic_reconstructions")
    backbone: str = "dense"  # "dense" (MLP through `hidden`) or "conv" (strided conv stages through `channels`)
    hidden: tuple[int, ...] = (512, 256)  # dense backbone: encoder widths; the decoder mirrors them
    blocks_per_stage = 1
    code_size = 16  # latent dimensions
    # output_activation "sigmoid" is a Bernoulli likelihood, "identity" a Gaussian of unit variance; either loss is
    # summed per sample (the ELBO scale)
    beta: float = 1.0  # weight of the KL term once warmed up (beta-VAE: beta > 1)
    kl_warmup: float = 0.0  # fraction of training over which the KL weight ramps linearly from 0 to beta (0: off)
    free_bits: float = 0.0  # minimum KL per latent dimension in nats, on the batch mean (Kingma et al. 2016; 0: off)
    critic_reconstructions: bool = True  # the adversarial critic judges reconstructions as well as decoded prior
    #                                      samples (VAE-GAN); False: prior samples only, which is what generation uses

    def __post_init__(self):
        self.check_autoencoder()
        check_activation(self.activation)
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.backbone == "conv":
            self.check_backbone()
        elif self.head != "full":
            raise ValueError(f"head={self.head!r} needs the conv backbone")
        if any(int(h) <= 0 for h in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {tuple(self.hidden)}")
        if self.beta < 0 or self.free_bits < 0 or not 0 <= self.kl_warmup <= 1:
            raise ValueError("beta and free_bits must be >= 0 and kl_warmup in [0, 1]")


@flat_config
class VQConfig(ConvBackbone, AutoencoderConfig):
    """The VQ-VAE's config: the conv backbone down to a code map of ``code_size`` channels, and its codebook."""

    FIELDS = ("input_shape", "channels", "blocks_per_stage", "kernel_size", "code_size", "codebook_size", "commitment",
              "ema_decay", "dead_code_threshold", "activation", "output_activation", "loss", "head")
    code_size = 16  # code_dim: width D of each code vector (channels of the code map and of codebook entries)
    spatial_code = True  # fixed: the code is a map of codebook entries (B, D, h, w)
    codebook_size: int = 256  # K entries in the codebook
    commitment: float = 0.25  # weight of the commitment loss ||z_e - sg(z)||^2 (the paper's beta)
    ema_decay: float = 0.99  # decay of the codebook's exponential moving averages
    dead_code_threshold: float = 1.0  # restart entries whose EMA usage count falls below this (0: never)

    def __post_init__(self):
        self.check_autoencoder()
        self.check_backbone()
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if self.commitment < 0 or not 0 < self.ema_decay < 1 or self.dead_code_threshold < 0:
            raise ValueError("commitment and dead_code_threshold must be >= 0 and ema_decay in (0, 1)")

    @property
    def code_dim(self) -> int:
        """The width of each code vector (another name for ``code_size``)."""
        return self.code_size


@flat_config
class CompressConfig(ConvBackbone, AutoencoderConfig):
    """The compressive autoencoder's config: a conv autoencoder's (``conv_config``), rate-distortion weights, and
    the prior's width."""

    FIELDS = ("input_shape", "channels", "blocks_per_stage", "stem", "kernel_size", "bottleneck", "code_size",
              "activation", "norm", "lambdas", "default_level", "prior_hidden", "output_activation", "loss")
    channels = (64, 128)
    bottleneck = (512,)
    code_size = 64  # dimensions of the quantised code
    activation = "silu"
    norm = "batch"
    lambdas: tuple[float, ...] = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0)  # one quality level each
    default_level: int = 4  # the level used when none is given (0-based)
    prior_hidden: int = 256  # width of the autoregressive prior's two hidden layers
    loss = "mse"  # the distortion term: mean squared error in [0, 1] units

    def __post_init__(self):
        self.check_autoencoder()
        if self.loss != "mse":
            raise ValueError("a compressive autoencoder's distortion is MSE (loss 'mse')")
        if not 1 <= len(self.lambdas) <= 32 or any(float(v) <= 0 for v in self.lambdas):
            raise ValueError("lambdas: 1 to 32 positive rate-distortion weights, one per quality level")
        if not 0 <= self.default_level < len(self.lambdas):
            raise ValueError(f"default_level must lie in 0..{len(self.lambdas) - 1}")
        if self.prior_hidden < 2:
            raise ValueError("prior_hidden must be at least 2")
        self.conv_config()  # the conv part validates its own fields

    def conv_config(self) -> ConvConfig:
        """The config of the conv autoencoder inside (the backbone settings this config does not list are fixed)."""
        return ConvConfig(input_shape=self.input_shape, channels=self.channels, blocks_per_stage=self.blocks_per_stage,
                          stem=self.stem, kernel_size=self.kernel_size, code_size=self.code_size,
                          bottleneck=self.bottleneck, activation=self.activation, norm=self.norm,
                          output_activation=self.output_activation, loss="mse")


CONFIGS = {"dense": DenseConfig, "conv": ConvConfig, "vae": VAEConfig, "vq": VQConfig, "swap": SwapConfig,
           "compress": CompressConfig}  # model name -> config class; aekit.models.MODELS pairs each with its module
