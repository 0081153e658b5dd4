"""Swap autoencoder (the deepfake technique): one shared encoder, one decoder per named domain.

Each decoder learns to rebuild only its own domain from the shared code, so the code carries what the domains have in
common (pose, shape, which digit) and each decoder adds its domain's look. A swap encodes an image of one domain and
decodes it with another domain's decoder (``swap``). With ``warp`` > 0 the encoder sees a randomly warped copy of its
input during training while the target stays the clean image (the trick face-swap tools use so the code captures
pose, not identity); evaluation never warps.

Training terms beyond each domain's reconstruction, all off by default: ``cycle`` (a swap, encoded and decoded back
by the source's domain, rebuilds the source), ``code_cycle`` (a swap, encoded again, gives the source's code back)
and ``align`` (the domains' codes made indistinguishable, ``models/align.py``, so each decoder meets in training the
kind of codes a swap will feed it).

Contract defaults: ``forward(x)`` and ``decode_logits(z)`` without a domain use the first domain's decoder, so every
application written for one-decoder models (eval, reconstruct, generate, interpolate) works on a swap run as a model
of its first domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.align import ALIGNMENTS, adversarial_alignment, domain_classifier, mmd_alignment
from aekit.models.base import Autoencoder, activation, check_config, numel, output, reconstruction_loss
from aekit.models.blocks import check_conv, conv_decoder, conv_encoder, encoder_output_size, kaiming_init_

DOMAIN_NAME = re.compile(r"[^\W_][\w.+-]{0,63}")  # it names output files (<image>-to-<domain>.png): no paths


def check_domain_name(name) -> None:
    """A domain name is a word of up to 64 letters, digits and ``_.+-``, starting with a letter or digit."""
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name):
        raise ValueError(f"a domain name is up to 64 letters, digits and _.+- starting with a letter or digit, "
                         f"got {name!r}")


@dataclass(frozen=True)
class SwapConfig:
    input_shape: tuple[int, ...] = (1, 28, 28)  # one image (C, H, W), the same for every domain
    domains: tuple[str, ...] = ("a", "b")  # names of the domains, one decoder each; the first is the default
    channels: tuple[int, ...] = (32, 64)  # widths of the stride-2 stages; every decoder mirrors them
    blocks_per_stage: int = 2  # convs per stage: one stride-2 conv plus (n - 1) stride-1 convs
    kernel_size: int = 3  # odd; "same" padding everywhere
    code_size: int = 32  # width of the shared code vector, or channels of the code map when spatial_code
    spatial_code: bool = False  # False: (B, code_size); True: a code map (B, code_size, h, w)
    activation: str = "relu"  # hidden-layer activation
    code_activation: str = "identity"  # activation on the code
    output_activation: str = "sigmoid"  # "sigmoid" or "identity"
    loss: str = "bce"  # "bce" or "mse"
    norm: str = "none"  # "none", "batch" or "group" after every hidden conv
    head: str = "full"  # decoder output: "full" (a last hidden layer at full size) or "subpixel" (from half size)
    warp: float = 0.0  # strength of the random affine warp of the encoder's input in training (0: off; ~0.1 mild)
    cycle: float = 0.0  # weight of the cycle term: a swap, encoded and decoded back to its own domain, rebuilds x
    code_cycle: float = 0.0  # weight of the code cycle: a swap, encoded again, gives its source's code back
    align: float = 0.0  # weight of the code-alignment term: every domain's codes follow one distribution (0: off)
    align_kind: str = "adversarial"  # "adversarial" (domain classifier, confusion) or "mmd" (kernel distance)

    def __post_init__(self):
        check_config(self)
        check_conv(self.input_shape, self.channels, self.blocks_per_stage, self.kernel_size, self.norm, self.head)
        activation(self.activation), activation(self.code_activation)  # unknown names raise ValueError here
        names = tuple(self.domains)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"domains must be two or more distinct names, got {names}")
        for name in names:
            check_domain_name(name)
        if not 0 <= self.warp <= 1:
            raise ValueError(f"warp must lie in [0, 1], got {self.warp}")
        if self.cycle < 0 or self.code_cycle < 0:
            raise ValueError(f"cycle and code_cycle must be >= 0, got {self.cycle}, {self.code_cycle}")
        if self.align < 0 or self.align_kind not in ALIGNMENTS:
            raise ValueError(f"align must be >= 0 and align_kind one of {ALIGNMENTS}, got {self.align}, "
                             f"{self.align_kind!r}")


def random_warp(x: torch.Tensor, strength: float) -> torch.Tensor:
    """A random affine warp per image (rotation up to 30 deg x strength, scale 1 +- 0.5 x strength, shear and shift
    up to 0.5 x strength of half the image), drawn from torch's global RNG so seeded runs stay reproducible."""
    b = len(x)
    r = torch.rand(b, 5, device=x.device) * 2 - 1  # (B, 5) in [-1, 1)
    angle = r[:, 0] * strength * torch.pi / 6
    scale = 1 + 0.5 * strength * r[:, 1]
    shear = 0.5 * strength * r[:, 2]
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin + shear, 0.5 * strength * r[:, 3]], 1),
                         torch.stack([sin, cos, 0.5 * strength * r[:, 4]], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class SwapAutoencoder(Autoencoder):
    """x (B, C, H, W) -> shared conv encoder -> code -> the decoder of each sample's domain -> logits (B, C, H, W)."""

    def __init__(self, config: SwapConfig):
        super().__init__()
        self.config = config
        cfg = config
        c, h, w = encoder_output_size(cfg.input_shape, cfg.channels, cfg.kernel_size)
        self.feature_shape = (c, h, w)
        self.encoder = conv_encoder(cfg.input_shape[0], cfg.channels, cfg.blocks_per_stage, cfg.kernel_size,
                                    cfg.activation, cfg.norm)
        if cfg.spatial_code:
            self.to_code = nn.Sequential(nn.Conv2d(c, cfg.code_size, 1), activation(cfg.code_activation))
        else:
            self.to_code = nn.Sequential(nn.Flatten(), nn.Linear(numel(self.feature_shape), cfg.code_size),
                                         activation(cfg.code_activation))
        self.decoders = nn.ModuleList(self._decoder() for _ in cfg.domains)  # decoders[i] renders domain i
        if cfg.align > 0 and cfg.align_kind == "adversarial":  # tells the domains apart from the code
            code_numel = cfg.code_size * (h * w if cfg.spatial_code else 1)
            self.domain_classifier = domain_classifier(code_numel, len(cfg.domains))
        kaiming_init_(self)

    def _decoder(self) -> nn.Sequential:
        cfg, shape = self.config, self.feature_shape
        if cfg.spatial_code:
            head = [nn.Conv2d(cfg.code_size, shape[0], 1), activation(cfg.activation)]
        else:
            head = [nn.Linear(cfg.code_size, numel(shape)), activation(cfg.activation), nn.Unflatten(1, shape)]
        body = conv_decoder(cfg.input_shape[0], cfg.channels, tuple(cfg.input_shape[1:]), cfg.blocks_per_stage,
                            cfg.kernel_size, cfg.activation, cfg.norm, head=cfg.head)
        return nn.Sequential(*head, *body)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(self.config.domains)

    def domain_index(self, domain: str | int) -> int:
        """The decoder index of a domain given by name or index; ValueError for an unknown one."""
        if isinstance(domain, str):
            if domain not in self.domains:
                raise ValueError(f"unknown domain {domain!r}; this model has {list(self.domains)}")
            return self.domains.index(domain)
        if not 0 <= int(domain) < len(self.domains):
            raise ValueError(f"domain index {domain} out of range for {len(self.domains)} domains")
        return int(domain)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.encoder(x))  # (B, code_size) or (B, code_size, h, w)

    def decode_logits(self, z: torch.Tensor, domain: str | int | torch.Tensor | None = None) -> torch.Tensor:
        """Logits of codes decoded by one domain's decoder (a name or index; None: the first domain), or by each
        sample's own decoder when ``domain`` is an integer tensor (B,)."""
        if not isinstance(domain, torch.Tensor):
            return self.decoders[self.domain_index(0 if domain is None else domain)](z)
        domain = domain.to(z.device).long()
        if len(domain) != len(z):
            raise ValueError(f"{len(domain)} domain ids for {len(z)} codes")
        if domain.numel() and not 0 <= int(domain.min()) <= int(domain.max()) < len(self.decoders):
            raise ValueError(f"domain ids must lie in 0..{len(self.decoders) - 1}")
        out = None
        for i, dec in enumerate(self.decoders):
            rows = torch.nonzero(domain == i).flatten()
            if len(rows) == 0:
                continue
            part = dec(z[rows])
            out = part.new_empty(len(z), *part.shape[1:]) if out is None else out
            out = out.index_copy(0, rows, part)  # out of place: autograd reaches every decoder's part
        return out if out is not None else self.decoders[0](z)  # an empty batch

    def decode(self, z: torch.Tensor, domain: str | int | torch.Tensor | None = None) -> torch.Tensor:
        return output(self.decode_logits(z, domain), self.config.output_activation)

    def forward(self, x: torch.Tensor, domain: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Own-domain reconstructions: each sample through the shared encoder (its input warped in training when
        ``warp`` > 0) and the decoder of its ``domain`` (B,) (default: the first domain's).

        In training with ``cycle`` or ``code_cycle`` > 0 and domain ids, each code is also swapped into a random other
        domain (``x_swap``, ``swap_domain``) and the swap is encoded again (``z_swap``); with ``cycle`` > 0 that code
        is decoded back by the own domain (``cycle_logits``).
        """
        cfg = self.config
        x_in = random_warp(x, cfg.warp) if self.training and cfg.warp > 0 else x
        z = self.encode(x_in)
        logits = self.decode_logits(z, domain)
        out = {"x_hat": output(logits, cfg.output_activation), "logits": logits, "z": z}
        if self.training and (cfg.cycle > 0 or cfg.code_cycle > 0) and domain is not None:
            other = self.other_domains(domain)
            out["x_swap"] = self.decode(z, other)
            out["swap_domain"] = other
            out["z_swap"] = self.encode(out["x_swap"])
            if cfg.cycle > 0:
                back = self.decode_logits(out["z_swap"], domain)
                out["cycle_logits"], out["x_cycle"] = back, output(back, cfg.output_activation)
        return out

    def other_domains(self, domain: torch.Tensor) -> torch.Tensor:
        """For each sample a random domain other than its own (torch's global RNG: seeded, resumable)."""
        n = len(self.decoders)
        return (domain + torch.randint(1, n, domain.shape, device=domain.device)) % n

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0, domain: torch.Tensor | None = None) -> dict:
        target = x if target is None else target  # the un-warped image: warping happens inside forward
        recon = reconstruction_loss(out["logits"], out["x_hat"], target, self.config.loss)
        terms = {"loss": recon, "recon": recon}
        cfg = self.config
        if "cycle_logits" in out:  # x -> other domain -> back: the swap kept what the domains share
            terms["cycle"] = reconstruction_loss(out["cycle_logits"], out["x_cycle"], target, cfg.loss)
            terms["loss"] = terms["loss"] + cfg.cycle * terms["cycle"]
        if "z_swap" in out and cfg.code_cycle > 0:  # the swap encodes to its source's code (relative squared error)
            z = out["z"].detach()
            terms["code_cycle"] = (out["z_swap"] - z).pow(2).mean() / z.pow(2).mean().clamp_min(1e-8)
            terms["loss"] = terms["loss"] + cfg.code_cycle * terms["code_cycle"]
        if cfg.align > 0 and domain is not None:  # the domains' codes made indistinguishable
            if cfg.align_kind == "adversarial":
                parts = adversarial_alignment(self.domain_classifier, out["z"], domain)
                terms["align"], terms["domain_ce"] = parts["confusion"], parts["classifier"]
                terms["loss"] = terms["loss"] + cfg.align * terms["align"] + terms["domain_ce"]
            else:
                terms["align"] = mmd_alignment(out["z"], domain)
                terms["loss"] = terms["loss"] + cfg.align * terms["align"]
        return terms

    @torch.no_grad()
    def swap(self, x: torch.Tensor, to: str | int) -> torch.Tensor:
        """Images of any domain rendered as domain ``to``: encode, then decode with that domain's decoder."""
        self.eval()
        return self.decode(self.encode(x), self.domain_index(to))

    def critic_pairs(self, target: torch.Tensor, out: dict[str, torch.Tensor],
                     domain: torch.Tensor | None = None) -> dict:
        """What the adversarial decoder's critic judges: real images of each domain against that domain's decoder
        outputs, i.e. the reconstructions and swaps into it (each code decoded once more by a random other domain). The critic is conditioned on the domain, so it learns what a real member of
        *that* domain looks like and the swaps are pushed to look like one."""
        if domain is None:  # no domain ids: every sample belongs to the first domain
            domain = torch.zeros(len(target), dtype=torch.long, device=target.device)
        if "x_swap" in out:  # already made for the cycle term
            other, swaps = out["swap_domain"], out["x_swap"]
        else:
            other = self.other_domains(domain)
            swaps = self.decode(out["z"], other)
        return {"real": target, "real_cond": domain, "fake": torch.cat([out["x_hat"], swaps]),
                "fake_cond": torch.cat([domain, other])}

    @property
    def critic_classes(self) -> int:
        return len(self.decoders)
