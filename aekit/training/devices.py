"""Where training runs: one device (cuda, mps or cpu), or several processes under ``torchrun``; whether a model
fits in its memory; and the one place a model is wrapped for training (DistributedDataParallel, torch.compile)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from aekit.errors import AekitError
from aekit.training.config import TrainConfig


def pick_device(name: str = "auto") -> torch.device:
    """The requested device, or the best available one for "auto" (cuda, then mps, then cpu)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise AekitError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise AekitError(f"device {name!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AekitError("`device` cuda asked for, but PyTorch sees no CUDA GPU")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise AekitError(f"device {name}: PyTorch sees only {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise AekitError("`device` mps asked for, but this PyTorch has no MPS support here")
    return dev


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device_name: str) -> tuple[Dist, torch.device]:
    """Join the process group torchrun describes (if any) and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), pick_device(device_name)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    device = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size()), device


def all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op in a single process)."""
    if d.world > 1:
        t = t.clone()
        dist.all_reduce(t)
    return t


def check_replicas_agree(model: torch.nn.Module, d: Dist) -> None:
    """Under torchrun, confirm every process ended with the same weights (one model, not N)."""
    with torch.no_grad():
        mine = torch.stack([p.double().sum() for p in model.parameters()]).cpu()
        dev = next(model.parameters()).device
        gathered = [torch.zeros_like(mine).to(dev) for _ in range(d.world)]
        dist.all_gather(gathered, mine.to(dev))
    if any(not torch.equal(g.cpu(), gathered[0].cpu()) for g in gathered):
        raise AekitError("distributed replicas diverged: processes hold different weights")


def check_memory(model: torch.nn.Module, device: torch.device) -> None:
    """Refuse a model whose weights, gradients and two optimiser moments (4 copies) would not fit in the device's
    memory, with one line, instead of being killed part way (the model itself is already allocated)."""
    need = 4 * sum(p.numel() * p.element_size() for p in model.parameters())
    if device.type == "cuda":
        have = torch.cuda.mem_get_info(device)[1]
    elif device.type == "cpu" and hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    else:
        return
    if need > have:
        raise AekitError(f"training this model ({sum(p.numel() for p in model.parameters()):,} weights) needs about "
                         f"{need / 2**30:.1f} GiB for weights, gradients and optimiser state; the {device.type} "
                         f"has {have / 2**30:.1f} GiB")


def wrap(model: torch.nn.Module, cfg: TrainConfig, d: Dist,
         device: torch.device) -> tuple[torch.nn.Module, CompileErrors]:
    """What the steps call: ``model`` under DistributedDataParallel when several processes train (it averages their
    gradients), compiled with ``cfg.compile``; and the context each step runs in, which turns a failed compilation
    into one line. Only the forward pass is compiled: the loss takes the training progress, a float that changes
    every step."""
    net = model
    if d.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if not cfg.compile:
        return net, CompileErrors(())
    from torch._dynamo.exc import TorchDynamoException
    from torch._inductor.exc import InductorError

    return torch.compile(net), CompileErrors((TorchDynamoException, InductorError))


class CompileErrors:
    """A context for each step: an error of torch.compile (e.g. no C++ compiler for Inductor's CPU kernels, found at
    the first forward or backward pass) leaves it as one ``AekitError`` line."""

    def __init__(self, kinds: tuple[type[BaseException], ...]):
        self.kinds = kinds  # empty when nothing is compiled

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> None:
        if kind is not None and issubclass(kind, self.kinds):
            first = str(error).strip().splitlines()[0] if str(error).strip() else kind.__name__
            raise AekitError(f"torch.compile failed: {first} (train without compile)") from error
