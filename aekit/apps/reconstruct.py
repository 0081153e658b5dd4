"""``aekit reconstruct``: the article's figure, test inputs over their reconstructions."""

from __future__ import annotations

from pathlib import Path

import torch

from aekit.apps.refine import refine_codes
from aekit.data import Dataset
from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.fileio import png_output, refuse_existing
from aekit.runs import files as ckpt
from aekit.runs.provenance import make_mark
from aekit.runs.run import Run, as_run


def reconstruction_png(run: Run | str | Path, n: int = 10, out: str | Path | None = None, data: str | None = None,
                       force: bool = False, dataset: Dataset | None = None, refine: int = 0) -> Path:
    """The article's figure for a run: ``n`` test inputs over their reconstructions (and, with ``refine`` steps,
    the reconstructions of refined codes: the encoder's amortisation gap made visible). A table run's figure is
    instead its test MSE per column (``aekit.apps.evaluate.column_error_png``)."""
    from aekit.apps.figures import reconstruction_figure

    run = as_run(run)
    if run.normalizer.kind == TABLE:
        from aekit.apps.evaluate import column_error_png  # (evaluate draws this module's figure for images)

        return column_error_png(run, out, data, force, dataset)
    out = png_output(out) if out else run.path / ckpt.FIGURE
    refuse_existing([out], force, inputs=[data])
    if not 1 <= n <= 100:
        raise AekitError("`n` must be between 1 and 100")
    model, norm, ds = run.model, run.normalizer, dataset or run.dataset(data)
    x = ds.x_test[:n]
    xt = torch.from_numpy(norm.transform(x))
    if tuple(xt.shape[1:]) != tuple(model.config.input_shape):
        raise AekitError(f"data samples have shape {tuple(xt.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    recon = norm.inverse(run.reconstruct(xt).numpy())
    extra = ()
    if refine:
        with torch.no_grad():
            refined = model.decode(refine_codes(model, xt, steps=refine)).cpu().numpy()
        extra = ((f"refined code ({refine} steps)", norm.inverse(refined)),)
    mark = make_mark("reconstruct", run.fingerprint, rows=["input", "reconstruction"] + [label for label, _ in extra])
    reconstruction_figure(x, recon, out, mark, title=f"{run.path.name}: {run.name}, code size "
                          f"{model.config.code_size}", extra=extra)
    return out
