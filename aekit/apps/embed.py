"""``aekit embed``: a run's codes for every sample of a file or folder (or a named dataset's split), each beside its
id, saved as an array or a CSV, and a 2-D map coloured by label.

For a map that separates classes, train with the neighbour-preserving term (parametric UMAP's loss on an input-space
kNN graph, ``aekit.models.neighbors``), e.g. ``aekit train --model dense --code-size 2 --set neighbor_weight=1
--set code_activation=identity``; a plain autoencoder's 2-D code mixes classes far more.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aekit.apps.patch_runs import patch_size, pooled_codes, whole_samples
from aekit.apps.samples import run_samples
from aekit.errors import AekitError
from aekit.fileio import atomic_write, make_folder, png_output, refuse_existing
from aekit.metrics.codes import knn_accuracy
from aekit.runs.run import Run, as_run

OUT_SUFFIXES = (".npy", ".npz", ".csv")
MAX_POINTS = 20_000  # drawn in the figure (a seeded subset beyond that)


def _outputs(out: Path, has_labels: bool) -> list[Path]:
    """The files ``embed`` writes: codes.npz or codes.csv alone (codes, ids, labels), or codes.npy with
    codes.ids.npy and codes.labels.npy beside it."""
    if out.suffix in (".npz", ".csv"):
        return [out]
    return [out, out.with_suffix(".ids.npy")] + ([out.with_suffix(".labels.npy")] if has_labels else [])


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def map_points(codes: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D points to draw: the codes themselves when they are 2-D, else their first two principal components."""
    if codes.shape[1] == 2:
        return codes, "code"
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "code (1-D)"
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(codes), f"PCA of the {codes.shape[1]}-D code"


