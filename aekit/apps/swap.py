"""``aekit swap-train`` and ``aekit swap``: train a swap run on two or more image domains, render images of one
domain as another, and draw the figure (originals, own-domain reconstructions, swaps). Every synthetic file is marked.

A swap run is an ordinary run folder whose ``config.json`` ``data`` entry also lists its domains (name, source); its
``source`` is the first domain's, so eval, reconstruct and generate treat a swap run as a model of its first domain.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from aekit.apps.inputs import expand_inputs, read_model_image
from aekit.data import Dataset
from aekit.data.npyfile import read_npy
from aekit.errors import AekitError
from aekit.fileio import claim_outputs, make_folder, refuse_existing
from aekit.metrics.reconstruction import check_finite
from aekit.runs import files as ckpt
from aekit.runs.datasets import load_domains  # noqa: F401 (part of the swap API)
from aekit.runs.presets import SWAP_TRAIN
from aekit.runs.provenance import companions, make_mark, save_array, save_png
from aekit.runs.run import Run, as_run
from aekit.runs.train import create_run

log = logging.getLogger(__name__)



def _source(text: str) -> str:
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text


def train_swap(domains: dict[str, str], out: str | Path, model_options: dict | None = None,
               train_options: dict | None = None, image_size=None, test_fraction: float = 0.1,
               force: bool = False, progress: bool | None = None) -> Run:
    """Train a swap model (shared encoder, one decoder per domain) on the named domains into run folder ``out``:
    the same run lifecycle as every model (``aekit.runs.train.create_run``), with every batch balanced between the
    domains."""
    if len(domains) < 2:
        raise AekitError("a swap run needs at least two domains")
    sources = {name: _source(src) for name, src in domains.items()}
    options = {k: v for k, v in (model_options or {}).items() if v is not None}
    train = {**SWAP_TRAIN, **{k: v for k, v in (train_options or {}).items() if v is not None}, "balance": "domain"}
    settings = {"source": next(iter(sources.values())), "image_size": tuple(image_size) if image_size else None,
                "test_fraction": test_fraction, "model": "swap", "config": options, "train": train,
                "domains": sources}
    return create_run(settings, out, force=force, progress=progress)


@torch.no_grad()
def decode_all(model, x: torch.Tensor, to, batch_size: int = 512) -> torch.Tensor:
    """Model-space images decoded by domain ``to`` (a name, an index, or per-sample ids (N,)) in batches on the
    model's device; the result on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        target = to[i : i + batch_size].to(device) if isinstance(to, torch.Tensor) else to
        out.append(model.decode(model.encode(x[i : i + batch_size].to(device)), target).cpu())
    return torch.cat(out) if out else torch.empty_like(x)


def swap_run(run: Run | str | Path) -> Run:
    """``run`` opened, refused with one line unless it is a swap run."""
    run = as_run(run)
    if not run.domains:
        raise AekitError(f"{run.path} is a {run.name} run, not a swap run (train one with aekit swap-train)")
    return run


def swap_images(run: Run | str | Path, images: np.ndarray, to: str) -> tuple[np.ndarray, dict]:
    """uint8 images (N, H, W[, C]) of any of the run's domains rendered as domain ``to`` (uint8, same shape), and
    the provenance mark they should carry."""
    run = swap_run(run)
    return _render(run, images, to), make_mark("swap", run.fingerprint, model="swap", to=to)


def _render(run: Run, images: np.ndarray, to: str) -> np.ndarray:
    if to not in run.domains:
        raise AekitError(f"unknown domain {to!r}; this run has {', '.join(run.domains)}")
    norm = run.normalizer
    x = torch.from_numpy(norm.transform(_check_images(images, tuple(run.model.config.input_shape), "input")))
    return norm.inverse(decode_all(run.model, x, to).clamp(0, 1).numpy())


def _check_images(images: np.ndarray, shape: tuple[int, int, int], what: str) -> np.ndarray:
    c, h, w = shape
    want = (h, w) if c == 1 else (h, w, c)
    if images.dtype != np.uint8 or images.ndim != len(want) + 1 or images.shape[1:] != want:
        raise AekitError(f"{what}: expected uint8 images shaped (N, {', '.join(map(str, want))}), "
                         f"got {images.dtype} {images.shape}")
    return images


