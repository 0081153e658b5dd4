"""``aekit eval`` and the summary after training: test-set metrics beside PCA, the figure, one line to print."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from aekit.apps.reconstruct import reconstruction_png
from aekit.data import Dataset
from aekit.errors import AekitError
from aekit.metrics.reconstruction import active_dims, check_finite, pca_mse, reconstruct, reconstruction_metrics
from aekit.runs import files as ckpt
from aekit.runs.advice import check_result
from aekit.runs.run import Run, as_run

log = logging.getLogger(__name__)


def evaluate_run(run: Run | str | Path, data: str | None = None, device: str = "auto",
                 dataset: Dataset | None = None) -> dict:
    """Test-set BCE/MSE/PSNR/SSIM of a run, with PCA of the same code size fitted on the same training data (the
    run's own dataset, or ``data``, or a ``dataset`` already loaded)."""
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
    out["pca_mse"] = pca_mse(norm.transform(ds.x_train), x_test.numpy(), model.config.code_size)
    out.update({"code_size": model.config.code_size, "n_train": len(ds.x_train), "n_test": len(ds.x_test),
                "data": ds.name})
    if hasattr(model, "posterior"):  # a VAE: how many code dimensions carry information
        out["active_dims"] = active_dims(model, x_test, device=dev)
    return check_finite(out, f"evaluating {run.path}")


def finish_run(run: Run | str | Path) -> str:
    """After training: evaluate on the test split, write eval.json and the figure, return a short summary."""
    run = as_run(run)
    ds = run.dataset()
    metrics = evaluate_run(run, dataset=ds)
    ckpt.write_json(run.path / ckpt.EVAL, metrics)
    check_result(metrics, run.config.train.get("noise", "none"))
    fig = reconstruction_png(run, force=True, dataset=ds)
    parts = [f"run {run.path}: {ckpt.trained_for(run.history())}"]
    if "test_bce" in metrics:
        parts.append(f"test BCE {metrics['test_bce']:.4f}")
    parts.append(f"test MSE {metrics['test_mse']:.5f} (PCA-{metrics['code_size']}: {metrics['pca_mse']:.5f})")
    parts.append(f"PSNR {metrics['test_psnr']:.2f} dB")
    active = metrics.get("active_dims")
    if active is not None and active < max(1, metrics["code_size"] // 4):
        log.warning("warning: only %d of %d code dimensions are active: the decoder ignores most of the code "
                    "(posterior collapse, or training too short); try more `epochs`, the model options kl_warmup=0.2 "
                    "or free_bits=0.25, or a lower `lr`", active, metrics["code_size"])
    return ", ".join(parts) + f"\nfigure: {fig}"
