"""Muon for every weight matrix and convolution kernel of a model, Adam for its other parameters, as one optimiser.

Muon (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/) replaces each weight's momentum-smoothed
gradient by its nearest semi-orthogonal matrix (a quintic Newton-Schulz iteration), so that every
direction of the weight moves at the same rate. ``torch.optim.Muon`` takes 2-D weights only; here a convolution
kernel (out, in, kh, kw) is treated as the matrix (out, in*kh*kw), as in Jordan's CIFAR-10 speed runs, and weights
of the same shape go through the iteration together (one batched matmul instead of one per weight: most of a conv
autoencoder's kernels share a few shapes). Biases and normalisation scales (1-D) take Adam steps.

Each Muon update is scaled by 0.2 * sqrt(max(rows, cols)), which gives it about the RMS of an Adam update (Liu et
al. 2025, "Muon is scalable for LLM training"), so one learning rate and one schedule serve both kinds of parameter.
Weight decay, when set, is decoupled (AdamW-style) for both.
"""

from __future__ import annotations

import math

import torch
from torch.optim.adam import adam as adam_step

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic: maximal slope at zero, 5 steps suffice
RMS_MATCH = 0.2  # Adam's typical update RMS, per unit learning rate


def orthogonalize(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Jordan's Newton-Schulz orthogonalisation of a batch (k, rows, cols) of matrices with rows <= cols (about the
    nearest semi-orthogonal matrices, U S' V^T with S' near 1), in float32.

    Each iteration multiplies x from the left by the rows x rows matrix a I + b G + c G^2 (G = x x^T), so the whole
    iteration runs on small matrices: with x_k = M_k x_0, G_k = M_k G_0 M_k^T. Only G_0 and the final M x_0 touch the
    long side, which makes it several times cheaper than iterating on x itself for the wide kernels of a conv net
    (rows = out channels, cols = in channels x kernel area), and exact enough in float32."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)  # spectral norm at most 1
    gram = x @ x.mT
    m = torch.eye(x.shape[-2], dtype=x.dtype, device=x.device).expand_as(gram)
    gk = gram
    for i in range(steps):
        poly = torch.baddbmm(gk, gk, gk, beta=b, alpha=c)  # b G + c G^2
        poly.diagonal(dim1=-2, dim2=-1).add_(a)
        m = poly @ m
        if i + 1 < steps:
            gk = m @ gram @ m.mT
    return m @ x


class MuonAdam(torch.optim.Optimizer):
    """Muon for parameters of 2+ dimensions (matrices, conv kernels), Adam for the rest: one optimiser, one lr.

    ``momentum`` is Muon's (Nesterov); ``betas`` and ``eps`` are Adam's. State per parameter: Muon's
    ``momentum_buffer``, or Adam's ``step``, ``exp_avg`` and ``exp_avg_sq`` (all tensors, so checkpoints need no
    pickle)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.95, ns_steps: int = 5):
        if lr < 0 or weight_decay < 0 or not 0 <= momentum < 1 or not 1 <= ns_steps <= 20:
            raise ValueError(f"bad Muon settings: lr {lr}, weight_decay {weight_decay}, momentum {momentum}, "
                             f"ns_steps {ns_steps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "ns_steps": ns_steps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, mom = group["lr"], group["weight_decay"], group["momentum"]
            matrices: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}
            adam: list[torch.Tensor] = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if wd:
                    p.mul_(1 - lr * wd)
                if p.ndim < 2:
                    adam.append(p)
                    continue
                g = p.grad.reshape(len(p), -1)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(g)
                buf = state["momentum_buffer"]
                buf.lerp_(g, 1 - mom)
                u = g.lerp(buf, mom)  # Nesterov
                u = u.mT if u.shape[0] > u.shape[1] else u  # rows <= cols: (4704, 32) joins (32, 4704)
                matrices.setdefault((tuple(u.shape), u.device), []).append((p, u))
            for (shape, _), items in matrices.items():
                updates = orthogonalize(torch.stack([u for _, u in items]), group["ns_steps"])
                scale = -lr * RMS_MATCH * math.sqrt(shape[1])
                for (p, _), u in zip(items, updates):
                    u = u.mT if p.shape[0] > u.shape[0] else u
                    p.add_(u.reshape(p.shape).to(p.dtype), alpha=scale)
            if adam:
                self._adam(adam, group)
        return loss

    def _adam(self, params: list[torch.Tensor], group: dict) -> None:
        """Adam steps for ``params`` (one fused kernel where torch has one for their device and dtype)."""
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if "exp_avg" not in state:
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            elif state["step"].device != p.device:  # load_state_dict keeps a resumed step on the CPU
                state["step"] = state["step"].to(p.device)
        fused = all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in params)
        (b1, b2) = group["betas"]
        adam_step(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                  [], [s["step"] for s in states], fused=fused or None, foreach=None if fused else False,
                  amsgrad=False, beta1=b1, beta2=b2, lr=group["lr"], weight_decay=0.0, eps=group["eps"], maximize=False)
