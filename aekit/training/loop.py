"""One training loop for every aekit model.

The loop reads top to bottom: build the optimiser, then for each epoch draw a seeded permutation, take batches, call
``model(x)`` for a dict of outputs and ``model.loss(x, out)`` for a dict of named terms, step, and log. It also runs
unchanged under ``torchrun --nproc_per_node=N``: each process takes its slice of every global batch and
DistributedDataParallel averages the gradients; only rank 0 writes.

Resumable: ``checkpoint.safetensors`` (``aekit.training.state``: weights, optimiser, RNG, position, running sums) is written
atomically at every epoch end and every ``checkpoint_every`` steps, so a killed run resumed from it finishes with
the same weights as one that was never interrupted (on the same machine and device).

Augmentation (``TrainConfig.augment_*``, image data only): each batch is distorted (``aekit.training.augment``) before any
denoising noise, so the distorted clean image is both what the model sees under the noise and its target.

Side data: ``side={"name": tensor}`` (one row per sample) is sliced with every batch and passed as keyword arguments
to ``model(x, **side)`` and ``model.loss(...)``. A model whose config asks for the neighbour-preserving term
(``neighbor_weight`` > 0) gets the side tensor ``neighbor`` without asking: the k-nearest-neighbour graph of ``x`` is
built once per call (``aekit.training.neighbors``) and one neighbour per sample is drawn afresh at every epoch start (seeded by the
epoch, so a resumed run draws the same). Neighbours are found among all rows of ``x``, validation rows included. With
``landmark_weight`` > 0 it also gets ``landmark``: a UMAP layout of that graph, one target code per sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from aekit.errors import AekitError
from aekit.models import Autoencoder
from aekit.storage import load_tensors
from aekit.training.adversarial import Adversary
from aekit.training.augment import augment
from aekit.training.config import TrainConfig
from aekit.training.devices import check_replicas_agree, setup
from aekit.training.ema import WeightAverage
from aekit.training.neighbors import neighbor_sampler
from aekit.training.noise import corrupt
from aekit.training.recipe import learning_rate, make_optimizer
from aekit.training.state import LoopState, RunningSums, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

TIME_STEPS = 1_000_000  # with a time limit, the schedule is evaluated at this resolution of elapsed time


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)  # one record per epoch, as in metrics.jsonl
    seconds: float = 0.0  # wall time of the loop in this call (a resumed run counts only its own part)
    steps: int = 0  # optimiser steps taken in total
    stopped_early: bool = False
    out_of_time: bool = False  # ended by TrainConfig.time_limit


class RunWriter(Protocol):
    """Where training keeps its files (``aekit.runs.writer.FolderWriter``: a run folder); only rank 0 writes."""

    checkpoint: Path  # the resumable state (``aekit.training.state``)
    weights: Path  # the trained weights, rewritten at every epoch end

    def begin(self, model: Autoencoder, train: dict) -> None: ...  # a new run: its model and recipe

    def resumed(self, history: list[dict]) -> None: ...  # a run continues from its checkpoint with this history

    def epoch_end(self, weights: dict[str, torch.Tensor], history: list[dict]) -> None: ...


class TrainingDiverged(AekitError):
    """The loss became NaN or infinite."""


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


def split_validation(x: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A seeded train/validation split of the rows of ``x``."""
    if fraction <= 0:
        return x, None
    n_val = max(1, int(round(len(x) * fraction)))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[perm[n_val:]], x[perm[:n_val]]


def check_side(side: dict[str, torch.Tensor] | None, n: int, balance: str) -> dict[str, torch.Tensor]:
    """Validate per-sample side tensors (one row per training sample, e.g. a domain id for every image)."""
    side = dict(side or {})
    for k, v in side.items():
        if not isinstance(v, torch.Tensor) or len(v) != n:
            raise AekitError(f"side data {k!r} must be a tensor with one row per sample ({n})")
    if balance and (balance not in side or side[balance].dtype not in (torch.int64, torch.int32)):
        raise AekitError(f"balance={balance!r} needs an integer side tensor of that name")
    return side


