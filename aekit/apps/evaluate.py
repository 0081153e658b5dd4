"""``aekit eval`` and the summary after training: test-set metrics beside PCA, the figure, one line to print.

Images get BCE/MSE/PSNR/SSIM and the figure of inputs over their reconstructions; tables get BCE/MSE and the MSE of
each column (PSNR means nothing for a row of unrelated columns), and a bar chart of it beside PCA's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from aekit.apps.reconstruct import reconstruction_png
from aekit.data import Dataset
from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.fileio import png_output, refuse_existing
from aekit.metrics.reconstruction import (
    active_dims,
    check_finite,
    column_mse,
    mse,
    pca_mse,
    pca_reconstruction,
    reconstruct,
    reconstruction_metrics,
)
from aekit.runs import files as ckpt
from aekit.runs.advice import check_result
from aekit.runs.run import Run, as_run

log = logging.getLogger(__name__)


def evaluate_run(run: Run | str | Path, data: str | None = None, device: str = "auto",
                 dataset: Dataset | None = None) -> dict:
    """Test-set BCE/MSE/PSNR/SSIM of a run (for a table: BCE/MSE and the MSE of each column, no PSNR), with PCA of
    the same code size fitted on the same training data (the run's own dataset, or ``data``, or a ``dataset``
    already loaded)."""
    run = as_run(run, device)
    model, norm, ds = run.model, run.normalizer, dataset or run.dataset(data)
    dev = run.device
    x_test = torch.from_numpy(norm.transform(ds.x_test))
    if tuple(x_test.shape[1:]) != tuple(model.config.input_shape):
        raise AekitError(f"data samples have shape {tuple(x_test.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    x_hat = reconstruct(model, x_test, device=dev)
    m = reconstruction_metrics(x_test, x_hat, with_bce=model.config.output_activation == "sigmoid")
    out = {f"test_{k}": v for k, v in m.items()}
    x_train, k = norm.transform(ds.x_train), model.config.code_size
    if norm.kind == TABLE:
        out.pop("test_psnr")
        columns = _column_metrics(run, x_train, x_test.numpy(), x_hat.numpy(), k)
        out["pca_mse"] = columns.pop("pca_mse")
    else:
        columns, out["pca_mse"] = {}, pca_mse(x_train, x_test.numpy(), k)
    out.update({"code_size": k, "n_train": len(ds.x_train), "n_test": len(ds.x_test), "data": ds.name})
    if hasattr(model, "posterior"):  # a VAE: how many code dimensions carry information
        out["active_dims"] = active_dims(model, x_test, device=dev)
    return check_finite({**out, **columns}, f"evaluating {run.path}")


def column_names(run: Run, width: int) -> list[str]:
    """The names of a table run's model columns: its CSV's (``name=category`` for categories), else 1, 2, ..."""
    table = run.config.data.table()
    names = table.feature_names() if table is not None else []
    return names if len(names) == width else [str(i + 1) for i in range(width)]


def _column_metrics(run: Run, x_train: np.ndarray, x_test: np.ndarray, x_hat: np.ndarray, k: int) -> dict:
    """A table's test MSE per column, the autoencoder's and PCA's (and PCA's overall MSE, from the same fit)."""
    names = column_names(run, x_test.shape[1])
    pca = pca_reconstruction(x_train, x_test, k)
    return {"pca_mse": mse(x_test, pca), "test_mse_by_column": dict(zip(names, column_mse(x_test, x_hat).tolist())),
            "pca_mse_by_column": dict(zip(names, column_mse(x_test, pca).tolist()))}


def column_error_png(run: Run | str | Path, out: str | Path | None = None, data: str | None = None,
                     force: bool = False, dataset: Dataset | None = None, metrics: dict | None = None) -> Path:
    """A table run's figure: the test MSE of each column beside PCA's of the same code size (``metrics``:
    ``evaluate_run``'s, if already computed)."""
    from aekit.apps.figures import column_error_figure

    run = as_run(run)
    out = png_output(out) if out else run.path / ckpt.FIGURE
    refuse_existing([out], force, inputs=[data])
    metrics = metrics or evaluate_run(run, data=data, device=run.device, dataset=dataset)
    if "test_mse_by_column" not in metrics:
        raise AekitError(f"{run.path} was not trained on table rows: it has no columns to chart")
    k, n = metrics["code_size"], metrics["n_test"]
    title = f"{run.path.name}: {run.name}, code size {k}, test MSE {metrics['test_mse']:.4g} on {n} rows"
    column_error_figure(metrics["test_mse_by_column"], out, title, (f"PCA-{k}", metrics["pca_mse_by_column"]))
    return out


def _worst_columns(metrics: dict, n: int = 3) -> str:
    errors = metrics["test_mse_by_column"]
    return ", ".join(f"{name} {errors[name]:.4g}" for name in sorted(errors, key=lambda c: -errors[c])[:n])


def finish_run(run: Run | str | Path) -> str:
    """After training: evaluate on the test split, write eval.json and the figure, return a short summary."""
    run = as_run(run)
    ds = run.dataset()
    metrics = evaluate_run(run, dataset=ds)
    ckpt.write_json(run.path / ckpt.EVAL, metrics)
    table = "test_mse_by_column" in metrics
    check_result(metrics, run.config.train.get("noise", "none"), dense_on_images=not table and
                 "channels" not in run.config.config)
    fig = (column_error_png(run, force=True, dataset=ds, metrics=metrics) if table else
           reconstruction_png(run, force=True, dataset=ds))
    parts = [f"run {run.path}: {ckpt.trained_for(run.history())}"]
    if "test_bce" in metrics:
        parts.append(f"test BCE {metrics['test_bce']:.4f}")
    parts.append(f"test MSE {metrics['test_mse']:.5f} (PCA-{metrics['code_size']}: {metrics['pca_mse']:.5f})")
    parts.append(f"worst columns: {_worst_columns(metrics)}" if table else f"PSNR {metrics['test_psnr']:.2f} dB")
    active = metrics.get("active_dims")
    if active is not None and active < max(1, metrics["code_size"] // 4):
        log.warning("warning: only %d of %d code dimensions are active: the decoder ignores most of the code "
                    "(posterior collapse, or training too short); try more `epochs`, the model options kl_warmup=0.2 "
                    "or free_bits=0.25, or a lower `lr`", active, metrics["code_size"])
    return ", ".join(parts) + f"\nfigure: {fig}"