def map_figure(codes: np.ndarray, labels: np.ndarray | None, path: str | Path, title: str, seed: int = 0) -> Path:
    """A scatter of the codes (or of their 2-D PCA) coloured by label, as a PNG."""
    from aekit.apps.figures import colormap, save_figure, subplots

    pts, what = map_points(codes, seed)
    if len(pts) > MAX_POINTS:
        keep = np.random.default_rng(seed).choice(len(pts), MAX_POINTS, replace=False)
        pts, labels = pts[keep], None if labels is None else labels[keep]
    fig, ax = subplots(figsize=(6, 5.5))
    size = float(np.clip(4000 / max(len(pts), 1), 0.5, 10))  # dots shrink as points crowd
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=size, alpha=0.5, color="tab:blue", rasterized=True)
    else:
        classes = np.unique(labels)
        cmap = colormap("tab10" if len(classes) <= 10 else "tab20")
        for i, c in enumerate(classes):
            sel = labels == c
            ax.scatter(pts[sel, 0], pts[sel, 1], s=size, alpha=0.6, color=cmap(i % cmap.N), label=str(c),
                       rasterized=True)
        if len(classes) <= 20:
            ax.legend(markerscale=max(1.0, 6 / size**0.5), fontsize=7, loc="best", frameon=False)
    ax.set_title(f"{title}\n{what}, {len(pts)} points", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
    save_figure(fig, path, dpi=120)
    return Path(path)


@dataclass
class Embedding:
    """What ``embed_run`` made: the codes (N, code_size), each one's id and label, where they came from, the files
    written, and how well the codes keep the labels' classes apart (``knn``; None without labels)."""

    codes: np.ndarray
    ids: np.ndarray
    labels: np.ndarray | None
    source: str
    files: list[Path]
    knn: dict | None = None


def _csv_bytes(codes: np.ndarray, ids: np.ndarray, labels: np.ndarray | None) -> bytes:
    """A CSV: id, label (when there are labels), code_1 ... code_k, one row per sample."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", *(["label"] if labels is not None else []), *(f"code_{j + 1}" for j in range(codes.shape[1]))])
    for i, row in enumerate(codes):
        w.writerow([ids[i], *([labels[i]] if labels is not None else []), *(f"{v:.8g}" for v in row)])
    return buf.getvalue().encode()


def _write(out: Path, codes: np.ndarray, ids: np.ndarray, labels: np.ndarray | None) -> list[Path]:
    files = _outputs(out, labels is not None)
    make_folder(out.parent, target=out)
    if out.suffix == ".csv":
        atomic_write(out, _csv_bytes(codes, ids, labels))
    elif out.suffix == ".npz":
        atomic_write(out, _npz_bytes(codes=codes, ids=ids, **({"labels": labels} if labels is not None else {})))
    else:
        for path, array in zip(files, (codes, ids, labels)):
            atomic_write(path, _npy_bytes(array))
    return files


def _knn(codes: np.ndarray, inputs: np.ndarray, labels: np.ndarray | None) -> dict | None:
    """kNN-5 accuracy of the labels from the codes, and from the inputs in model space for comparison."""
    if labels is None:
        return None
    by_codes = knn_accuracy(codes, labels)
    if by_codes is None:
        return None
    return {"k": 5, "folds": 5, "codes": by_codes, "inputs": knn_accuracy(inputs, labels)}


def embed_run(run: Run | str | Path, out: str | Path, data: str | None = None, split: str | None = None,
              figure: str | Path | None = None, force: bool = False) -> Embedding:
    """Encode every sample of ``data`` (default: the run's own data), a file or folder, or the ``split`` of a named
    dataset (default "test"); write the codes with each one's id (row number, CSV id column or file name) and label,
    and optionally the map. A run trained on patches gives one code per whole image of any size: the mean of the
    codes of its tiles."""
    out = Path(out)
    if out.suffix not in OUT_SUFFIXES:  # before any loading: a bad name is a one-line error at once
        raise AekitError(f"`out` must end in .npy, .npz or .csv, got {out.name}")
    refuse_existing(_outputs(out, True) + ([png_output(figure)] if figure else []), force, inputs=[data])
    run = as_run(run)
    if patch_size(run) and run.normalizer.kind == "image":
        return _pooled(run, out, data, split, figure)
    model, norm, samples = run.model, run.normalizer, run_samples(run, data, split)
    x = torch.from_numpy(norm.transform(samples.x))
    if tuple(x.shape[1:]) != tuple(model.config.input_shape):
        raise AekitError(f"{samples.source}: samples have shape {tuple(x.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    codes = run.encode(x).flatten(1).numpy()
    files = _write(out, codes, samples.ids, samples.labels)
    result = Embedding(codes, samples.ids, samples.labels, samples.source, files,
                       _knn(codes, x.numpy(), samples.labels))
    if figure:
        make_folder(Path(figure).parent, target=figure)
        title = f"{run.path.name}: {run.name}, code size {codes.shape[1]}, {samples.source}"
        result.files.append(map_figure(codes, samples.labels, figure, title))
    return result


def _pooled(run: Run, out: Path, data: str | None, split: str | None, figure: str | Path | None) -> Embedding:
    """``embed_run`` for a run trained on patches: one code per whole image of any size, the mean of the codes of
    its tiles (``aekit.apps.patch_runs.pooled_codes``). Images of different sizes have no common input space, so
    the kNN check is of the codes alone."""
    tile = patch_size(run)
    whole = whole_samples(run, data, split)
    codes = pooled_codes(run, whole.images, tile)
    source = f"{whole.source}, each the mean of its {tile[0]}x{tile[1]} tiles' codes"
    by_codes = None if whole.labels is None else knn_accuracy(codes, whole.labels)
    knn = None if by_codes is None else {"k": 5, "folds": 5, "codes": by_codes, "inputs": None}
    result = Embedding(codes, whole.ids, whole.labels, source, _write(out, codes, whole.ids, whole.labels), knn)
    if figure:
        make_folder(Path(figure).parent, target=figure)
        title = f"{run.path.name}: {run.name}, code size {codes.shape[1]}, {source}"
        result.files.append(map_figure(codes, whole.labels, figure, title))
    return result
