"""Terms a deterministic autoencoder adds on its code, each a setting of the ``CodeTerms`` config group
(``aekit.models.config_parts``), so a sparse or neighbour-preserving autoencoder is a config, not a class:

- sparsity (``sparsity`` "l1" or "kl", ``sparsity_weight``, ``sparsity_target``): ``code_penalty``;
- the neighbour-preserving term (parametric UMAP's loss, ``aekit.models.neighbors``): configs with
  ``neighbor_weight`` > 0 take ``forward(x, neighbor=x_nb)`` (one input-space neighbour per sample, a side tensor
  the trainer draws) and add its code as ``"z_neighbor"``; with ``landmark_weight`` > 0 ``loss`` also takes
  ``landmark`` (each sample's target code in a UMAP layout of the same graph);
- ``critic_samples``: the adversarial critic also judges decoded codes drawn like new samples.

The dense and conv models build on ``CodeTermsAutoencoder``.
"""

from __future__ import annotations

import torch

from aekit.models.base import Autoencoder, output, reconstruction_loss
from aekit.models.neighbors import landmark_penalty, neighbor_penalty


class CodeTermsAutoencoder(Autoencoder):
    """An autoencoder whose loss adds the code terms its config asks for."""

    def forward(self, x: torch.Tensor, neighbor: torch.Tensor | None = None,
                landmark: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The outputs for x; ``neighbor`` adds its code as "z_neighbor" (``landmark`` is for ``loss`` only)."""
        if neighbor is None:
            z = self.encode(x)
            extra = {}
        else:  # one encoder pass over both, so batch statistics see both
            z, z_nb = self.encode(torch.cat([x, neighbor])).split([len(x), len(neighbor)])
            extra = {"z_neighbor": z_nb}
        logits = self.decode_logits(z)
        return {"x_hat": output(logits, self.config.output_activation), "logits": logits, "z": z, **extra}

    def critic_pairs(self, target: torch.Tensor, out: dict[str, torch.Tensor], **side) -> dict:
        """Real targets against reconstructions, for the adversarial decoder's critic (no conditions). With the config
        field ``critic_samples`` also against decoded new codes (``batch_gaussian_codes``): a deterministic
        autoencoder generates by decoding codes drawn from a density fitted to its codes (``aekit generate``'s
        mixture), so, as in VAE-GAN (Larsen et al. 2016), the decoder is judged there too."""
        if not getattr(self.config, "critic_samples", False):
            return {"real": target, "real_cond": None, "fake": out["x_hat"], "fake_cond": None}
        fake = torch.cat([out["x_hat"], self.decode(batch_gaussian_codes(out["z"]))])
        return {"real": torch.cat([target, target]), "real_cond": None, "fake": fake, "fake_cond": None}

    def loss(self, x: torch.Tensor, out: dict[str, torch.Tensor], target: torch.Tensor | None = None,
             progress: float = 1.0, neighbor: torch.Tensor | None = None,
             landmark: torch.Tensor | None = None) -> dict:
        """Reconstruction, plus the sparsity, neighbour and landmark terms the config asks for (the neighbour's code
        is already in ``out``; ``landmark`` holds each sample's target code)."""
        target = x if target is None else target
        recon = reconstruction_loss(out["logits"], out["x_hat"], target, self.config.loss)
        terms = {"loss": recon, "recon": recon}
        penalty = code_penalty(out["z"], self.config)
        if penalty:
            terms.update(penalty)
            terms["loss"] = terms["loss"] + penalty["sparsity"]
        for extra, key in ((neighbor_penalty(out, self.config), "neighbor"),
                           (landmark_penalty(out["z"], landmark, self.config), "landmark")):
            if extra:
                terms.update(extra)
                terms["loss"] = terms["loss"] + extra[key]
        return terms


def batch_gaussian_codes(z: torch.Tensor) -> torch.Tensor:
    """As many new codes as ``z`` has rows, drawn from the Gaussian with the batch's mean and covariance: the mean
    plus random combinations of the centred codes with N(0, 1/(B-1)) weights (exact for that Gaussian, no
    factorisation, any code shape). Uses the global RNG, so a seeded run stays reproducible and resumable."""
    flat = z.detach().flatten(1)
    mean = flat.mean(0, keepdim=True)
    weights = torch.randn(len(flat), len(flat), device=z.device, dtype=flat.dtype) / max(len(flat) - 1, 1) ** 0.5
    return (mean + weights @ (flat - mean)).view_as(z)


def code_penalty(z: torch.Tensor, cfg) -> dict[str, torch.Tensor]:
    """The sparsity term on the code and the mean code activation; empty when the config asks for none.

    "l1": weight * mean |z| (an L1 activity penalty). "kl": weight * sum_j KL(rho || rho_hat_j), rho_hat_j the mean
    activation of code unit j over the batch (Ng, "Sparse autoencoder", CS294A notes, 2011).
    """
    kind = getattr(cfg, "sparsity", "none")
    if kind == "none":
        return {}
    act = z.abs().mean()
    if kind == "l1":
        return {"sparsity": cfg.sparsity_weight * act, "code_activation": act.detach()}
    rho = cfg.sparsity_target
    rho_hat = z.flatten(1).mean(0).clamp(1e-6, 1 - 1e-6)
    kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    return {"sparsity": cfg.sparsity_weight * kl, "code_activation": act.detach()}
