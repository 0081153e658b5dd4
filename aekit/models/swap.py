"""Swap autoencoder (the deepfake technique): one shared encoder, one decoder per named domain.

Each decoder learns to rebuild only its own domain from the shared code, so the code carries what the domains have in
common (pose, shape, which digit) and each decoder adds its domain's look. A swap encodes an image of one domain and
decodes it with another domain's decoder (``swap``). With ``warp`` > 0 the encoder sees a randomly warped copy of its
input during training while the target stays the clean image (the trick face-swap tools use so the code captures
pose, not identity); evaluation never warps. With ``recolour`` > 0 the encoder sees some images with their colour
channels shuffled and half of those inverted (``random_recolour``): a domain of dark ink on light paper and one of
light ink on black then reach the same code for the same strokes, where without it the encoder keeps them apart (a
swap across that divide loses the digit). With ``edges`` > 0 the encoder sees some images as their edges only
(``random_edges``): a domain drawn in hollow outline strokes and one in solid strokes then reach the same code for the
same digit, and each decoder learns to draw its own strokes from a code of edges (without it a swap out of an outline
domain draws both edges of every stroke as strokes of their own). With ``thicken`` > 0 the encoder sees some images with
their ink spread by a 3x3 dilation (``random_thicken``): a domain of heavy strokes and one of thin strokes then reach
the same code for the same digit, and each decoder draws its own weight (without it a swap out of a heavy-stroke
domain into a thin one draws the heavy stroke's outline, filled faintly, and reads as another digit).

Training terms beyond each domain's reconstruction, all off by default: ``cycle`` (a swap, encoded and decoded back
by the source's domain, rebuilds the source), ``code_cycle`` (a swap, encoded again, gives the source's code back)
and ``align`` (the domains' codes made indistinguishable, ``models/align.py``, so each decoder meets in training the
kind of codes a swap will feed it).

Contract defaults: ``forward(x)`` and ``decode_logits(z)`` without a domain use the first domain's decoder, so every
application written for one-decoder models (eval, reconstruct, generate, interpolate) works on a swap run as a model
of its first domain.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models import backbone
from aekit.models.align import adversarial_alignment, domain_classifier, mmd_alignment
from aekit.models.base import Autoencoder, output, reconstruction_loss
from aekit.models.blocks import kaiming_init_
from aekit.models.configs import SwapConfig, check_domain_name  # noqa: F401 (check_domain_name re-exported)


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


def random_recolour(x: torch.Tensor, share: float) -> torch.Tensor:
    """Images in [0, 1] (B, C, H, W), a random ``share`` of them recoloured: colour channels in a random order and,
    for half of those, light and dark exchanged (1 - x); drawn from torch's global RNG. What it leaves alone is where
    the strokes and edges run."""
    b, c = x.shape[:2]
    chosen = torch.rand(b, device=x.device) < share
    order = torch.argsort(torch.rand(b, c, device=x.device), 1)  # (B, C) a random permutation per image
    order = torch.where(chosen[:, None], order, torch.arange(c, device=x.device))
    out = torch.gather(x, 1, order[:, :, None, None].expand_as(x))
    invert = (chosen & (torch.rand(b, device=x.device) < 0.5))[:, None, None, None]
    return torch.where(invert, 1 - out, out)


def random_thicken(x: torch.Tensor, share: float) -> torch.Tensor:
    """Images in [0, 1] (B, C, H, W), a random ``share`` of them with their strokes thickened: the ink spread by a 3x3
    grey dilation, where the ink is whatever differs from a light ground (the image's mean above 0.5: a 3x3 minimum)
    or a dark one (a 3x3 maximum); drawn from torch's global RNG."""
    chosen = (torch.rand(len(x), device=x.device) < share)[:, None, None, None]
    light_ground = x.mean((1, 2, 3), keepdim=True) > 0.5
    darkest, lightest = -F.max_pool2d(-x, 3, 1, 1), F.max_pool2d(x, 3, 1, 1)
    return torch.where(chosen, torch.where(light_ground, darkest, lightest), x)


def random_edges(x: torch.Tensor, share: float) -> torch.Tensor:
    """Images in [0, 1] (B, C, H, W), a random ``share`` of them replaced by their edges: each channel's morphological
    gradient (3x3 dilation minus erosion), which draws a stroke as its two outlines; drawn from torch's global RNG."""
    chosen = (torch.rand(len(x), device=x.device) < share)[:, None, None, None]
    gradient = F.max_pool2d(x, 3, 1, 1) + F.max_pool2d(-x, 3, 1, 1)  # dilation - erosion
    return torch.where(chosen, gradient, x)


class SwapAutoencoder(Autoencoder):
    """x (B, C, H, W) -> shared conv encoder -> code -> the decoder of each sample's domain -> logits (B, C, H, W)."""

    def __init__(self, config: SwapConfig):
        super().__init__()
        self.config = config
        cfg = config
        self.feature_shape = backbone.feature_shape(cfg)
        self.encoder = backbone.encoder(cfg)
        self.to_code = backbone.to_code(cfg, self.feature_shape)
        # decoders[i] renders domain i: the code layers and the conv decoder in one Sequential
        self.decoders = nn.ModuleList(nn.Sequential(*backbone.from_code(cfg, self.feature_shape),
                                                    *backbone.decoder(cfg)) for _ in cfg.domains)
        if cfg.align > 0 and cfg.align_kind == "adversarial":  # tells the domains apart from the code
            _, h, w = self.feature_shape
            code_numel = cfg.code_size * (h * w if cfg.spatial_code else 1)
            self.domain_classifier = domain_classifier(code_numel, len(cfg.domains))
        kaiming_init_(self)

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
        x_in = random_thicken(x_in, cfg.thicken) if self.training and cfg.thicken > 0 else x_in
        x_in = random_edges(x_in, cfg.edges) if self.training and cfg.edges > 0 else x_in
        x_in = random_recolour(x_in, cfg.recolour) if self.training and cfg.recolour > 0 else x_in
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
