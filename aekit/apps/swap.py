"""``aekit swap-train`` and ``aekit swap``: train a swap run on two or more image domains, render images of one
domain as another, and draw the figure (originals, own-domain reconstructions, swaps). Every synthetic file is marked.

A swap run is an ordinary run folder whose ``config.json`` ``data`` entry also lists its domains (name, source); its
``source`` is the first domain's, so eval, reconstruct and generate treat a swap run as a model of its first domain.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from aekit.apps.inputs import expand_inputs, read_model_image
from aekit.data import Normalizer, load_dataset, sample_shape
from aekit.data.dataset import IMAGE, Dataset
from aekit.data.npyfile import read_npy
from aekit.errors import AekitError
from aekit.fileio import claim_outputs, make_folder, refuse_existing
from aekit.models import build_model
from aekit.runs import files as ckpt
from aekit.runs.presets import SWAP_TRAIN
from aekit.runs.provenance import companions, make_mark, save_array, save_png
from aekit.runs.writer import train
from aekit.training.config import train_config_from_dict

log = logging.getLogger(__name__)

FIGURE = "swaps.png"
EVAL = "eval.json"


def _source(text: str) -> str:
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text


def load_domains(domains: dict[str, str], image_size=None, test_fraction: float = 0.1,
                 seed: int = 0) -> dict[str, Dataset]:
    """Load every domain's images; they must share one sample shape (pass ``image_size`` to resize them)."""
    out = {}
    for name, source in domains.items():
        ds = load_dataset(source, image_size=tuple(image_size) if image_size else None,
                          test_fraction=test_fraction, seed=seed)
        if ds.kind != IMAGE:
            raise AekitError(f"domain {name!r} ({source}) holds table data; swap works on images")
        out[name] = ds
    if len({sample_shape(ds)[0] for ds in out.values()}) > 1:  # grey and colour domains: all become RGB (lossless)
        for name, ds in out.items():
            if ds.x_train.ndim == 3:
                log.info("domain %r is greyscale: using it as RGB like the other domains", name)
                ds.x_train, ds.x_test = (np.repeat(x[..., None], 3, axis=-1) for x in (ds.x_train, ds.x_test))
    shapes = {name: sample_shape(ds) for name, ds in out.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in shapes.items())
        raise AekitError(f"the domains' images differ in size ({listed}); pass --image-size HxW")
    return out


