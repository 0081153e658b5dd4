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
- ``"class_mmd"``: the same distance within each class, for domains whose images are labelled (a class id per image,
  the same classes in every domain): a 7 of one domain gets the code of a 7 of the others, so a swap keeps the class
  (class-conditional alignment, as in Long et al. 2013's joint distribution adaptation). Uses the labels; the other
  two do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ALIGNMENTS = ("adversarial", "mmd", "class_mmd")


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


def mmd2(a: torch.Tensor, b: torch.Tensor, scales: tuple[float, ...] = (0.25, 1.0, 4.0),
         median: torch.Tensor | None = None, unbiased: bool = False) -> torch.Tensor:
    """Squared MMD between samples a (n, D) and b (m, D) under Gaussian kernels whose bandwidths are ``scales`` times
    ``median`` (default: the median squared distance of the pooled samples; always detached). Biased (V-statistic)
    by default; ``unbiased`` leaves each set's self-similarities out (U-statistic), which small samples need: the
    biased estimate of two tiny samples is large even when they come from one distribution."""
    x = torch.cat([a, b])
    d2 = torch.cdist(x, x).pow(2)
    if median is None:
        med = d2.detach()[d2.detach() > 0].median() if (d2 > 0).any() else d2.new_ones(())
    else:
        med = median.detach().clamp_min(1e-12)
    k = sum(torch.exp(-d2 / (s * med)) for s in scales)
    n, m = len(a), len(b)
    if not unbiased:
        return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()
    if n < 2 or m < 2:
        return k.new_zeros(())
    within = (k[:n, :n].sum() - k[:n, :n].diagonal().sum()) / (n * (n - 1))
    within = within + (k[n:, n:].sum() - k[n:, n:].diagonal().sum()) / (m * (m - 1))
    return within - 2 * k[:n, n:].mean()


def mmd_alignment(z: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Mean over the batch's domains of MMD^2 between that domain's codes and the other domains' codes."""
    z = z.flatten(1)
    present = [d for d in torch.unique(domain).tolist() if 0 < int((domain == d).sum()) < len(domain)]
    if not present:
        return z.new_zeros(())
    return torch.stack([mmd2(z[domain == d], z[domain != d]) for d in present]).mean()


def class_mmd_alignment(z: torch.Tensor, domain: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Mean over the batch's classes of the unbiased squared MMD between one domain's codes of that class and the
    other domains' codes of it (cells of fewer than two codes add nothing), with the bandwidth set by the whole
    batch's median distance, so that the class's codes cannot shrink to a point to make the term vanish."""
    z, label = z.flatten(1), label.to(z.device)
    d2 = torch.cdist(z.detach(), z.detach()).pow(2)
    median = d2[d2 > 0].median() if (d2 > 0).any() else d2.new_ones(())
    terms = []
    for c in torch.unique(label).tolist():
        rows = label == c
        zc, dc = z[rows], domain[rows]
        for d in torch.unique(dc).tolist():
            mine = dc == d
            if int(mine.sum()) >= 2 and int((~mine).sum()) >= 2:
                terms.append(mmd2(zc[mine], zc[~mine], median=median, unbiased=True))
    return torch.stack(terms).mean() if terms else z.new_zeros(())
