"""One training loop for every aekit model.

The loop reads top to bottom: ``prepare`` builds its pieces once (the device, the validation split and side data,
the network ``wrap`` puts under DistributedDataParallel and torch.compile, the optimiser, the weight average, the
critic) and restores the checkpoint when resuming; then, for each epoch, ``Trainer.run_epoch`` draws a seeded
permutation, takes batches, calls ``model(x)`` for a dict of outputs and ``model.loss(x, out)`` for a dict of named
terms and steps, and ``Trainer.end_epoch`` logs, validates and checkpoints; ``Trainer.finish`` leaves the kept weights
(the best, or the average) in the model. Outputs beyond the run folder (a TensorBoard log) are ``Observer``s, told of
the start, each epoch's record and the end. It also runs unchanged under ``torchrun --nproc_per_node=N``: each process
takes its slice of every global batch and DistributedDataParallel averages the gradients; only rank 0 writes.

Resumable: ``checkpoint.safetensors`` (``aekit.training.state``: weights, optimiser, RNG, position, running sums) is written
atomically at every epoch end and every ``checkpoint_every`` steps, so a killed run resumed from it finishes with
the same weights as one that was never interrupted (on the same machine and device).

Augmentation (``TrainConfig.augment_*``, image data only): each batch is distorted (``aekit.training.augment``) before any
denoising noise, so the distorted clean image is both what the model sees under the noise and its target.

Side data: ``side={"name": tensor}`` (one row per sample) is sliced with every batch and passed as keyword arguments
to ``model(x, **side)`` and ``model.loss(...)``. A model whose config asks for the neighbour-preserving term
(``neighbor_weight`` > 0) gets the side tensor ``neighbor`` without asking: the k-nearest-neighbour graph of ``x`` is
built once per call (``aekit.training.neighbors``) and one neighbour per sample is drawn afresh at every epoch start
(seeded by the epoch, so a resumed run draws the same) and split like the data (``aekit.training.samples``).
Neighbours are found among all rows of ``x``, validation rows included. With ``landmark_weight`` > 0 it also gets
``landmark``: a UMAP layout of that graph, one target code per sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from aekit.errors import AekitError
from aekit.models import Autoencoder
from aekit.storage import load_tensors
from aekit.training.adversarial import Adversary
from aekit.training.augment import augment
from aekit.training.config import TrainConfig
from aekit.training.contract import Observer, RunWriter, TrainingDiverged, TrainResult
from aekit.training.devices import CompileErrors, Dist, check_memory, check_replicas_agree, setup, wrap
from aekit.training.ema import WeightAverage
from aekit.training.noise import corrupt
from aekit.training.recipe import current_lr, long_enough, make_optimizer
from aekit.training.samples import Rows, evaluate_loss, split_rows
from aekit.training.state import LoopState, RunningSums, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

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


def train(model: Autoencoder, x: torch.Tensor, cfg: TrainConfig, writer: RunWriter | None = None, *,
          resume: bool = False, progress: bool | None = True, side: dict[str, torch.Tensor] | None = None,
          on_epoch: Callable[[Autoencoder], dict | None] | None = None,
          observers: Sequence[Observer] = ()) -> TrainResult:
    """Train ``model`` on ``x`` (float32, model space, shape (N, *input_shape)); with ``writer``, save as it goes.

    The writer (``aekit.runs.writer.FolderWriter`` for a run folder) is told the run's start, every epoch's
    weights (the last epoch's, or the best by validation loss when early stopping) and history, and keeps the
    resumable checkpoint. Keyword options: ``resume`` (continue from the writer's checkpoint), ``progress`` (a tqdm
    bar: True, False, or None for one only where someone watches, ``interactive()``), ``side`` (per-sample side
    tensors, see above), ``on_epoch`` (called with the model at each epoch end; the dict it returns is added to that
    epoch's record; its time is left out of ``seconds``; it must leave the model's weights and mode as it found
    them), ``observers`` (``Observer``s, e.g. a TensorBoard log). Raises ``TrainingDiverged`` on a NaN/inf loss,
    leaving the last good files in place.
    """
    owns_group = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    try:
        with _flush_denormals():
            trainer = prepare(model, x, cfg, writer, resume=resume, progress=progress, side=side, observers=observers)
            while trainer.st.epoch < trainer.n_epochs and not (trainer.stopped_early or trainer.out_of_time):
                trainer.run_epoch()
                trainer.end_epoch(on_epoch)
            return trainer.finish()
    finally:
        if owns_group and dist.is_initialized():  # a process that exits with gloo threads alive aborts
            dist.destroy_process_group()


def prepare(model: Autoencoder, x: torch.Tensor, cfg: TrainConfig, writer: RunWriter | None = None, *,
            resume: bool = False, progress: bool | None = True,
            side: dict[str, torch.Tensor] | None = None, observers: Sequence[Observer] = ()) -> Trainer:
    """The loop's pieces, built in the order that fixes the random draws (the seed, the neighbour graph, the
    validation split, the model on its device, the optimiser, the critic's initialisation), then the writer's
    checkpoint restored (``resume``) or the writer told that a new run begins; then the ``observers`` are told."""
    d, device = setup(cfg.device)
    progress = interactive() if progress is None else progress
    torch.manual_seed(cfg.seed)
    rows = split_rows(model, x, cfg, side)
    cfg = long_enough(cfg, len(rows.x_train))
    check_memory(model, device)
    if cfg.augments() and rows.x_train.dim() != 4:
        raise AekitError(f"augmentation needs image data (N, C, H, W), got samples of shape {tuple(x.shape[1:])}")
    if device.type != "cpu" and rows.x_train.numel() * 4 < (2 << 30):  # small enough to stay on the device
        rows.x_train = rows.x_train.to(device)
    if cfg.precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise AekitError(f"precision='bf16' needs a CPU or CUDA device, got {device}")
    fmt = torch.channels_last if cfg.channels_last and rows.x_train.dim() == 4 else torch.contiguous_format
    model.to(device, memory_format=fmt).train()
    net, compiled = wrap(model, cfg, d, device)
    opt = make_optimizer(model, cfg)
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    adversary = None
    if cfg.adversarial > 0:
        adversary = Adversary(tuple(rows.x_train.shape[1:]), cfg, device, d.world, classes=model.critic_classes)
    trainer = Trainer(model, net, compiled, opt, average, adversary, cfg, d, device, rows, fmt, writer, progress,
                      tuple(observers))
    trainer.start(resume)
    return trainer


@dataclass(eq=False)
class Trainer:
    """The loop's pieces, built once by ``prepare``: ``run_epoch`` takes the steps of one epoch, ``end_epoch`` records
    and checkpoints it, ``finish`` puts the trained weights in the model. ``st`` and ``sums`` are what a checkpoint
    keeps besides the tensors."""

    model: Autoencoder
    net: torch.nn.Module  # what the steps call (``wrap``)
    compiled: CompileErrors  # the context each step runs in
    opt: torch.optim.Optimizer
    average: WeightAverage | None  # cfg.ema: the weight average that becomes the trained model
    adversary: Adversary | None  # cfg.adversarial: the critic
    cfg: TrainConfig
    d: Dist
    device: torch.device
    rows: Rows  # the training and validation rows and their side data
    fmt: torch.memory_format  # the batches' memory layout
    writer: RunWriter | None
    progress: bool  # show a tqdm bar (on rank 0)
    observers: tuple[Observer, ...] = ()  # told of the start, every epoch end and the end (on rank 0)
    st: LoopState = field(default_factory=LoopState)
    sums: RunningSums = field(default_factory=RunningSums)
    best_state: dict[str, torch.Tensor] | None = None  # the weights of the best validation loss (early stopping)
    term_names: list[str] | None = None  # the loss terms, in the order of the running sums
    stopped_early: bool = False
    out_of_time: bool = False  # ended by cfg.time_limit
    t0: float = 0.0  # when this call's training clock started, moved on by the time spent in on_epoch and observers
    samples_per_s: float = 0.0  # the training samples a second of the last ``run_epoch``'s steps
    per_epoch: int = field(init=False)  # steps of a whole epoch
    total: int = field(init=False)  # steps of the whole run
    n_epochs: int = field(init=False)  # epochs of the whole run, the last one perhaps partial

    def __post_init__(self) -> None:
        self.per_epoch = math.ceil(len(self.rows.x_train) / self.cfg.batch_size)
        self.total = math.ceil(self.cfg.epochs * self.per_epoch)
        self.n_epochs = math.ceil(self.total / self.per_epoch)

    @property
    def writes(self) -> bool:
        """Whether this process keeps the run's files (rank 0, given a writer)."""
        return self.writer is not None and self.d.main

    def start(self, resume: bool) -> None:
        """Continue from the writer's checkpoint (``resume``) or tell the writer a new run begins; start the clock."""
        if resume:
            if self.writer is None:
                raise AekitError("resume needs a run folder")
            self.st, self.sums = load_checkpoint(self.writer.checkpoint, self.model, self.opt, self.device,
                                                 self.adversary, self.average)
            if self.cfg.patience and self.writer.weights.exists():
                self.best_state, _ = load_tensors(self.writer.weights)
            if self.writes:
                self.writer.resumed(self.st.history)
            log.info("resuming at epoch %d, step %d", self.st.epoch + 1, self.st.step)
        elif self.writes:
            self.writer.begin(self.model, dataclasses.asdict(self.cfg))
        for o in self.observers if self.d.main else ():
            o.start(self.st.history)
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def untimed(self):
        """A block whose time is not training time (the clock moves on by it)."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.t0 += time.perf_counter() - t

    def elapsed(self) -> float:
        """Training seconds, this call's and those before it."""
        return self.st.elapsed + time.perf_counter() - self.t0

    def save(self, epoch: int, step: int) -> None:
        """Checkpoint the run as being at ``step`` of ``epoch`` (the running sums are folded in on every process)."""
        self.sums.flush()
        if self.writes:
            at = dataclasses.replace(self.st, epoch=epoch, step=step, elapsed=self.elapsed())
            save_checkpoint(self.writer.checkpoint, at, self.sums, self.model, self.opt, self.device, self.adversary,
                            self.average)

    def check_finite(self, where: str) -> float:
        """The mean loss so far in this epoch; ``TrainingDiverged`` when it is NaN or infinite."""
        mean = self.sums.mean_loss(self.d)
        if not math.isfinite(mean):
            raise self.diverged(f"loss became {mean} at {where}")
        return mean

    def diverged(self, what: str) -> TrainingDiverged:
        """The error for a NaN or infinite loss (``what`` says which, and where), naming the checkpoint kept."""
        kept = f"; the last good checkpoint {self.writer.checkpoint} is kept" if self.writer else ""
        return TrainingDiverged(f"{what}{kept} (try a lower `lr` or `grad_clip`)")

    def run_epoch(self) -> None:
        """The steps of epoch ``st.epoch`` from step ``st.step`` on, in its seeded sample order, with a mid-epoch
        checkpoint every ``cfg.checkpoint_every`` steps; the time limit ends the epoch (and the run) early."""
        cfg, st, epoch = self.cfg, self.st, self.st.epoch
        steps = min(self.per_epoch, self.total - epoch * self.per_epoch)
        perm = self.rows.start_epoch(cfg, epoch)
        bar = tqdm(total=steps, initial=st.step, desc=f"epoch {epoch + 1}/{self.n_epochs}", unit="step",
                   disable=not (self.progress and self.d.main), leave=False, mininterval=0.5, dynamic_ncols=True)
        t, samples = time.perf_counter(), 0
        for step in range(st.step, steps):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            samples += len(idx)
            if self.d.world > 1:
                idx = idx[self.d.rank :: self.d.world]  # this process's slice of the global batch
            self.take_step(idx, epoch)
            bar.update(1)
            if (step + 1) % 50 == 0:
                bar.set_postfix(loss=f"{self.check_finite(f'epoch {epoch + 1}, step {step + 1}'):.4f}", refresh=False)
            if cfg.checkpoint_every and st.global_step % cfg.checkpoint_every == 0 and step + 1 < steps:
                self.check_finite(f"epoch {epoch + 1}, step {step + 1}")
                self.save(epoch, step + 1)
            if cfg.time_limit and self.elapsed() >= cfg.time_limit:
                self.out_of_time = True  # this epoch's record covers the steps taken; training ends after it
                break
        bar.close()
        self.samples_per_s = samples / max(time.perf_counter() - t, 1e-9)

    def take_step(self, idx: torch.Tensor, epoch: int) -> None:
        """One optimiser step on the samples ``idx``: their batch (augmented), the learning rate, ``_step``, the
        weight average, the running sums."""
        cfg, st = self.cfg, self.st
        xb = self.rows.x_train[idx].to(self.device, non_blocking=True)
        xb = augment(xb, *cfg.augmentation()).contiguous(memory_format=self.fmt)  # xb itself when augmentation is off
        sb = {k: v[idx.to(v.device)].to(self.device, non_blocking=True) for k, v in self.rows.side_train.items()}
        lr = current_lr(cfg, st.global_step, self.total, self.elapsed())
        for g in self.opt.param_groups:
            g["lr"] = lr
        with self.compiled:
            terms = _step(self.model, self.net, self.opt, self.adversary, xb, cfg, st.global_step / self.total, epoch,
                          sb)
        if self.average is not None:
            self.average.update()
        self.term_names = self.term_names or list(terms)
        st.global_step += 1
        self.sums.add(torch.stack([terms[k].detach() for k in self.term_names]), len(idx))

    def end_epoch(self, on_epoch: Callable[[Autoencoder], dict | None] | None = None) -> None:
        """Close epoch ``st.epoch``: refuse a NaN; record its mean terms, learning rate and validation loss (which may
        stop the run early) with the weights in use (the average, with cfg.ema) and ``on_epoch``'s figures; hand the
        kept weights and the history to the writer and the record to the observers; checkpoint."""
        st, epoch = self.st, self.st.epoch
        self.check_finite(f"the end of epoch {epoch + 1}")
        record = {"epoch": epoch + 1, "step": st.global_step, "epochs_done": round(st.global_step / self.per_epoch, 4)}
        record.update({f"train_{k}": float(v) for k, v in zip(self.term_names or [], self.sums.means(self.d))})
        record["lr"] = self.opt.param_groups[0]["lr"]
        record["samples_per_s"] = round(self.samples_per_s, 1)
        with self.average.applied() if self.average is not None else contextlib.nullcontext():  # the weights in use
            self.validate(record)
            record["seconds"] = round(self.elapsed(), 3)
            if on_epoch is not None and self.d.main:  # e.g. a benchmark's test metric, logged with the epoch
                with self.untimed():
                    record.update(on_epoch(self.model) or {})
            st.history.append(record)
            log.info("epoch %d: %s", epoch + 1,
                     {k: round(v, 5) for k, v in record.items() if k.startswith(("train", "val"))})
            st.epoch, st.step = epoch + 1, 0
            self.sums.reset()
            if self.writes:
                keep_best = self.cfg.patience and self.best_state is not None
                self.writer.epoch_end(self.best_state if keep_best else self.model.state_dict(), st.history)
            with self.untimed():
                for o in self.observers if self.d.main else ():
                    o.epoch_end(self.model, record)
        self.save(self.n_epochs if self.stopped_early or self.out_of_time else st.epoch, 0)

    def validate(self, record: dict) -> None:
        """Add the validation loss to ``record`` (when there is a validation split); keep the weights of the best, and
        stop the run after ``cfg.patience`` epochs without improvement."""
        if self.rows.x_val is None:
            return
        cfg, st = self.cfg, self.st
        val = evaluate_loss(self.model, self.rows.x_val, self.device, noise=cfg.noise, strength=cfg.noise_range(),
                            seed=cfg.seed, side=self.rows.side_val)
        if not math.isfinite(val["loss"]):  # finite training steps, but a model that gives NaN on held-out data
            raise self.diverged(f"validation loss became {val['loss']} at the end of epoch {st.epoch + 1}")
        record.update({f"val_{k}": v for k, v in val.items()})
        if val["loss"] < st.best_val:
            st.best_val, st.bad_epochs = val["loss"], 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            st.bad_epochs += 1
            self.stopped_early = bool(cfg.patience) and st.bad_epochs >= cfg.patience

    def finish(self) -> TrainResult:
        """Put the kept weights in the model (the best by validation loss when early stopping, else the average with
        cfg.ema), in eval mode; under torchrun, check the processes agree; tell the observers; under torchrun, wait
        for rank 0's files."""
        if self.cfg.patience and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        elif self.average is not None:
            self.model.load_state_dict(self.average.state_dict())
        self.model.to(memory_format=torch.contiguous_format).eval()
        if self.d.world > 1:
            check_replicas_agree(self.model, self.d)
        with self.untimed():
            for o in self.observers if self.d.main else ():
                o.finish(self.model)
        if self.d.world > 1:
            dist.barrier()  # rank 0 has finished writing before any process leaves
        st = self.st
        return TrainResult(st.history, time.perf_counter() - self.t0, st.global_step, self.stopped_early,
                           self.out_of_time)


def _step(model: Autoencoder, net: torch.nn.Module, opt: torch.optim.Optimizer, adversary: Adversary | None,
          xb: torch.Tensor, cfg: TrainConfig, progress: float, epoch: int,
          side: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One optimisation step: corrupt (denoising), forward, loss, an optional critic step and GAN term, update."""
    side = side or {}
    x_in = corrupt(xb, cfg.noise, cfg.noise_range())
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