def domain_arrays(datasets: dict[str, Dataset], norm: Normalizer, split: str = "train",
                  limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every domain's images of one split in model space, stacked, and each image's domain index (N,)."""
    xs, ids = [], []
    for i, ds in enumerate(datasets.values()):
        x = ds.x_train if split == "train" else ds.x_test
        x = x[:limit] if limit else x
        xs.append(torch.from_numpy(norm.transform(x)))
        ids.append(torch.full((len(x),), i, dtype=torch.long))
    return torch.cat(xs), torch.cat(ids)


def train_swap(domains: dict[str, str], out: str | Path, model_options: dict | None = None,
               train_options: dict | None = None, image_size=None, test_fraction: float = 0.1,
               force: bool = False, progress: bool | None = None) -> Path:
    """Train a swap model (shared encoder, one decoder per domain) on the named domains into run folder ``out``."""
    if len(domains) < 2:
        raise AekitError("a swap run needs at least two domains")
    sources = {name: _source(src) for name, src in domains.items()}
    tr = {**SWAP_TRAIN, **{k: v for k, v in (train_options or {}).items() if v is not None}, "balance": "domain"}
    try:
        tcfg = train_config_from_dict(tr)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad training option: {e}") from None
    ckpt.check_run_dir(out, force=force)
    datasets = load_domains(sources, image_size, test_fraction)
    first = next(iter(datasets.values()))
    norm = Normalizer.fit(first)  # images: the fixed 0..255 scale, the same for every domain
    x, ids = domain_arrays(datasets, norm)
    try:
        torch.manual_seed(tcfg.seed)  # initialisation is part of the seeded run
        options = {k: v for k, v in (model_options or {}).items() if v is not None}
        model = build_model("swap", {**options, "input_shape": sample_shape(first), "domains": tuple(sources)})
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad model option: {e}") from None
    data_info = {"source": next(iter(sources.values())), "image_size": list(image_size) if image_size else None,
                 "test_fraction": test_fraction, "kind": IMAGE, "origin": first.source,
                 "normalizer": norm.to_dict(),
                 "domains": [{"name": n, "source": s, "origin": datasets[n].source, "train": len(datasets[n].x_train),
                              "test": len(datasets[n].x_test)} for n, s in sources.items()]}
    with ckpt.new_run_dir(out, force=force):  # only now: bad data or options leave no folder behind
        train(model, x, tcfg, out, data_info=data_info, progress=progress, side={"domain": ids})
    return Path(out)


def run_domains(cfg: dict, where) -> tuple[dict[str, Dataset], Normalizer]:
    """A swap run's domain datasets (as it was trained on them) and its normaliser."""
    data = cfg.get("data") or {}
    listed = data.get("domains")
    if cfg.get("model") != "swap" or not isinstance(listed, list) or not listed:
        raise AekitError(f"{where} is not a swap run (train one with aekit swap-train)")
    try:
        sources = {str(d["name"]): str(d["source"]) for d in listed}
    except (KeyError, TypeError):
        raise AekitError(f"{where}: config.json has a malformed domain list") from None
    datasets = load_domains(sources, data.get("image_size"), data.get("test_fraction", 0.1))
    return datasets, Normalizer.from_dict(data.get("normalizer"))


def resume_swap(run: str | Path, progress: bool | None = None) -> Path:
    """Continue a swap run from its checkpoint, with the data and settings in its config.json."""
    run = Path(run)
    cfg = ckpt.read_run_config(run)
    if not (run / ckpt.STATE).exists():
        raise AekitError(f"{run} has no checkpoint to resume from")
    datasets, norm = run_domains(cfg, run)
    x, ids = domain_arrays(datasets, norm)
    model = ckpt.build_from_config(cfg, run / ckpt.CONFIG, weights=run / ckpt.STATE)  # bounded by the checkpoint
    try:
        tcfg = train_config_from_dict(cfg.get("train") or {})
    except (TypeError, ValueError) as e:
        raise AekitError(f"{run / ckpt.CONFIG}: bad training config ({e})") from None
    train(model, x, tcfg, run, data_info=cfg["data"], resume=True, progress=progress,
          side={"domain": ids})
    return run


@torch.no_grad()
def decode_all(model, x: torch.Tensor, to, batch_size: int = 512) -> torch.Tensor:
    """Model-space images decoded by domain ``to`` (a name, an index, or per-sample ids (N,)) in batches."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        target = to[i : i + batch_size] if isinstance(to, torch.Tensor) else to
        out.append(model.decode(model.encode(x[i : i + batch_size]), target))
    return torch.cat(out) if out else torch.empty_like(x)


def load_swap_run(run: str | Path):
    """A swap run's model (eval mode), config and weights fingerprint."""
    run = Path(run)
    model, cfg = ckpt.load_model(run)
    if cfg["model"] != "swap":
        raise AekitError(f"{run} is a {cfg['model']} run, not a swap run (train one with aekit swap-train)")
    return model, cfg, ckpt.fingerprint(run / ckpt.WEIGHTS)


def swap_images(run: str | Path, images: np.ndarray, to: str) -> tuple[np.ndarray, dict]:
    """uint8 images (N, H, W[, C]) of any of the run's domains rendered as domain ``to`` (uint8, same shape), and
    the provenance mark they should carry."""
    model, cfg, fp = load_swap_run(run)
    return _render(model, cfg, images, to), make_mark("swap", fp, model="swap", to=to)


def _render(model, cfg: dict, images: np.ndarray, to: str) -> np.ndarray:
    if to not in model.domains:
        raise AekitError(f"unknown domain {to!r}; this run has {', '.join(model.domains)}")
    norm = Normalizer.from_dict((cfg.get("data") or {}).get("normalizer"))
    x = torch.from_numpy(norm.transform(_check_images(images, tuple(model.config.input_shape), "input")))
    return norm.inverse(decode_all(model, x, to).clamp(0, 1).numpy())


def _check_images(images: np.ndarray, shape: tuple[int, int, int], what: str) -> np.ndarray:
    c, h, w = shape
    want = (h, w) if c == 1 else (h, w, c)
    if images.dtype != np.uint8 or images.ndim != len(want) + 1 or images.shape[1:] != want:
        raise AekitError(f"{what}: expected uint8 images shaped (N, {', '.join(map(str, want))}), "
                         f"got {images.dtype} {images.shape}")
    return images


def swap_files(run: str | Path, to: str, inputs: list[str], out_dir: str | Path, force: bool = False) -> list[Path]:
    """Render image files (or .npy stacks of uint8 images) as domain ``to``: ``DIR/<name>-to-<to>.png`` (or
    ``.npy`` with a side-car provenance JSON), each marked; nothing is overwritten without ``force``."""
    model, cfg, fp = load_swap_run(run)
    if to not in model.domains:
        raise AekitError(f"unknown domain {to!r}; this run has {', '.join(model.domains)}")
    files = expand_inputs(inputs)
    out_dir = Path(out_dir)
    outs = [out_dir / f"{f.stem}-to-{to}{'.npy' if f.suffix.lower() == '.npy' else '.png'}" for f in files]
    claim_outputs(files, outs, force, companions)
    shape = tuple(model.config.input_shape)
    arrays = {f: read_npy(f) if f.suffix.lower() == ".npy" else read_model_image(f, shape)[None] for f in files}
    for f, a in arrays.items():
        _check_images(a, shape, str(f))
    make_folder(out_dir)
    written = []
    for f, dest in zip(files, outs):
        images = _render(model, cfg, arrays[f], to)
        mark = make_mark("swap", fp, model="swap", to=to, source_file=f.name)
        written.append(save_array(dest, images, mark) if dest.suffix == ".npy" else save_png(dest, images[0], mark))
    return written


def open_swap_run(run: str | Path) -> tuple:
    """A swap run's model, config, fingerprint, domain datasets and normaliser, loaded once for several uses."""
    model, cfg, fp = load_swap_run(run)
    return (model, cfg, fp, *run_domains(cfg, run))


def swap_figure(run: str | Path, out: str | Path | None = None, n: int = 8, force: bool = False,
                opened: tuple | None = None) -> Path:
    """The run's figure: for each domain, n test images, their own-domain reconstructions and their swaps into every
    other domain, side by side (marked: it shows synthetic images)."""
    from aekit.apps.figures import swap_figure as draw

    run = Path(run)
    out = Path(out) if out else run / FIGURE
    refuse_existing([out], force)
    if not 1 <= n <= 32:
        raise AekitError("-n must be between 1 and 32")
    model, cfg, fp, datasets, norm = opened or open_swap_run(run)
    blocks = []
    for i, (name, ds) in enumerate(datasets.items()):
        x = torch.from_numpy(norm.transform(ds.x_test[:n]))
        rows = [(f"{name}: test images", ds.x_test[:n]),
                (f"{name} -> {name} (reconstruction)", norm.inverse(decode_all(model, x, i).clamp(0, 1).numpy()))]
        rows += [(f"{name} -> {other} (swap)", norm.inverse(decode_all(model, x, j).clamp(0, 1).numpy()))
                 for j, other in enumerate(datasets) if j != i]
        blocks.append(rows)
    draw(blocks, out, make_mark("swap-figure", fp, model="swap", n=n), title=f"{run.name}: swap between "
         + ", ".join(datasets))
    return out


@torch.no_grad()
def swap_eval(run: str | Path, opened: tuple | None = None) -> dict:
    """Per domain: test MSE of own-domain reconstructions (model space)."""
    model, _, _, datasets, norm = opened or open_swap_run(run)
    out = {}
    for i, (name, ds) in enumerate(datasets.items()):
        x = torch.from_numpy(norm.transform(ds.x_test))
        out[name] = {"test_mse": float(((decode_all(model, x, i) - x) ** 2).mean()), "test_images": len(x)}
    return {"domains": out}


def finish_swap(run: str | Path) -> str:
    """After training: per-domain test MSE into eval.json, the figure, and a one-paragraph summary."""
    run = Path(run)
    opened = open_swap_run(run)
    metrics = swap_eval(run, opened)
    ckpt.write_json(run / EVAL, metrics)
    fig = swap_figure(run, force=True, opened=opened)
    hist = ckpt.read_metrics(run)
    mses = ", ".join(f"{k} {v['test_mse']:.5f}" for k, v in metrics["domains"].items())
    return f"run {run}: {ckpt.trained_for(hist)}, test MSE of own-domain reconstructions: {mses}\n" \
           f"figure: {fig}"
