"""``aekit anomalies``: rank inputs by how badly a run's autoencoder reconstructs them.

An autoencoder trained on normal data reconstructs normal inputs well and unusual ones badly. For images the score
is 1 - SSIM between an input and its reconstruction (SSIM with a 7-tap window, sigma 1: a local, structural error);
for table rows it is the mean squared error in model space. On the one-class MNIST protocol a dense autoencoder
scored this way reaches a mean AUROC of 0.977, against 0.956 for PCA-32's squared error and 0.969 for PCA-32's
reconstructions scored with the same SSIM error (BENCHMARKS.md, benchmarks/anomaly.py). The image score is named
``1-ssim``: 0 for a perfect reconstruction, higher the worse.

A run trained on patches (``aekit train --patches HxW``) scores whole images of any size: a folder of them (its own
training folder too), an image file, an array file of images, or the test images of a named dataset. Each image is cut into
tiles of the patch size that never overlap (the last row and column flush with the far edge; an image smaller than
a tile is padded), every tile is scored alone, and the image's score is its worst tile's: the maximum, so that a
flaw in one corner of an otherwise normal image ranks it high, where the mean over its tiles would dilute the flaw
by the number of tiles (the report also gives the mean, and where the worst tile is). The figure then shows each of
the top images under a heat map of its tile scores, above the reconstruction made of the same tiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aekit.apps.patch_runs import on_numpy, patch_size, to_model, to_pixels, whole_samples
from aekit.apps.samples import run_samples
from aekit.apps.tiles import apply_tiled, tile_batches, tile_map, tile_spots
from aekit.errors import AekitError
from aekit.fileio import png_output, refuse_existing
from aekit.metrics.reconstruction import auroc, reconstruct, ssim_per_sample
from aekit.runs.provenance import make_mark
from aekit.runs.run import Run, as_run

METRICS = ("auto", "1-ssim", "mse")
ALIASES = {"ssim": "1-ssim"}  # the SSIM-based score's older name, still accepted
MAX_FIGURE = 20  # inputs drawn in the figure at most
MAX_MAPS = 8  # whole images drawn with their tile scores at most


def resolve_metric(metric: str, sample_shape: tuple[int, ...]) -> str:
    """'auto' is '1-ssim' for images (C, H, W) and 'mse' for table rows."""
    metric = ALIASES.get(metric, metric)
    if metric not in METRICS:
        raise AekitError(f"unknown anomaly score {metric!r}; choose from {METRICS}")
    if metric == "auto":
        return "1-ssim" if len(sample_shape) == 3 else "mse"
    if metric == "1-ssim" and len(sample_shape) != 3:
        raise AekitError("the 1 - SSIM score needs images; use 'mse' for table rows")
    return metric


@torch.no_grad()
def anomaly_scores(model, x: torch.Tensor, metric: str = "auto", batch_size: int = 1024) -> np.ndarray:
    """Per-sample anomaly scores (higher: more anomalous) of model-space inputs x (N, *input_shape), float64 (N,)."""
    weight = next(model.parameters())
    x = torch.as_tensor(x, dtype=weight.dtype)  # the model's own precision, whatever the caller scaled in
    metric = resolve_metric(metric, tuple(x.shape[1:]))
    device = weight.device
    x_hat = reconstruct(model, x, batch_size, device)
    if metric == "1-ssim":
        return (1.0 - ssim_per_sample(x, x_hat)).numpy()
    return ((x_hat.double() - x.double()) ** 2).flatten(1).mean(1).numpy()


def anomaly_figure(x: list[np.ndarray], recon: list[np.ndarray], names: list[str], scores: np.ndarray, title: str,
                   maps: list[np.ndarray] | None = None, metric: str = ""):
    """The most anomalous inputs over their reconstructions, each labelled with its whole name and its score; with
    ``maps`` (one (H, W) array of tile scores per input), each input under its map as a heat map. Returns the
    matplotlib figure, to save with ``aekit.apps.figures.save_figure``."""
    from aekit.apps.figures import name_label, show_sample, subplots

    n = len(x)
    side = 2.0 if maps else 1.2
    fig, axes = subplots(2, n, figsize=(max(n, 2) * side, 2 * side + 0.9), squeeze=False, layout="constrained")
    for i in range(n):
        show_sample(axes[0, i], x[i])
        if maps:
            heat = axes[0, i].imshow(maps[i], cmap="inferno", alpha=0.5, vmin=0, vmax=max(m.max() for m in maps))
        show_sample(axes[1, i], recon[i])
        axes[0, i].set_title(f"{name_label(names[i])}\n{scores[i]:.3g}", fontsize=6)
    axes[1, 0].set_title("reconstruction", fontsize=7, loc="left")
    if maps:
        fig.colorbar(heat, ax=axes[0, :], shrink=0.8, label=f"tile score ({metric})")
    fig.suptitle(title, fontsize=9)
    return fig


def _report(run: Run, source: str, names: list[str], scores: np.ndarray, labels: np.ndarray | None, metric: str,
            top: int) -> dict:
    """What was scored, the ``top`` inputs ranked (most anomalous first), the score's quantiles, and how the scores
    of each label compare when there are labels."""
    order = np.argsort(-scores, kind="stable")
    rows = [{"rank": r + 1, "input": names[i], "index": int(i), "score": float(scores[i]),
             **({"label": labels[i].item()} if labels is not None else {})}
            for r, i in enumerate(order[:top])]
    report = {"run": str(run.path), "data": source, "score": metric, "n_scored": len(scores), "top": rows,
              "score_quantiles": {q: float(np.quantile(scores, float(q))) for q in ("0.5", "0.9", "0.99")}}
    if labels is not None and (by_label := scores_by_label(scores, labels)):
        report["by_label"] = by_label
    return report


def anomalies_run(run: Run | str | Path, data: str, top: int = 10, out: str | Path | None = None, metric: str = "auto",
                  force: bool = False) -> dict:
    """Score ``data`` with a run's model (all of a file or folder, read as the run reads its data; a named
    dataset's test split); a report with the ``top`` most anomalous inputs, how the scores of each label compare
    when the data has labels, and a figure at ``out``. A run trained on patches scores whole images, in tiles."""
    from aekit.apps.figures import save_figure

    if top < 1:
        raise AekitError("`top` must be at least 1")
    out = png_output(out)
    refuse_existing([out], force, inputs=[data])
    run = as_run(run)
    model, norm = run.model, run.normalizer
    if norm.kind == "image" and patch_size(run):
        return _tiled_anomalies(run, data, top, out, metric)
    shape = tuple(model.config.input_shape)
    samples = run_samples(run, data)  # all of a file or folder, a named dataset's test split
    x, names, source = samples.x, [str(i) for i in samples.ids], samples.source
    if len(x) == 0:
        raise AekitError(f"{data} holds no inputs")
    xt = norm.transform(x) if norm.kind == "image" else norm.transform(x.reshape(len(x), -1), clip=False)
    if tuple(xt.shape[1:]) != shape:
        raise AekitError(f"{source}: samples have shape {tuple(xt.shape[1:])} in model space, the model expects {shape}")
    xt = torch.from_numpy(np.ascontiguousarray(xt))
    metric = resolve_metric(metric, shape)
    scores = anomaly_scores(model, xt, metric)
    report = _report(run, source, names, scores, samples.labels, metric, top)
    if out is not None:
        pick = [row["index"] for row in report["top"][:MAX_FIGURE]]
        recon = norm.inverse(run.reconstruct(xt[pick]).clamp(0, 1).numpy())
        fig = anomaly_figure(list(x[pick]), list(recon), [names[i] for i in pick], scores[pick],
                             f"{run.path.name}: the {len(pick)} most anomalous of {len(x)} ({metric} score)")
        save_figure(fig, out, mark=make_mark("anomalies", run.fingerprint, rows=["input", "reconstruction"]))
        report["figure"] = str(out)
    return report


def scores_by_label(scores: np.ndarray, labels: np.ndarray, max_classes: int = 20) -> dict | None:
    """For each label (2 to ``max_classes`` of them): how many inputs have it, their median score, and the AUROC of
    the score for telling that label from the rest (above 0.5: the model finds it more anomalous than the rest; a
    label column marking known anomalies reads as how well the score finds them)."""
    classes = np.unique(labels)
    if not 2 <= len(classes) <= max_classes:
        return None
    return {str(c): {"n": int((labels == c).sum()), "median_score": float(np.median(scores[labels == c])),
                     "auroc": auroc(labels == c, scores)} for c in classes}


def tile_scores(run: Run, image: np.ndarray, metric: str = "auto") -> np.ndarray:
    """The anomaly scores of the tiles of a uint8 image (H, W[, C]) of any size for a run trained on patches: tiles
    of the patch size in ``aekit.apps.tiles.tile_spots`` order, without overlap (the last ones flush with the far
    edges)."""
    metric = resolve_metric(metric, tuple(run.model.config.input_shape))
    batches = tile_batches(to_model(run, image), patch_size(run))
    return np.concatenate([anomaly_scores(run.model, torch.from_numpy(t), metric) for _, t in batches])


def _tiled_anomalies(run: Run, data: str, top: int, out: Path | None, metric: str) -> dict:
    """``anomalies_run`` for a run trained on patches: whole images scored by their worst tile."""
    from aekit.apps.figures import save_figure

    whole = whole_samples(run, data)  # all of a file or folder, a named dataset's test split
    images, names = whole.images, [str(i) for i in whole.ids]
    if not images:
        raise AekitError(f"{data} holds no images")
    tile, metric = patch_size(run), resolve_metric(metric, tuple(run.model.config.input_shape))
    per_tile = [tile_scores(run, im, metric) for im in images]
    report = _report(run, whole.source, names, np.array([t.max() for t in per_tile]), whole.labels, metric, top)
    report["image_score"] = f"its worst {tile[0]}x{tile[1]} tile's"
    for row in report["top"]:
        scores, (h, w) = per_tile[row["index"]], images[row["index"]].shape[:2]
        y, x = tile_spots((max(h, tile[0]), max(w, tile[1])), tile)[int(np.argmax(scores))]
        row.update(mean_tile_score=float(scores.mean()), tiles=len(scores), worst_tile=[y, x, *tile])
    if out is not None:
        pick = [row["index"] for row in report["top"][:MAX_MAPS]]
        recon = [to_pixels(run, apply_tiled(on_numpy(run.reconstruct), to_model(run, images[i]), tile, (0, 0)))
                 for i in pick]
        maps = [tile_map(per_tile[i], images[i].shape[:2], tile) for i in pick]
        title = (f"{run.path.name}: the {len(pick)} most anomalous of {len(images)} images (score: {metric} of the "
                 f"worst {tile[0]}x{tile[1]} tile)")
        fig = anomaly_figure([images[i] for i in pick], recon, [names[i] for i in pick],
                             np.array([row["score"] for row in report["top"][:MAX_MAPS]]), title, maps, metric)
        save_figure(fig, out, mark=make_mark("anomalies", run.fingerprint, rows=["input, tile scores",
                                                                                 "reconstruction"]))
        report["figure"] = str(out)
    return report


__all__ = ["anomaly_figure", "anomaly_scores", "anomalies_run", "resolve_metric", "scores_by_label", "tile_scores"]
