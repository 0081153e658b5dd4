"""The training loop's resumable state: its counters, its running loss sums, and the checkpoint that holds them.

``checkpoint.safetensors`` keeps as tensors the model (``model.``), its optimiser (``optim.``), the RNG states
(``rng.``), the running loss sums (``sums``) and, when the run has them, the critic (``disc.``, ``optim_d.``) and the
weight average (``ema.``); the counters, the epoch history and the optimisers' hyper-parameters are its JSON
metadata. Nothing is unpickled on the way back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aekit import storage
from aekit.errors import AekitError
from aekit.training.devices import all_sum


@dataclass
class LoopState:
    """Where the loop is: enough, with the tensors, to continue a killed run to the same weights."""

    epoch: int = 0  # the 0-based epoch in progress
    step: int = 0  # the next step inside that epoch
    global_step: int = 0  # optimiser steps taken in total
    best_val: float = math.inf  # the best validation loss so far (early stopping)
    bad_epochs: int = 0  # epochs since it last improved
    history: list[dict] = field(default_factory=list)  # one record per finished epoch
    elapsed: float = 0.0  # training seconds spent before this call


class RunningSums:
    """Each step's loss terms, summed weighted by batch size. Steps are queued on the device and folded in only at
    check points, so the loop never waits for the device to report a loss."""

    def __init__(self, sums: torch.Tensor | None = None):
        self.sums = sums if sums is not None else torch.zeros(0)  # (terms..., samples) in float64
        self.pending: list[tuple[torch.Tensor, int]] = []

    def add(self, values: torch.Tensor, n: int) -> None:
        """Queue one step's terms (a 1-D tensor) over a batch of ``n`` samples."""
        self.pending.append((values, n))

    def flush(self) -> torch.Tensor:
        """Fold the queued steps in; returns the sums."""
        if self.pending:
            vals = torch.stack([v for v, _ in self.pending]).double()
            sizes = torch.tensor([b for _, b in self.pending], dtype=torch.float64, device=vals.device)
            if self.sums.numel() != vals.shape[1] + 1:
                self.sums = torch.zeros(vals.shape[1] + 1, dtype=torch.float64, device=vals.device)
            self.sums[:-1] += (vals * sizes[:, None]).sum(0)
            self.sums[-1] += sizes.sum()
            self.pending.clear()
        return self.sums

    def means(self, dist_info) -> torch.Tensor:
        """Each term's mean over every sample so far, summed over all processes."""
        totals = all_sum(self.flush(), dist_info)
        return totals[:-1] / totals[-1]

    def mean_loss(self, dist_info) -> float:
        """The first term's (the loss's) mean over every sample so far, over all processes."""
        sums = self.flush()
        return float(all_sum(sums[:1], dist_info)) / max(1.0, float(all_sum(sums[-1:], dist_info)))

    def reset(self) -> None:
        self.flush()
        self.sums = torch.zeros_like(self.sums)


def _rng_tensors(device: torch.device) -> dict[str, torch.Tensor]:
    out = {"rng.cpu": torch.get_rng_state()}
    if device.type == "cuda":
        out["rng.cuda"] = torch.cuda.get_rng_state(device)
    return out


def _restore_rng(tensors: dict, device: torch.device) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    if device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)


def save_checkpoint(path: Path, state: LoopState, sums: RunningSums, model: torch.nn.Module,
                    opt: torch.optim.Optimizer, device: torch.device, adversary=None, average=None) -> None:
    """Atomically write the loop's state, the model, its optimiser, the RNG and the optional critic and average."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    otensors, ometa = storage.optimizer_to_tensors(opt)
    tensors.update(otensors)
    tensors.update(_rng_tensors(device))
    tensors["sums"] = sums.flush()
    meta = {"epoch": state.epoch, "step": state.step, "global_step": state.global_step, "best_val": state.best_val,
            "bad_epochs": state.bad_epochs, "history": state.history, "elapsed": state.elapsed, "optim": ometa}
    if adversary is not None:
        atensors, meta["optim_d"] = adversary.state()
        tensors.update(atensors)
    if average is not None:
        tensors.update(average.to_tensors())
    storage.save_tensors(path, tensors, meta)


def load_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, device: torch.device,
                    adversary=None, average=None) -> tuple[LoopState, RunningSums]:
    """Restore what ``save_checkpoint`` wrote into ``model``, ``opt``, the RNG and the optional critic and average;
    returns the loop's state and its running sums."""
    tensors, meta = storage.load_tensors(path)
    if meta is None or "epoch" not in meta:
        raise AekitError(f"{path} is not an aekit training checkpoint")
    storage.load_state_dict_checked(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    storage.optimizer_from_tensors(opt, tensors, meta["optim"])
    if adversary is not None:
        if "optim_d" not in meta:
            raise AekitError(f"{path} has no critic: resume with the run's own adversarial setting")
        adversary.load(tensors, meta["optim_d"], path)
    if average is not None:
        if not any(k.startswith("ema.") for k in tensors):
            raise AekitError(f"{path} has no weight average: resume with the run's own ema")
        average.load(tensors)
    _restore_rng(tensors, device)
    state = LoopState(meta["epoch"], meta["step"], meta["global_step"], meta["best_val"], meta["bad_epochs"],
                      meta["history"], meta["elapsed"])
    return state, RunningSums(tensors["sums"].to(device))