def swap_files(run: Run | str | Path, to: str, inputs: list[str], out_dir: str | Path, force: bool = False) -> list[Path]:
    """Render image files (or .npy stacks of uint8 images) as domain ``to``: ``DIR/<name>-to-<to>.png`` (or
    ``.npy`` with a side-car provenance JSON), each marked; nothing is overwritten without ``force``."""
    run = swap_run(run)
    if to not in run.domains:
        raise AekitError(f"unknown domain {to!r}; this run has {', '.join(run.domains)}")
    files = expand_inputs(inputs)
    out_dir = Path(out_dir)
    outs = [out_dir / f"{f.stem}-to-{to}{'.npy' if f.suffix.lower() == '.npy' else '.png'}" for f in files]
    claim_outputs(files, outs, force, companions)
    shape = tuple(run.model.config.input_shape)
    arrays = {f: read_npy(f) if f.suffix.lower() == ".npy" else read_model_image(f, shape)[None] for f in files}
    for f, a in arrays.items():
        _check_images(a, shape, str(f))
    make_folder(out_dir)
    written = []
    for f, dest in zip(files, outs):
        images = _render(run, arrays[f], to)
        mark = make_mark("swap", run.fingerprint, model="swap", to=to, source_file=f.name)
        written.append(save_array(dest, images, mark) if dest.suffix == ".npy" else save_png(dest, images[0], mark))
    return written


def swap_figure(run: Run | str | Path, out: str | Path | None = None, n: int = 8, force: bool = False,
                datasets: dict[str, Dataset] | None = None) -> Path:
    """The run's figure: for each domain, n test images, their own-domain reconstructions and their swaps into every
    other domain, side by side (marked: it shows synthetic images)."""
    from aekit.apps.figures import swap_figure as draw

    run = swap_run(run)
    out = Path(out) if out else run.path / ckpt.SWAPS
    refuse_existing([out], force)
    if not 1 <= n <= 32:
        raise AekitError("`n` must be between 1 and 32")
    model, norm, datasets = run.model, run.normalizer, datasets or run.domain_datasets()
    blocks = []
    for i, (name, ds) in enumerate(datasets.items()):
        x = torch.from_numpy(norm.transform(ds.x_test[:n]))
        rows = [(f"{name}: test images", ds.x_test[:n]),
                (f"{name} -> {name} (reconstruction)", norm.inverse(decode_all(model, x, i).clamp(0, 1).numpy()))]
        rows += [(f"{name} -> {other} (swap)", norm.inverse(decode_all(model, x, j).clamp(0, 1).numpy()))
                 for j, other in enumerate(datasets) if j != i]
        blocks.append(rows)
    draw(blocks, out, make_mark("swap-figure", run.fingerprint, model="swap", n=n), title=f"{run.path.name}: swap between "
         + ", ".join(datasets))
    return out


@torch.no_grad()
def swap_eval(run: Run | str | Path, datasets: dict[str, Dataset] | None = None) -> dict:
    """Per domain: test MSE of own-domain reconstructions (model space)."""
    run = swap_run(run)
    model, norm, datasets = run.model, run.normalizer, datasets or run.domain_datasets()
    out = {}
    for i, (name, ds) in enumerate(datasets.items()):
        x = torch.from_numpy(norm.transform(ds.x_test))
        out[name] = {"test_mse": float(((decode_all(model, x, i) - x) ** 2).mean()), "test_images": len(x)}
    return check_finite({"domains": out}, f"evaluating {run.path}")


def finish_swap(run: Run | str | Path) -> str:
    """After training: per-domain test MSE into eval.json, the figure, and a one-paragraph summary."""
    run = swap_run(run)
    datasets = run.domain_datasets()
    metrics = swap_eval(run, datasets)
    ckpt.write_json(run.path / ckpt.EVAL, metrics)
    fig = swap_figure(run, force=True, datasets=datasets)
    mses = ", ".join(f"{k} {v['test_mse']:.5f}" for k, v in metrics["domains"].items())
    return f"run {run.path}: {ckpt.trained_for(run.history())}, test MSE of own-domain reconstructions: {mses}\n" \
           f"figure: {fig}"