def epoch_order(n: int, seed: int, epoch: int, groups: torch.Tensor | None = None) -> torch.Tensor:
    """The sample order of one epoch: a seeded permutation of ``range(n)``; with ``groups`` (one integer per sample),
    ``n`` indices that cycle through the groups (g0, g1, ..., g0, g1, ...), each group's samples in a fresh random
    order and repeated as often as it needs, so every batch holds every group equally however unequal their sizes."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    if groups is None:
        return torch.randperm(n, generator=gen)
    values = torch.unique(groups)
    per = math.ceil(n / len(values))
    streams = []
    for v in values.tolist():
        members = torch.nonzero(groups == v).flatten()
        reps = math.ceil(per / len(members))
        order = torch.cat([members[torch.randperm(len(members), generator=gen)] for _ in range(reps)])
        streams.append(order[:per])
    return torch.stack(streams, 1).flatten()[:n]  # (per, G) row-major: one of each group in turn


@torch.no_grad()
def evaluate_loss(model: Autoencoder, x: torch.Tensor, device: torch.device, batch_size: int = 1024,
                  noise: str = "none", strength: float = 0.0, seed: int = 0,
                  side: dict[str, torch.Tensor] | None = None) -> dict:
    """Mean of each loss term over ``x`` in eval mode (inputs corrupted with a fixed seed for denoising runs)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    gen = torch.Generator(device=device).manual_seed(seed)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        sb = {k: v[i : i + batch_size].to(device) for k, v in (side or {}).items()}
        x_in = corrupt(xb, noise, strength, gen)
        for k, v in model.loss(x_in, model(x_in, **sb), target=xb, **sb).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


@contextlib.contextmanager
def _flush_denormals():
    """Flush denormal floats to zero on the CPU while training (as TensorFlow does): tiny gradients of always-black
    pixels otherwise hit the CPU's slow path; the setting is turned off again afterwards."""
    on = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            torch.set_flush_denormal(False)


def interactive() -> bool:
    """Whether progress output has a watcher: stderr is a terminal, or this runs in a Jupyter kernel (where tqdm.auto
    draws a widget). Piped or logged output gets no bar, which would fill a log with carriage-return updates."""
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr is not None and sys.stderr.isatty()


def train(model: Autoencoder, x: torch.Tensor, cfg: TrainConfig, writer: RunWriter | None = None, **kwargs):
    """Train ``model`` on ``x`` (float32, model space, shape (N, *input_shape)); with ``writer``, save as it goes.

    The writer (``aekit.runs.writer.FolderWriter`` for a run folder) is told the run's start, every epoch's
    weights (the last epoch's, or the best by validation loss when early stopping) and history, and keeps the
    resumable checkpoint. Keyword options: ``resume`` (continue from the writer's checkpoint), ``progress`` (a tqdm
    bar: True, False, or None for one only where someone watches, ``interactive()``),
    ``on_epoch`` (called with the model at each epoch end; the dict it returns is added to that epoch's record; its
    time is left out of ``seconds``; it must leave the model's weights and mode as it found them). Raises
    ``TrainingDiverged`` on a NaN/inf loss, leaving the last good files in place.
    """
    owns_group = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    try:
        with _flush_denormals():
            return _train(model, x, cfg, writer, **kwargs)
    finally:
        if owns_group and dist.is_initialized():  # a process that exits with gloo threads alive aborts
            dist.destroy_process_group()


