"""The runs a server answers for, opened once, and the one lock every model call takes.

Requests are answered on a pool of threads; the models are not. Each model call holds ``Served.lock``, so that calls
never run at once, and torch's own threads are capped at start-up (``limit_threads``): a burst of requests queues
instead of multiplying threads and memory. Whatever the server computes from a run and keeps (a latent map) stays in
memory: nothing is written into a run folder.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import torch

from aekit.data.dataset import TABLE
from aekit.runs.run import Run, as_run
from aekit.serve.images import ServeError

MAX_THREADS = 4


def limit_threads(threads: int | None = None) -> int:
    """Cap torch's intra-op threads (default: the CPU count, at most ``MAX_THREADS``); returns the cap."""
    n = threads or min(MAX_THREADS, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def _unique_names(runs: list[Run]) -> list[str]:
    """Each run's folder name, with -2, -3, ... after a name already taken."""
    names: list[str] = []
    for run in runs:
        name, i = run.path.name, 2
        while name in names:
            name, i = f"{run.path.name}-{i}", i + 1
        names.append(name)
    return names


class Served:
    """The served runs by name, their models loaded, and the lock that serialises model calls."""

    def __init__(self, runs: list[Run | str | Path]):
        opened = [as_run(r) for r in runs]
        for run in opened:
            run.model  # noqa: B018 (loaded now: a damaged run is an error at start-up, not at the first request)
        self.runs = dict(zip(_unique_names(opened), opened))
        self.lock = threading.Lock()
        self.cache: dict[tuple, object] = {}

    def run(self, name: str) -> Run:
        """The run served as ``name``; a 404 when there is none."""
        if name not in self.runs:
            raise ServeError(404, f"no run named {name!r} is served here")
        return self.runs[name]

    def describe(self) -> list[dict]:
        """What the pages need to know of each run."""
        return [describe(name, run) for name, run in self.runs.items()]

    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` holding the model lock, without autograd."""
        with self.lock, torch.no_grad():
            return fn(*args, **kwargs)

    def cached(self, key: tuple, make):
        """``make()`` computed once per ``key`` (under the model lock) and kept in memory."""
        with self.lock, torch.no_grad():
            if key not in self.cache:
                self.cache[key] = make()
            return self.cache[key]


def describe(name: str, run: Run) -> dict:
    """A run as the pages see it."""
    model, train = run.model, run.config.train
    noise = train.get("noise", "none")
    return {"name": name, "model": run.name, "input_shape": list(model.config.input_shape),
            "code_size": getattr(model.config, "code_size", None), "table": run.normalizer.kind == TABLE,
            "domains": list(run.domains), "generative": hasattr(model, "sample"),
            "compress": hasattr(model, "levels"), "denoiser": noise != "none", "noise": noise,
            "noise_strength": max(train.get("noise_strength", 0.0), train.get("noise_max", 0.0)) if noise != "none"
            else None}
