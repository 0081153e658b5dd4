"""``aekit generate`` and ``aekit interpolate``: synthetic images, each file marked as synthetic."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aekit.apps.samplers import SAMPLERS, GaussianMixtureSampler, default_sampler, grid, interpolate_codes
from aekit.data import Dataset
from aekit.data.images import ImageTooLarge, open_image
from aekit.errors import AekitError
from aekit.fileio import make_folder, png_output, refuse_existing
from aekit.runs import files as ckpt
from aekit.runs.provenance import make_mark, save_png
from aekit.runs.run import Run, as_run

log = logging.getLogger(__name__)
MAX_SAMPLES = 10_000
# A full-covariance mixture keeps K * D * D numbers and its EM needs many more codes than D: a flat code of a few
# hundred numbers is what it suits. A code map (a spatial code, or one carrying U-Net skips: 28,224 numbers for the
# denoise preset) would need tens of GB and is no generator's latent space, so it is refused.
MAX_MIXTURE_DIM = 1024


def code_mixture(run: Run, seed: int = 0, max_fit: int = 20_000, dataset: Dataset | None = None) -> GaussianMixtureSampler:
    """The run's Gaussian mixture over training codes: loaded from the run folder, or fitted and saved there. With
    ``dataset`` (the training images of a run trained from an in-memory array, which records no data source) the
    mixture is fitted on ``dataset.x_train`` at every call and not saved."""
    model = run.model
    dim = int(np.prod(model.encode(torch.zeros(1, *model.config.input_shape)).shape[1:]))
    if dim > MAX_MIXTURE_DIM:
        raise AekitError(f"{run.path.name}'s code holds {dim} numbers per sample; sampling it needs a flat code of at most "
                         f"{MAX_MIXTURE_DIM} (a VAE, or a dense or conv model with a vector code such as the conv "
                         "preset's 32)")
    if dataset is not None:
        x = torch.from_numpy(run.normalizer.transform(dataset.x_train[:max_fit]))
        return GaussianMixtureSampler.fit(run.encode(x).numpy(), seed=seed)
    path = run.path / ckpt.GMM
    if path.exists():
        tensors, meta = ckpt.load_tensors(path)
        if meta and meta.get("fingerprint") == run.fingerprint:
            return GaussianMixtureSampler.from_tensors(tensors, dim)
    if run.config.data.source in (None, "", "array"):
        raise AekitError(f"{run.path} was trained from an in-memory array: pass its training data as `dataset` to fit "
                         "the mixture over its codes")
    x = torch.from_numpy(run.normalizer.transform(run.dataset().x_train[:max_fit]))
    log.warning("fitting a Gaussian mixture over %d training codes of %s (once: it is kept in %s for later calls)",
                len(x), run.path.name, path.name)
    gm = GaussianMixtureSampler.fit(run.encode(x).numpy(), seed=seed)
    ckpt.save_tensors(path, gm.tensors(), {"fingerprint": run.fingerprint, "fitted_on": len(x)})
    return gm


@torch.no_grad()
def sample_images(run: Run | str | Path, n: int = 64, sampler: str = "auto", seed: int = 0,
                  dataset: Dataset | None = None) -> tuple[np.ndarray, dict]:
    """n generated images in the data's own units (uint8 for images) and the provenance mark they should carry.
    ``dataset``: for the ``gmm`` sampler of a run trained from an in-memory array (``aekit.Model.fit``), which records
    no data source: the training data to fit the mixture over codes on (``code_mixture``)."""
    if not 1 <= n <= MAX_SAMPLES:
        raise AekitError(f"`n` must be between 1 and {MAX_SAMPLES}")
    if sampler not in SAMPLERS:
        raise AekitError(f"unknown sampler {sampler!r}; choose from {SAMPLERS}")
    if not 0 <= seed < 2**32:
        raise AekitError(f"seed must be an integer from 0 to {2**32 - 1}, got {seed}")
    run = as_run(run)
    model = run.model
    name = default_sampler(model) if sampler == "auto" else sampler
    gen = torch.Generator().manual_seed(seed)
    if name == "prior":
        if not hasattr(model, "sample"):
            raise AekitError(f"a {run.name} model has no prior to sample; use `sampler` gmm")
        x = model.sample(n, generator=gen)
    elif name == "gmm":
        z = code_mixture(run, seed, dataset=dataset).sample(n, gen)
        z_shape = model.encode(torch.zeros(1, *model.config.input_shape)).shape[1:]
        x = model.decode(z.view(n, *z_shape))
    else:
        from aekit.apps.priors import code_prior  # only VQ-VAEs need it

        if not hasattr(model, "decode_indices"):
            raise AekitError(f"a {run.name} model has no codebook; use `sampler` gmm")
        x = model.decode_indices(code_prior(run, seed).sample(n, gen))
    mark = make_mark("generate", run.fingerprint, sampler=name, seed=seed, model=run.name)
    return run.normalizer.inverse(x.clamp(0, 1).numpy()), mark


def _check_images(images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise AekitError("generation writes images; this run was trained on table data")


def generate_run(run: Run | str | Path, n: int = 64, out: str | Path | None = None, sampler: str = "auto", seed: int = 0,
                 separate: str | Path | None = None, force: bool = False) -> list[Path]:
    """Write a grid of n samples (and, with ``separate``, one PNG per sample), each file marked as synthetic."""
    run = as_run(run)
    out = png_output(out) if out else run.path / ckpt.SAMPLES
    if separate and Path(separate).exists() and not Path(separate).is_dir():
        raise AekitError(f"`separate` {separate} is a file; it should name a folder for the single images")
    files = [out] + ([Path(separate) / f"sample-{i:04d}.png" for i in range(n)] if separate else [])
    refuse_existing(files, force)
    images, mark = sample_images(run, n, sampler, seed)
    _check_images(images)
    written = [save_png(out, grid(images), {**mark, "count": n})]
    if separate:
        make_folder(separate)
        written += [save_png(p, im, {**mark, "index": i}) for i, (p, im) in enumerate(zip(files[1:], images))]
    return written


def _load_input(spec: str, ds, norm, shape: tuple[int, ...]) -> torch.Tensor:
    """A test-split index ("17") or an image file path, as one model-space sample (1, *shape)."""
    if spec.isdigit():
        i = int(spec)
        if i >= len(ds.x_test):
            raise AekitError(f"index {i} is past the {len(ds.x_test)} test images")
        return torch.from_numpy(norm.transform(ds.x_test[i : i + 1]))
    path = Path(spec)
    if not path.is_file():
        raise AekitError(f"{spec} is neither a test-image index nor an image file")
    c, h, w = shape
    try:
        with open_image(path) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)[None]
    except (OSError, ImageTooLarge) as e:
        raise AekitError(f"{path} is not a readable image ({e})") from None
    return torch.from_numpy(norm.transform(arr))


def interpolate_run(run: Run | str | Path, a: str, b: str, steps: int = 10, out: str | Path | None = None,
                    force: bool = False) -> Path:
    """A strip of ``steps`` images decoded along the line between the codes of inputs a and b (marked)."""
    run = as_run(run)
    out = png_output(out) if out else run.path / ckpt.INTERPOLATION
    refuse_existing([out], force, inputs=[a, b])
    if not 2 <= steps <= 100:
        raise AekitError("`steps` must be between 2 and 100")
    model = run.model
    if len(model.config.input_shape) != 3:
        raise AekitError("interpolation draws images; this run was trained on table data")
    ds, norm = run.dataset(), run.normalizer
    xa, xb = (_load_input(s, ds, norm, tuple(model.config.input_shape)) for s in (a, b))
    images = norm.inverse(interpolate_codes(model, xa, xb, steps).clamp(0, 1).numpy())
    mark = make_mark("interpolate", run.fingerprint, a=a, b=b, steps=steps, model=run.name)
    return save_png(out, grid(images, cols=steps), mark)
