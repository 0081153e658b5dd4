"""The adversarial decoder inside the one trainer: a critic and its own optimiser, stepped alternately."""

from __future__ import annotations

import torch

from aekit import storage
from aekit.models.discriminator import Discriminator, DiscriminatorConfig, discriminator_loss, generator_loss


class Adversary:
    """Holds the critic and its optimiser; the trainer asks it for a critic step and a generator term."""

    def __init__(self, input_shape: tuple[int, ...], cfg, device: torch.device, world: int = 1, classes: int = 0):
        self.cfg = cfg
        disc_cfg = DiscriminatorConfig(tuple(input_shape), tuple(cfg.disc_channels), classes)
        self.disc = Discriminator(disc_cfg).to(device)
        self.net = self.disc
        if world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.disc, device_ids=[device] if device.type == "cuda" else None)
        # Adam with beta1 = 0.5, as is usual for GANs (Radford et al. 2016).
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.999))

    def active(self, epoch: int) -> bool:
        """Whether the adversarial term is on in this (0-based) epoch."""
        return epoch >= self.cfg.adv_start

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor, real_cond: torch.Tensor | None = None,
                    fake_cond: torch.Tensor | None = None) -> torch.Tensor:
        """One optimiser step of the critic on real targets vs detached decoder outputs (with their class ids when
        the critic is conditioned, e.g. the domain each image should belong to); returns its loss."""
        self.disc.requires_grad_(True)
        cond = None if real_cond is None else torch.cat([real_cond, fake_cond])
        logits = self.net(torch.cat([real, fake.detach()]), cond)  # one pass (DDP wants one forward per backward)
        loss = discriminator_loss(self.cfg.adv_loss, logits[: len(real)], logits[len(real):])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def generator_term(self, fake: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's adversarial loss (gradients reach the autoencoder only)."""
        self.disc.requires_grad_(False)
        return generator_loss(self.cfg.adv_loss, self.disc(fake, cond))

    def state(self) -> tuple[dict, dict]:
        """Critic weights and optimiser state as tensors plus JSON, for the run's checkpoint."""
        tensors = {f"disc.{k}": v for k, v in self.disc.state_dict().items()}
        otensors, ometa = storage.optimizer_to_tensors(self.opt, prefix="optim_d.")
        tensors.update(otensors)
        return tensors, ometa

    def load(self, tensors: dict, meta: dict, where) -> None:
        """Restore what ``state`` saved."""
        storage.load_state_dict_checked(self.disc, {k[5:]: v for k, v in tensors.items() if k.startswith("disc.")},
                                     where)
        storage.optimizer_from_tensors(self.opt, tensors, meta, prefix="optim_d.")
