"""Figures: the article's picture of inputs over their reconstructions; the swap figure; a table's error per column."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aekit.fileio import atomic_write, ensure_parent


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, layout: str | None = None,
             **options):
    """``pyplot.subplots`` without pyplot: a figure on its own Agg canvas, which no display or pyplot state sees. So
    drawing is safe in any thread, and a notebook's or script's own pyplot backend is left as it was."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)  # renders files, as pyplot's Agg backend did
    return fig, fig.subplots(nrows, ncols, **options)


def colormap(name: str):
    """A matplotlib colormap by name."""
    return matplotlib.colormaps[name]


def save_figure(fig, path: str | Path, dpi: int = 100, mark: dict | None = None) -> None:
    """Render a figure to PNG and write it atomically; with ``mark`` (a figure that shows model output), as a
    provenance-marked PNG whose content credentials call it a composite of model output and real images."""
    ensure_parent(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if mark is None:
        atomic_write(path, buf.getvalue())
        return
    from PIL import Image

    from aekit.runs.provenance import save_png

    buf.seek(0)
    with Image.open(buf) as im:
        im.load()
        save_png(path, im, mark, composite=True)


def show_sample(ax, item: np.ndarray) -> None:
    """Draw one sample on an axis: an image, or a table row as a strip."""
    ax.set_axis_off()
    if item.ndim == 1:  # a table row: draw it as a strip
        ax.imshow(item[None, :], aspect="auto", cmap="viridis")
    elif item.ndim == 2:
        ax.imshow(item, cmap="gray", vmin=0, vmax=255 if item.dtype == np.uint8 else 1)
    else:
        ax.imshow(item)


def reconstruction_figure(originals: list[np.ndarray], reconstructions: list[np.ndarray], path: str | Path,
                          mark: dict, title: str | None = None, extra: tuple[tuple[str, list], ...] = (),
                          labels: tuple[str, str] = ("input", "reconstruction"), cell: float = 1.0) -> None:
    """Top row: inputs; below: their reconstructions (the article's figure), then any ``extra`` labelled rows;
    written as a provenance-marked PNG (reconstructions are model output). Images may differ in size; ``cell``:
    inches per image."""
    rows = [(labels[0], originals), (labels[1], reconstructions), *extra]
    n = len(originals)
    fig, axes = subplots(len(rows), n, figsize=(max(n, 2) * cell, (1.1 * cell + 0.1) * len(rows) + 0.3),
                         squeeze=False, layout="constrained")
    for r, (label, images) in enumerate(rows):
        for i in range(n):
            show_sample(axes[r, i], images[i])
        axes[r, 0].set_title(label, fontsize=8, loc="left")
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path, mark=mark)


def name_label(name: str, width: int = 16) -> str:
    """A file name for a figure, whole, in lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(name, width, break_on_hyphens=False) or [name])


def swap_figure(blocks: list[list[tuple[str, np.ndarray]]], path: str | Path, mark: dict,
                title: str | None = None) -> None:
    """Rows of images side by side, grouped in blocks (one per source domain: originals, own-domain
    reconstructions, swaps), each row labelled; written as a provenance-marked PNG."""
    rows = [row for block in blocks for row in block]
    n = max(len(images) for _, images in rows)
    fig, axes = subplots(len(rows), n, figsize=(max(n, 2) * 0.9, len(rows) * 1.05), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            axes[r, c].set_axis_off()
            if c < len(images):
                show_sample(axes[r, c], images[c])
        axes[r, 0].set_title(label, fontsize=7, loc="left")
    if title:
        height = fig.get_figheight()
        fig.subplots_adjust(top=1 - 0.45 / height)  # the title's room in inches, not a share of a tall figure
        fig.suptitle(title, fontsize=9, y=1 - 0.1 / height)
    save_figure(fig, path, mark=mark)


MAX_BARS = 60  # columns drawn in the column-error figure at most (the worst ones beyond that)


def column_error_figure(errors: dict[str, float], path: str | Path, title: str,
                        baseline: tuple[str, dict[str, float]] | None = None) -> None:
    """A bar chart of a table's test MSE per column (horizontal bars, in the file's column order), beside a
    ``baseline`` (its label and its MSE per column), such as PCA of the same code size."""
    names = list(errors)
    if len(names) > MAX_BARS:
        worst = set(sorted(names, key=lambda n: -errors[n])[:MAX_BARS])
        title += f"\nthe {MAX_BARS} columns of {len(names)} with the largest error"
        names = [n for n in names if n in worst]
    y = np.arange(len(names))
    fig, ax = subplots(figsize=(7, 0.22 * len(names) + 1.4))
    height = 0.4 if baseline else 0.8
    ax.barh(y - (0.2 if baseline else 0), [errors[n] for n in names], height=height, color="tab:blue",
            label="autoencoder")
    if baseline:
        ax.barh(y + 0.2, [baseline[1][n] for n in names], height=height, color="tab:gray", label=baseline[0])
        ax.legend(fontsize=8, loc="best", frameon=False)
    ax.set_yticks(y, [n[:40] for n in names], fontsize=7)
    ax.invert_yaxis()  # first column on top
    ax.set_xlabel("test MSE, each column scaled to [0, 1] by its training range", fontsize=8)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path, dpi=110)
