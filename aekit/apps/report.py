"""``aekit report``: one self-contained HTML page about one run, or comparing several.

For each run: the model and its recipe (config, training options, parameter count), the training and validation
curves of its metrics.jsonl, the test metrics beside PCA of the same code size (``aekit.apps.evaluate``), the
article's figure of inputs over reconstructions, a 2-D map of the test codes (``aekit.apps.embed``), samples from a
model with a prior of its own (a VAE), the swaps of a swap run, and the fingerprint of the weights. A run trained on
table rows gets its per-column errors instead of images. Several runs get one comparison first: a table of their
metrics and their test MSE against code size beside PCA's (the article's code-size sweep).

Every figure is a PNG inlined as a data: URI and the page holds no script, so it opens offline and sends nothing.
The page is written atomically; run folders are only read (figures are drawn in a temporary folder of the
report's own, and a generator that would need a fitted mixture or prior, which ``aekit generate`` keeps in the run
folder, is left out).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aekit.apps import htmlpage as h
from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.fileio import atomic_write, make_folder, refuse_existing
from aekit.runs import files as ckpt
from aekit.runs.run import Run, as_run

MAP_POINTS = 5_000  # test samples encoded for the map at most (the first ones)
SAMPLES = 64  # drawn from a model's prior
SUFFIXES = (".html", ".htm")


@dataclass
class RunReport:
    """What the page says about one run: its test metrics, training records, parameter count and figures
    (``name``, caption, PNG bytes, whether to draw it with hard pixel edges)."""

    run: Run
    metrics: dict
    history: list[dict]
    parameters: int
    figures: list[tuple[str, str, bytes, bool]] = field(default_factory=list)


def write_report(runs: list[Run | str | Path], out: str | Path, force: bool = False, device: str = "auto",
                 n: int = 10) -> Path:
    """Write the report on ``runs`` to ``out`` (.html): one run's page, or a comparison of several; ``n``: test
    images shown over their reconstructions."""
    if not runs:
        raise AekitError("name at least one run to report on")
    if not 1 <= n <= 32:
        raise AekitError("`n` must be between 1 and 32")
    opened = [as_run(r, device) for r in runs]
    out = _check_out(out, opened, force)
    with tempfile.TemporaryDirectory(prefix="aekit-report-") as tmp:
        reports = [study_run(run, Path(tmp) / f"run-{i}", n) for i, run in enumerate(opened)]
        body = _comparison(reports, Path(tmp)) if len(reports) > 1 else ""
        body += "".join(_run_html(r, i, len(reports) > 1) for i, r in enumerate(reports))
    title = f"aekit report: {reports[0].run.path.name}" if len(reports) == 1 else f"aekit report: {len(reports)} runs"
    atomic_write(out, h.page(title, body).encode("utf-8"))
    return out


def _check_out(out: str | Path, runs: list[Run], force: bool) -> Path:
    """``out``, checked before any work: an .html name, outside every run folder, not replacing a file unless
    ``force``."""
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise AekitError(f"`out` {out} should be named .html: the report is one HTML page")
    for run in runs:
        if out.resolve().is_relative_to(run.path.resolve()):
            raise AekitError(f"`out` {out} is inside the run folder {run.path}; write the report elsewhere")
    refuse_existing([out], force)
    make_folder(out.parent, target=out)
    return out


def study_run(run: Run, folder: Path, n: int = 10) -> RunReport:
    """Evaluate ``run`` and draw its figures (PNG files in ``folder``, a temporary folder, read back as bytes)."""
    from aekit.apps.report_figures import curves_figure

    folder.mkdir(parents=True)
    history = run.history()
    report = RunReport(run, {}, history, sum(p.numel() for p in run.model.parameters()))
    if history:
        title = f"{run.path.name}: {ckpt.trained_for(history)}"
        png = curves_figure(history, folder / "curves.png", title).read_bytes()
        report.figures.append(("curves", "training and validation losses per epoch; the learning rate", png, False))
    if run.domains:
        _swap_figures(report, folder, n)
    elif run.normalizer.kind == TABLE:
        _table_figures(report, folder)
    else:
        _image_figures(report, folder, n)
    return report


def _image_figures(report: RunReport, folder: Path, n: int) -> None:
    """An image run: its test metrics, inputs over reconstructions, the map of its codes, samples from a prior."""
    from aekit.apps.evaluate import evaluate_run
    from aekit.apps.patch_runs import patch_size
    from aekit.apps.reconstruct import reconstruction_png

    run = report.run
    ds = run.dataset()
    report.metrics = evaluate_run(run, device=run.device, dataset=ds)
    whole = patch_size(run) is not None  # a patch run shows whole test images, in tiles
    png = reconstruction_png(run, n=n, out=folder / "reconstructions.png", dataset=None if whole else ds).read_bytes()
    report.figures.append(("reconstructions", f"the first {n} test {'images' if whole else 'inputs'} over their "
                           "reconstructions", png, False))
    report.figures.append(_map(run, ds.x_test, ds.y_test, folder, ds.name))
    if hasattr(run.model, "sample"):
        report.figures.append(_samples(run, folder))


def _table_figures(report: RunReport, folder: Path) -> None:
    """A table run: its test metrics, the MSE of each column beside PCA's, the map of its codes."""
    from aekit.apps.evaluate import column_error_png, evaluate_run

    run = report.run
    ds = run.dataset()
    report.metrics = evaluate_run(run, device=run.device, dataset=ds)
    png = column_error_png(run, folder / "columns.png", dataset=ds, metrics=report.metrics).read_bytes()
    report.figures.append(("columns", "test MSE of each column (scaled to [0, 1] by its training range), beside "
                           f"PCA-{report.metrics['code_size']}'s", png, False))
    report.figures.append(_map(run, ds.x_test, ds.y_test, folder, ds.name))


