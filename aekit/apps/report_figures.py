"""The report's own figures: a run's training curves (from metrics.jsonl) and the code-size sweep of several runs
beside PCA at the same code sizes."""

from __future__ import annotations

import math
from pathlib import Path


def loss_series(history: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """Each loss a run recorded (``train_loss``, ``val_loss`` and their parts such as ``train_kl``), as (epoch,
    value) points; a part equal to the whole loss in every record (a plain autoencoder's ``recon``) is left out, and
    so are weights (a VAE's ``train_kl_weight``)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for i, row in enumerate(history):
        x = float(row.get("epochs_done", row.get("epoch", i + 1)))
        for key, value in row.items():
            if (key.startswith(("train_", "val_")) and not key.endswith("_weight")  # a schedule, not a loss
                    and isinstance(value, (int, float)) and math.isfinite(value)):
                series.setdefault(key, []).append((x, float(value)))
    for split in ("train", "val"):
        whole = series.get(f"{split}_loss")
        for key in [k for k in series if k.startswith(split + "_") and k != f"{split}_loss"]:
            if whole is not None and series[key] == whole:
                del series[key]
    return series


def curves_figure(history: list[dict], path: str | Path, title: str) -> Path:
    """Training and validation losses per epoch (left) and the learning rate (right), as a PNG."""
    from aekit.apps.figures import save_figure, subplots

    series = loss_series(history)
    fig, (ax, lr_ax) = subplots(1, 2, figsize=(9, 3.2), width_ratios=(2, 1), layout="constrained")
    for key, points in series.items():
        xs, ys = zip(*points)
        main = key in ("train_loss", "val_loss")
        ax.plot(xs, ys, "--" if key.startswith("val_") else "-", marker="o" if len(xs) < 30 else None,
                linewidth=2 if main else 1, markersize=3, label=key)
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_ylabel("loss", fontsize=8)
    if series:
        ax.legend(fontsize=7, frameon=False)
    rates = [(float(r.get("epochs_done", i + 1)), r["lr"]) for i, r in enumerate(history) if "lr" in r]
    if rates:
        lr_ax.plot(*zip(*rates), marker="o" if len(rates) < 30 else None, markersize=3, color="tab:gray")
    lr_ax.set_xlabel("epoch", fontsize=8)
    lr_ax.set_ylabel("learning rate (end of epoch)", fontsize=8)
    for a in (ax, lr_ax):
        a.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9, parse_math=False)
    save_figure(fig, path, dpi=100)
    return Path(path)


def sweep_figure(points: list[dict], path: str | Path) -> Path:
    """Test MSE against code size: one dot per run (labelled with its name), a line through the runs of one model
    on one dataset, and a dashed grey line of PCA at the same code sizes fitted to each dataset (``points``: dicts
    of ``name``, ``model_name``, ``data``, ``code_size``, ``test_mse`` and ``pca_mse``), as a PNG."""
    from aekit.apps.figures import save_figure, subplots

    fig, ax = subplots(figsize=(6.5, 4), layout="constrained")
    points = sorted(points, key=lambda p: p["code_size"])
    datasets = list(dict.fromkeys(str(p["data"]) for p in points))
    models = list(dict.fromkeys((str(p["model_name"]), str(p["data"])) for p in points))
    for i, (model, data) in enumerate(models):
        group = [p for p in points if (str(p["model_name"]), str(p["data"])) == (model, data)]
        label = model + (f", {data}" if len(datasets) > 1 else "")
        ax.plot([p["code_size"] for p in group], [p["test_mse"] for p in group], "o-", color=f"C{i % 10}",
                label=label)
    for j, data in enumerate(datasets):
        pca = {p["code_size"]: p["pca_mse"] for p in points if str(p["data"]) == data and p.get("pca_mse") is not None}
        if pca:
            ax.plot(list(pca), list(pca.values()), "s", linestyle=("--", ":", "-.")[j % 3], color="0.45",
                    label="PCA, same code size" + (f", {data}" if len(datasets) > 1 else ""))
    for p in points:
        ax.annotate(p["name"], (p["code_size"], p["test_mse"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=7, parse_math=False)
    ks = sorted({p["code_size"] for p in points})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("code size")
    ax.set_ylabel("test MSE")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("test MSE against code size", fontsize=9)
    save_figure(fig, path, dpi=100)
    return Path(path)
