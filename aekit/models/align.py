"""Code alignment across domains: terms that make the codes of every domain follow one distribution, so that each
domain's decoder meets, in training, the codes the other domains' images produce (which a swap will feed it).

Two kinds, both on the code as the encoder emits it (flattened per sample):

- ``"adversarial"``: a small domain classifier learns to tell the domains apart from the (detached) code, and the
  encoder learns codes on which its prediction is uniform over the domains: domain confusion (Tzeng et al. 2015),
  steadier than reversing the classifier's gradient (Ganin & Lempitsky 2015), which lets the encoder swap the
  domains' codes rather than mix them. One optimiser serves both; neither term's gradient reaches the other's
  parameters.
- ``"mmd"``: the squared maximum mean discrepancy between each domain's codes and the rest of the batch under a sum
  of Gaussian kernels at several bandwidths around the batch's median distance (Gretton et al. 2012); no parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def domain_classifier(code_numel: int, domains: int, width: int = 128) -> nn.Sequential:
    """Flattened code (B, code_numel) -> domain logits (B, domains)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(code_numel, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                         nn.LeakyReLU(0.2), nn.Linear(width, domains))


def adversarial_alignment(classifier: nn.Module, z: torch.Tensor, domain: torch.Tensor) -> dict[str, torch.Tensor]:
    """Two terms in one backward pass: ``classifier``, its cross-entropy on detached codes (trains only the domain
    classifier), and ``confusion``, the cross-entropy of its (frozen) prediction on the live codes against the uniform
    distribution over domains (trains only the encoder: codes whose domain it cannot tell)."""
    classifier_loss = F.cross_entropy(classifier(z.detach()), domain.long())
    frozen = {k: v.detach() for k, v in classifier.named_parameters()}
    logits = torch.func.functional_call(classifier, frozen, (z,))
    confusion = -F.log_softmax(logits, 1).mean(1).mean()  # CE to uniform; log(domains) at its minimum
    return {"classifier": classifier_loss, "confusion": confusion}


def mmd2(a: torch.Tensor, b: torch.Tensor, scales: tuple[float, ...] = (0.25, 1.0, 4.0)) -> torch.Tensor:
    """Biased squared MMD between samples a (n, D) and b (m, D) under Gaussian kernels whose bandwidths are
    ``scales`` times the median squared distance of the pooled samples (detached)."""
    x = torch.cat([a, b])
    d2 = torch.cdist(x, x).pow(2)
    med = d2.detach()[d2.detach() > 0].median() if (d2 > 0).any() else d2.new_ones(())
    k = sum(torch.exp(-d2 / (s * med)) for s in scales)
    n = len(a)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def mmd_alignment(z: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Mean over the batch's domains of MMD^2 between that domain's codes and the other domains' codes."""
    z = z.flatten(1)
    present = [d for d in torch.unique(domain).tolist() if 0 < int((domain == d).sum()) < len(domain)]
    if not present:
        return z.new_zeros(())
    return torch.stack([mmd2(z[domain == d], z[domain != d]) for d in present]).mean()