def _train(
    model: Autoencoder,
    x: torch.Tensor,
    cfg: TrainConfig,
    writer: RunWriter | None = None,
    *,
    resume: bool = False,
    progress: bool | None = True,
    side: dict[str, torch.Tensor] | None = None,
    on_epoch=None,
) -> TrainResult:
    """The loop behind ``train``."""
    d, device = setup(cfg.device)
    progress = interactive() if progress is None else progress
    writes = writer is not None and d.main
    torch.manual_seed(cfg.seed)
    side = check_side(side, len(x), cfg.balance)
    resample = None if {"neighbor", "landmark"} & set(side) else neighbor_sampler(model, x, cfg.seed)
    x_train, x_val = split_validation(x, cfg.val_fraction, cfg.seed)
    side_split = {k: split_validation(v, cfg.val_fraction, cfg.seed) for k, v in side.items()}  # the same rows
    side_train = {k: t for k, (t, _) in side_split.items()}
    side_val = {k: v for k, (_, v) in side_split.items()}
    if len(x_train) == 0:
        raise AekitError("no training data")
    check_memory(model, device)
    if cfg.augments() and x_train.dim() != 4:
        raise AekitError(f"augmentation needs image data (N, C, H, W), got samples of shape {tuple(x.shape[1:])}")
    on_device = device.type != "cpu" and x_train.numel() * 4 < (2 << 30)
    x_train = x_train.to(device) if on_device else x_train
    if cfg.precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise AekitError(f"precision='bf16' needs a CPU or CUDA device, got {device}")
    fmt = torch.channels_last if cfg.channels_last and x_train.dim() == 4 else torch.contiguous_format
    model.to(device, memory_format=fmt).train()
    net = model
    if d.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    compile_errors: tuple[type[BaseException], ...] = ()
    if cfg.compile:  # the forward pass only: the loss takes the training progress, a float that changes every step
        from torch._dynamo.exc import TorchDynamoException
        from torch._inductor.exc import InductorError

        net, compile_errors = torch.compile(net), (TorchDynamoException, InductorError)
    opt = make_optimizer(model, cfg)
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    adversary = None
    if cfg.adversarial > 0:
        adversary = Adversary(tuple(x_train.shape[1:]), cfg, device, d.world, classes=model.critic_classes)

    n = len(x_train)
    per_epoch = math.ceil(n / cfg.batch_size)
    total = math.ceil(cfg.epochs * per_epoch)
    n_epochs = math.ceil(total / per_epoch)
    st, sums, best_state = LoopState(), RunningSums(), None
    if resume:
        if writer is None:
            raise AekitError("resume needs a run folder")
        st, sums = load_checkpoint(writer.checkpoint, model, opt, device, adversary, average)
        if cfg.patience and writer.weights.exists():
            best_state, _ = load_tensors(writer.weights)
        if writes:
            writer.resumed(st.history)
        log.info("resuming at epoch %d, step %d", st.epoch + 1, st.step)
    elif writes:
        writer.begin(model, dataclasses.asdict(cfg))

    t0 = time.perf_counter()

    def elapsed() -> float:  # training seconds, this call's and those before it
        return st.elapsed + time.perf_counter() - t0

    def save(epoch: int, step: int) -> None:
        sums.flush()
        if writes:
            at = dataclasses.replace(st, epoch=epoch, step=step, elapsed=elapsed())
            save_checkpoint(writer.checkpoint, at, sums, model, opt, device, adversary, average)

    def check_finite(where: str) -> float:
        mean = sums.mean_loss(d)
        if not math.isfinite(mean):
            kept = f"; the last good checkpoint {writer.checkpoint} is kept" if writer else ""
            raise TrainingDiverged(f"loss became {mean} at {where}{kept} (try a lower `lr` or `grad_clip`)")
        return mean

    stopped_early = out_of_time = False
    term_names: list[str] | None = None
    while st.epoch < n_epochs and not (stopped_early or out_of_time):
        epoch = st.epoch
        steps = min(per_epoch, total - epoch * per_epoch)
        if resample is not None:  # this epoch's draw of per-sample side data (the same rows split off as above)
            for name, v in check_side(resample(epoch), len(x), "").items():
                side_train[name], side_val[name] = split_validation(v, cfg.val_fraction, cfg.seed)
        perm = epoch_order(n, cfg.seed, epoch, side_train[cfg.balance] if cfg.balance else None)
        perm = perm.to(x_train.device)  # one copy per epoch, not one per step
        bar = tqdm(total=steps, initial=st.step, desc=f"epoch {epoch + 1}/{n_epochs}", unit="step",
                   disable=not (progress and d.main), leave=False, mininterval=0.5, dynamic_ncols=True)
        for step in range(st.step, steps):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            if d.world > 1:
                idx = idx[d.rank :: d.world]
            xb = x_train[idx].to(device, non_blocking=True)
            xb = augment(xb, *cfg.augmentation()).contiguous(memory_format=fmt)  # xb itself when augmentation is off
            sb = {k: v[idx.to(v.device)].to(device, non_blocking=True) for k, v in side_train.items()}
            lr = learning_rate(cfg, st.global_step, total) if not cfg.time_limit else \
                learning_rate(cfg, int(elapsed() / cfg.time_limit * TIME_STEPS), TIME_STEPS)
            for g in opt.param_groups:
                g["lr"] = lr
            try:
                terms = _step(model, net, opt, adversary, xb, cfg, st.global_step / total, epoch, sb)
            except compile_errors as e:  # e.g. no C++ compiler for Inductor's CPU kernels
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise AekitError(f"torch.compile failed: {first} (train without compile)") from e
            if average is not None:
                average.update()
            term_names = term_names or list(terms)
            st.global_step += 1
            sums.add(torch.stack([terms[k].detach() for k in term_names]), len(idx))
            bar.update(1)
            if (step + 1) % 50 == 0:
                bar.set_postfix(loss=f"{check_finite(f'epoch {epoch + 1}, step {step + 1}'):.4f}", refresh=False)
            if cfg.checkpoint_every and st.global_step % cfg.checkpoint_every == 0 and step + 1 < steps:
                check_finite(f"epoch {epoch + 1}, step {step + 1}")
                save(epoch, step + 1)
            if cfg.time_limit and elapsed() >= cfg.time_limit:
                out_of_time = True  # this epoch's record covers the steps taken; training ends after it
                break
        bar.close()

        check_finite(f"the end of epoch {epoch + 1}")
        record = {"epoch": epoch + 1, "step": st.global_step, "epochs_done": round(st.global_step / per_epoch, 4)}
        record.update({f"train_{k}": float(v) for k, v in zip(term_names or [], sums.means(d))})
        record["lr"] = opt.param_groups[0]["lr"]
        with average.applied() if average is not None else contextlib.nullcontext():  # the weights in use
            if x_val is not None:
                val = evaluate_loss(model, x_val, device, noise=cfg.noise, strength=cfg.noise_strength, seed=cfg.seed,
                                    side=side_val)
                record.update({f"val_{k}": v for k, v in val.items()})
                if val["loss"] < st.best_val:
                    st.best_val, st.bad_epochs = val["loss"], 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    st.bad_epochs += 1
                    stopped_early = bool(cfg.patience) and st.bad_epochs >= cfg.patience
            record["seconds"] = round(elapsed(), 3)
            if on_epoch is not None and d.main:  # e.g. a benchmark's test metric, logged with the epoch
                t_cb = time.perf_counter()
                record.update(on_epoch(model) or {})
                t0 += time.perf_counter() - t_cb  # its time is not training time
            st.history.append(record)
            log.info("epoch %d: %s", epoch + 1,
                     {k: round(v, 5) for k, v in record.items() if k.startswith(("train", "val"))})
            st.epoch, st.step = epoch + 1, 0
            sums.reset()
            if writes:
                weights = best_state if (cfg.patience and best_state is not None) else model.state_dict()
                writer.epoch_end(weights, st.history)
        save(n_epochs if stopped_early or out_of_time else st.epoch, 0)

    if cfg.patience and best_state is not None:
        model.load_state_dict(best_state)
    elif average is not None:
        model.load_state_dict(average.state_dict())
    model.to(memory_format=torch.contiguous_format)
    if d.world > 1:
        check_replicas_agree(model, d)
        dist.barrier()  # rank 0 has finished writing before any process leaves
    model.eval()
    return TrainResult(st.history, time.perf_counter() - t0, st.global_step, stopped_early, out_of_time)


