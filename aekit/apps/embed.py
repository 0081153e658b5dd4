"""``aekit embed``: a run's codes for a dataset split, saved as an array, and a 2-D map coloured by label.

For a map that separates classes, train with the neighbour-preserving term (parametric UMAP's loss on an input-space
kNN graph, ``aekit.models.neighbors``), e.g. ``aekit train --model dense --code-size 2 --set neighbor_weight=1
--set code_activation=identity``; a plain autoencoder's 2-D code mixes classes far more.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from aekit.errors import AekitError
from aekit.fileio import atomic_write, make_folder, png_output, refuse_existing
from aekit.runs.run import Run, as_run

SPLITS = ("train", "test")
MAX_POINTS = 20_000  # drawn in the figure (a seeded subset beyond that)


def _outputs(out: Path, has_labels: bool) -> list[Path]:
    """The files ``embed`` writes: codes.npz alone (codes + labels), or codes.npy plus codes.labels.npy."""
    if out.suffix == ".npz" or not has_labels:
        return [out]
    return [out, out.with_suffix(".labels.npy")]


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
    from aekit.apps.figures import plt, save_figure

    pts, what = map_points(codes, seed)
    if len(pts) > MAX_POINTS:
        keep = np.random.default_rng(seed).choice(len(pts), MAX_POINTS, replace=False)
        pts, labels = pts[keep], None if labels is None else labels[keep]
    fig, ax = plt.subplots(figsize=(6, 5.5))
    size = float(np.clip(4000 / max(len(pts), 1), 0.5, 10))  # dots shrink as points crowd
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=size, alpha=0.5, color="tab:blue", rasterized=True)
    else:
        classes = np.unique(labels)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
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


def embed_run(run: Run | str | Path, out: str | Path, data: str | None = None, split: str = "test",
              figure: str | Path | None = None, force: bool = False) -> tuple[list[Path], np.ndarray]:
    """Encode a split of the run's dataset (or of ``data``); write the codes (and labels) and optionally the map.
    Returns the files written and the codes."""
    if split not in SPLITS:
        raise AekitError(f"`split` must be one of {SPLITS}, got {split!r}")
    out = Path(out)
    if out.suffix not in (".npy", ".npz"):  # before any loading: a bad name is a one-line error at once
        raise AekitError(f"`out` must end in .npy or .npz, got {out.name}")
    planned = [out, out.with_suffix(".labels.npy")] + ([png_output(figure)] if figure else [])
    refuse_existing(planned, force, inputs=[data])
    run = as_run(run)
    model, norm, ds = run.model, run.normalizer, run.dataset(data)
    x_raw, labels = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    x = torch.from_numpy(norm.transform(x_raw))
    if tuple(x.shape[1:]) != tuple(model.config.input_shape):
        raise AekitError(f"data samples have shape {tuple(x.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    codes = run.encode(x).flatten(1).numpy()
    files = _outputs(out, labels is not None)
    make_folder(out.parent, target=out)
    if out.suffix == ".npz":
        arrays = {"codes": codes} if labels is None else {"codes": codes, "labels": np.asarray(labels)}
        atomic_write(out, _npz_bytes(**arrays))
    else:
        atomic_write(out, _npy_bytes(codes))
        if labels is not None:
            atomic_write(files[1], _npy_bytes(np.asarray(labels)))
    if figure:
        make_folder(Path(figure).parent, target=figure)
        title = f"{run.path.name}: {run.name}, code size {codes.shape[1]}, {ds.name} {split}"
        files.append(map_figure(codes, labels, figure, title))
    return files, codes
