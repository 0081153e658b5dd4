"""Running a model over a whole array: the one batched-inference loop the metrics, runs and apps share."""

from __future__ import annotations

from collections.abc import Callable

import torch


@torch.no_grad()
def in_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 1024,
               device: torch.device | str | None = None) -> torch.Tensor:
    """``fn`` of ``x`` (N, ...) computed ``batch_size`` rows at a time (each batch moved to ``device`` when given),
    without gradients; the results concatenated on the CPU (empty like ``x`` when ``x`` is empty)."""
    outs = [fn(x[i : i + batch_size] if device is None else x[i : i + batch_size].to(device)).cpu()
            for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty_like(x)