def _swap_figures(report: RunReport, folder: Path, n: int) -> None:
    """A swap run: per-domain test MSE, test images beside their reconstructions and swaps, the map of the shared
    codes coloured by domain."""
    from aekit.apps.swap import swap_eval, swap_figure

    run = report.run
    datasets = run.domain_datasets()
    report.metrics = swap_eval(run, datasets)
    png = swap_figure(run, folder / "swaps.png", n=min(n, 8), datasets=datasets).read_bytes()
    report.figures.append(("swaps", "test images of each domain, their own-domain reconstructions and their swaps "
                           "into the other domains", png, False))
    x = np.concatenate([ds.x_test[:MAP_POINTS // len(datasets)] for ds in datasets.values()])
    domains = np.concatenate([[name] * len(ds.x_test[:MAP_POINTS // len(datasets)]) for name, ds in datasets.items()])
    report.figures.append(_map(run, x, domains, folder, "test images", "domain"))


def _map(run: Run, x: np.ndarray, labels: np.ndarray | None, folder: Path, source: str, by: str = "label") -> tuple:
    """The 2-D map of the codes of the first test samples (``aekit.apps.embed.map_figure``)."""
    from aekit.apps.embed import map_figure

    x, labels = x[:MAP_POINTS], None if labels is None else labels[:MAP_POINTS]
    codes = run.encode(torch.from_numpy(run.normalizer.transform(x))).flatten(1).numpy()
    title = f"{run.path.name}: {run.name}, code size {codes.shape[1]}, {source}"
    png = map_figure(codes, labels, folder / "map.png", title).read_bytes()
    return "map", f"the codes of {len(x)} test samples" + (f", coloured by {by}" if labels is not None else ""), \
        png, False


def _samples(run: Run, folder: Path) -> tuple:
    """A grid of samples from the model's own prior (``aekit.apps.generate``), marked as synthetic."""
    from aekit.apps.generate import sample_images
    from aekit.apps.samplers import grid
    from aekit.runs.provenance import save_png

    images, mark = sample_images(run, SAMPLES, sampler="prior", seed=0)
    png = save_png(folder / "samples.png", grid(images), {**mark, "count": SAMPLES}).read_bytes()
    return "samples", f"{SAMPLES} samples from the model's prior (seed 0)", png, True


def _recipe(report: RunReport) -> str:
    """The model, its parameter count and fingerprint, how its data was read, and its training options."""
    run = report.run
    data = {k: v for k, v in run.config.data.to_dict().items() if k not in ("normalizer", "columns")}
    if run.config.data.columns:
        data["columns"] = f"{len(run.config.data.columns.get('features', []))} features"
    about = {"run folder": run.path.name, "model": run.name, "parameters": report.parameters,
             "trained for": ckpt.trained_for(report.history) if report.history else "no finished epoch",
             "written by": f"aekit {run.config.aekit}", "weights (SHA-256)": run.fingerprint}
    train = list(run.config.train.items())
    parts = [h.key_values(dict(train[i : i + 15]), "training options" if i == 0 else "\u00a0") for i in range(0, len(train), 15)]
    return h.columns(h.key_values(about, "run") + h.key_values(data, "data"),
                     h.key_values(run.config.config, f"model: {run.name}"), *parts)


METRICS = (("MSE", "test_mse", "pca_mse"), ("BCE", "test_bce", None), ("PSNR (dB)", "test_psnr", None),
           ("SSIM", "test_ssim", None))


def _metrics_html(metrics: dict) -> str:
    """The test metrics, the autoencoder's beside PCA's of the same code size."""
    if "domains" in metrics:  # a swap run
        rows = [[name, m["test_mse"], m["test_images"]] for name, m in metrics["domains"].items()]
        return h.table(["domain", "test MSE (own-domain reconstruction)", "test images"], rows)
    k = metrics["code_size"]
    rows = [[label, metrics[key], metrics.get(pca) if pca else None] for label, key, pca in METRICS if key in metrics]
    text = (f"code size {k}; {metrics['n_train']} training and {metrics['n_test']} test samples of "
            f"{metrics['data']}" + (f"; {metrics['active_dims']} active code dimensions" if "active_dims" in metrics
                                    else ""))
    return h.table(["test metric", "autoencoder", f"PCA-{k}"], rows) + h.note(text) + _columns_html(metrics)


def _columns_html(metrics: dict) -> str:
    """A table run's test MSE of each column, the autoencoder's beside PCA's."""
    errors, pca = metrics.get("test_mse_by_column"), metrics.get("pca_mse_by_column", {})
    if not errors:
        return ""
    rows = [[name, value, pca.get(name)] for name, value in errors.items()]
    return h.details(f"test MSE of each of the {len(rows)} columns",
                     h.table(["column", "autoencoder", f"PCA-{metrics['code_size']}"], rows))


def _run_html(report: RunReport, index: int, several: bool) -> str:
    """One run's section: recipe, metrics, figures."""
    run = report.run
    figures = "".join(h.figure(png, caption, name, pixels) for name, caption, png, pixels in report.figures)
    if not run.domains and run.normalizer.kind != TABLE and not hasattr(run.model, "sample"):
        figures += h.note(f"no samples: a {run.name} model has no prior of its own (aekit generate fits one to its "
                          "codes and keeps it in the run folder, which this report does not write to)")
    body = (h.section("test metrics", _metrics_html(report.metrics), 3) + h.section("figures", figures, 3)
            + h.section("model and recipe", _recipe(report), 3))
    title = f"run {index + 1}: {run.path.name} ({run.name})" if several else f"{run.path.name} ({run.name})"
    return h.section(title, body, 2, anchor=f"run-{index + 1}")


def _comparison(reports: list[RunReport], folder: Path) -> str:
    """Several runs side by side: one table of their metrics, and test MSE against code size beside PCA."""
    from aekit.apps.report_figures import sweep_figure

    header = ["run", "model", "data", "code size", "parameters", "epochs", "test MSE", "PCA MSE (same code size)",
              "PSNR (dB)", "SSIM"]
    rows, points = [], []
    for i, r in enumerate(reports):
        m = r.metrics
        rows.append([f"{i + 1}: {r.run.path.name}", r.run.name, m.get("data"), m.get("code_size"), r.parameters,
                     ckpt.epochs_done(r.history), m.get("test_mse"), m.get("pca_mse"), m.get("test_psnr"),
                     m.get("test_ssim")])
        if "test_mse" in m:
            points.append({"name": r.run.path.name, "code_size": m["code_size"], "test_mse": m["test_mse"],
                           "pca_mse": m.get("pca_mse"), "data": m.get("data"), "model_name": r.run.name})
    body = h.table(header, rows, numeric_from=3)
    if points:
        png = sweep_figure(points, folder / "sweep.png").read_bytes()
        body += h.figure(png, "test MSE against code size: each run, one line per model and dataset; PCA of "
                          "the same code sizes fitted to each dataset's training data", "sweep")
    return h.section("comparison", body, 2, anchor="comparison")
