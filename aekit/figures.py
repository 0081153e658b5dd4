"""Figures: the article's picture of inputs over their reconstructions."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .fileio import atomic_write  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 100) -> None:
    """Render a figure to PNG and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def show_sample(ax, item: np.ndarray) -> None:
    """Draw one sample on an axis: an image, or a table row as a strip."""
    ax.set_axis_off()
    if item.ndim == 1:  # a table row: draw it as a strip
        ax.imshow(item[None, :], aspect="auto", cmap="viridis")
    elif item.ndim == 2:
        ax.imshow(item, cmap="gray", vmin=0, vmax=255 if item.dtype == np.uint8 else 1)
    else:
        ax.imshow(item)


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray, path: str | Path,
                          title: str | None = None) -> None:
    """Top row: inputs; bottom row: their reconstructions (the article's figure), as a PNG."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(max(n, 2) * 1.0, 2.2), squeeze=False)
    for i in range(n):
        show_sample(axes[0, i], originals[i])
        show_sample(axes[1, i], reconstructions[i])
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