def _step(model: Autoencoder, net: torch.nn.Module, opt: torch.optim.Optimizer, adversary: Adversary | None,
          xb: torch.Tensor, cfg: TrainConfig, progress: float, epoch: int,
          side: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One optimisation step: corrupt (denoising), forward, loss, an optional critic step and GAN term, update."""
    side = side or {}
    x_in = corrupt(xb, cfg.noise, cfg.noise_strength)
    with torch.autocast(xb.device.type, torch.bfloat16, enabled=cfg.precision == "bf16"):
        out = net(x_in, **side)
    out = {k: v.float() if v.is_floating_point() else v for k, v in out.items()}  # the loss in fp32
    terms = model.loss(x_in, out, target=xb, progress=progress, **side)
    if adversary is not None:  # the terms are always present, zero before adv_start, so every step logs the same
        on = adversary.active(epoch)
        zero = terms["loss"].detach().new_zeros(())
        pair = model.critic_pairs(xb, out, **side) if on else None  # real targets vs decoder outputs (and swaps)
        terms["critic"] = adversary.critic_step(pair["real"], pair["fake"], pair["real_cond"],
                                                pair["fake_cond"]) if on else zero
        adv = adversary.generator_term(pair["fake"], pair["fake_cond"]) if on else zero
        terms["adv"] = adv.detach()
        terms["loss"] = terms["loss"] + cfg.adversarial * adv
    opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return terms
