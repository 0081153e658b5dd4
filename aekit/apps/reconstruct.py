"""``aekit reconstruct``: the article's figure, test inputs over their reconstructions.

A denoising run (trained with ``--noise``) shows what it was trained to do: each test input, the input corrupted
with the run's own noise (seeded; a blind denoiser's strongest), and the model's output for the noisy input. A run
trained on patches (``--patches``) shows whole test images of any size, reconstructed in tiles of its patch size
and stitched (``aekit.apps.patch_runs``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aekit.apps.patch_runs import Batch, patch_size, through_tiles, to_model, to_pixels, whole_images
from aekit.apps.refine import refine_codes
from aekit.data import Dataset
from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.fileio import png_output, refuse_existing
from aekit.runs import files as ckpt
from aekit.runs.provenance import make_mark
from aekit.runs.run import Run, as_run
from aekit.training.noise import corrupt

NOISE_SEED = 0


def reconstruction_png(run: Run | str | Path, n: int = 10, out: str | Path | None = None, data: str | None = None,
                       force: bool = False, dataset: Dataset | None = None, refine: int = 0) -> Path:
    """The article's figure for a run: ``n`` test inputs over their reconstructions (and, with ``refine`` steps,
    the reconstructions of refined codes: the encoder's amortisation gap made visible). A run trained on patches
    shows whole test images, in tiles, unless ``dataset`` (its patches) is given. A table run's figure is instead its
    test MSE per column (``aekit.apps.evaluate.column_error_png``)."""
    from aekit.apps.figures import reconstruction_figure

    run = as_run(run)
    if run.normalizer.kind == TABLE:
        from aekit.apps.evaluate import column_error_png  # (evaluate draws this module's figure for images)

        return column_error_png(run, out, data, force, dataset)
    out = png_output(out) if out else run.path / ckpt.FIGURE
    refuse_existing([out], force, inputs=[data])
    if not 1 <= n <= 100:
        raise AekitError("`n` must be between 1 and 100")
    tile = patch_size(run) if dataset is None else None
    if tile:
        x = [to_model(run, im) for im in whole_images(run, data)[0][:n]]
    else:
        x = list(_test_inputs(run, dataset or run.dataset(data), n))
    rows = _rows(run, x, tile, refine)
    pixels = [(label, [to_pixels(run, im) for im in images]) for label, images in rows]
    mark = make_mark("reconstruct", run.fingerprint, rows=[label for label, _ in rows])
    title = f"{run.path.name}: {run.name}, code size {run.model.config.code_size}"
    if tile:
        title += f"; whole test images in {tile[0]}x{tile[1]} tiles, blended"
    reconstruction_figure(pixels[0][1], pixels[1][1], out, mark, title=title, extra=tuple(pixels[2:]),
                          labels=(pixels[0][0], pixels[1][0]), cell=3.0 if tile else 1.0)
    return out


def _test_inputs(run: Run, ds: Dataset, n: int) -> np.ndarray:
    """The first ``n`` test samples in model space, refused unless they have the model's shape."""
    xt = run.normalizer.transform(ds.x_test[:n])
    if tuple(xt.shape[1:]) != tuple(run.model.config.input_shape):
        raise AekitError(f"data samples have shape {tuple(xt.shape[1:])}, the model expects "
                         f"{tuple(run.model.config.input_shape)}")
    return xt


def _rows(run: Run, x: list[np.ndarray], tile: tuple[int, int] | None, refine: int) -> list[tuple[str, list]]:
    """The figure's labelled rows of model-space images: the inputs, (for a denoiser) the noisy inputs, the
    model's outputs, and (with ``refine``) the outputs of refined codes."""
    train = run.config.train
    noise, strength = train.get("noise", "none"), max(train.get("noise_strength", 0.0), train.get("noise_max", 0.0))
    rows = [("input", x)]
    if noise != "none" and strength:  # a blind denoiser's inputs: the strongest noise of its range
        gen = torch.Generator().manual_seed(NOISE_SEED)
        x = [corrupt(torch.from_numpy(im), noise, strength, gen).numpy() for im in x]
        rows.append((f"noisy input ({noise} {strength:g})", x))
    rows.append(("denoised" if len(rows) > 1 else "reconstruction", _apply(run.reconstruct, x, tile)))
    if refine:
        model = run.model

        def refined(b: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return model.decode(refine_codes(model, b.to(run.device), steps=refine)).cpu()

        rows.append((f"refined code ({refine} steps)", _apply(refined, x, tile)))
    return rows


def _apply(fn: Batch, x: list[np.ndarray], tile: tuple[int, int] | None) -> list[np.ndarray]:
    """``fn`` over model-space images (C, H, W): as one batch, or (``tile``) each in blended tiles."""
    if tile is None:
        return list(fn(torch.from_numpy(np.stack(x))).float().numpy())
    return [through_tiles(fn, im, tile) for im in x]
