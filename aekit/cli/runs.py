"""``aekit reconstruct`` and ``aekit eval``: a trained run's reconstructions and test-set metrics."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    r = sub.add_parser("reconstruct", help="figure of test inputs over their reconstructions",
                       formatter_class=Formatter, description="For a run trained on table rows the figure is "
                       "instead a bar chart of the test MSE of each column, beside PCA's of the same code size.")
    r.add_argument("run", metavar="RUN")
    r.add_argument("-n", type=int, default=10, help="number of test images")
    add_output(r, "replace an existing figure", metavar="PNG", help="figure path (default: RUN/reconstructions.png)")
    r.add_argument("--data", metavar="PATH", help="data to use instead of the run's own test split")
    r.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="add a row decoded from codes refined by STEPS optimiser steps (aekit.apps.refine)")
    r.set_defaults(handler=run_reconstruct)

    e = sub.add_parser("eval", help="test-set metrics with the PCA baseline", formatter_class=Formatter,
                       description="Images: BCE (sigmoid outputs), MSE, PSNR, SSIM. Table rows: BCE, MSE and the MSE "
                       "of each column (columns scaled to [0, 1] by their training range), the autoencoder's and "
                       "PCA's.")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--data", metavar="PATH", help="data to use instead of the run's own")
    e.add_argument("--device", default="auto", help="device to evaluate on")
    e.set_defaults(handler=run_eval)


def run_reconstruct(a) -> int:
    from aekit.apps.reconstruct import reconstruction_png

    print(reconstruction_png(a.run, n=a.n, out=a.out, data=a.data, force=a.force, refine=a.refine))
    return 0


def run_eval(a) -> int:
    from aekit.apps.evaluate import evaluate_run

    metrics = evaluate_run(a.run, data=a.data, device=a.device)
    if a.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            if not isinstance(v, dict):
                print(f"{k:>12}: {v:.6g}" if isinstance(v, float) else f"{k:>12}: {v}")
        _print_columns(metrics)
    return 0


def _print_columns(metrics: dict) -> None:
    """A table run's MSE per column, the autoencoder's beside PCA's."""
    errors, pca = metrics.get("test_mse_by_column"), metrics.get("pca_mse_by_column", {})
    if not errors:
        return
    width = min(max(len(name) for name in errors), 40)
    print(f"test MSE by column (PCA-{metrics['code_size']} beside it):")
    for name, value in errors.items():
        print(f"  {name[:40]:<{width}}  {value:<11.4g} {pca.get(name, float('nan')):.4g}")
