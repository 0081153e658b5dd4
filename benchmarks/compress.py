"""Compressing MNIST digits one file per image: aekit's .aek files against PNG, JPEG, WebP (and AVIF where Pillow
has it), every byte of every file counted, same digits, same run.

aekit trains one compressive autoencoder (`aekit train --preset compress`, all quality levels in one model) on the
60k training digits, or takes an existing run (--run). Each of the --n-test test digits is written as its own file
by every codec at every setting; bits per pixel = 8 * (mean file size in bytes) / 784, headers included. PSNR is
computed per image on the decoded 8-bit image against the original and averaged over images (PNG is lossless:
reported as 99 dB).

    python benchmarks/compress.py [--run RUN | --epochs 6 --device cpu] [--n-test 10000]
                                  [--refine 50 --refine-levels 6,7,8]   (also code with encoder-side refinement)

Prints a JSON object as its last line ({"aekit": [{"setting", "bpp", "psnr"}, ...], "png": [...], "jpeg": [...],
"webp": [...], ...} plus run details), writes benchmarks/results/<name>.json and <name>.png and rebuilds the
`compress` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, argv_text, command, machine, table, update, write_result  # noqa: E402

import aekit  # noqa: E402
from aekit.apps.compress import compress_images, open_codec  # noqa: E402
from aekit.cli.text import parse_sets  # noqa: E402
from aekit.runs import files as ckpt  # noqa: E402
from aekit.runs.settings import resolve_settings  # noqa: E402
from aekit.runs.train import create_run  # noqa: E402

LOSSLESS_PSNR = 99.0
SETTINGS = {
    "png": [None],
    "jpeg": [5, 10, 20, 30, 50, 75, 90],
    "webp": [0, 5, 10, 20, 40, 60, 80, 95],
    "avif": [0, 10, 25, 40, 60, 80],
}
TARGETS = [(0.5, 29.2), (0.25, 20.0)]  # (at most this many bits per pixel, at least this PSNR)
AEKIT = ["aekit", "aekit+refine"]  # the encoder's codes as they are; refined before coding (--refine)


def psnr_per_image(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    mse = ((ref.astype(np.float64) - out.astype(np.float64)) / 255.0) ** 2
    mse = mse.reshape(len(ref), -1).mean(1)
    return np.where(mse == 0, LOSSLESS_PSNR, 10 * np.log10(1.0 / np.maximum(mse, 1e-12)))


def pillow_codec(name: str, setting, images: np.ndarray) -> tuple[float, float]:
    """(bpp, mean PSNR) of one Pillow codec at one setting, each image its own file."""
    fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[name]
    opts = {"png": {"optimize": True}, "jpeg": {"quality": setting, "optimize": True},
            "webp": {"quality": setting, "method": 6}, "avif": {"quality": setting}}[name]
    sizes, decoded = [], []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format=fmt, **opts)
        sizes.append(buf.tell())
        buf.seek(0)
        with Image.open(buf) as im:
            decoded.append(np.asarray(im.convert("L"), dtype=np.uint8))
    bpp = 8 * float(np.mean(sizes)) / images[0].size
    return bpp, float(psnr_per_image(images, np.stack(decoded)).mean())


def aekit_level(run: Path, images: np.ndarray, level: int, threads: int = 1, refine: int = 0) -> tuple[dict, np.ndarray]:
    """Code every image alone at one level (``refine``: steps of encoder-side refinement) and decode it again: the
    point and the first 8 decoded digits."""
    torch.set_num_threads(threads)
    codec = open_codec(run, "cpu")
    t0 = time.perf_counter()
    files = compress_images(codec, list(images), level, refine=refine)
    t1 = time.perf_counter()
    decoded = codec.decode_many(files)
    t2 = time.perf_counter()
    out = np.stack([np.rint(d[0][0].clamp(0, 1).numpy() * 255).astype(np.uint8) for d in decoded])
    bpp = 8 * float(np.mean([len(f) for f in files])) / images[0].size
    point = {"setting": level, "bpp": bpp, "psnr": float(psnr_per_image(images, out).mean()),
             "bytes_min": min(map(len, files)), "bytes_max": max(map(len, files)),
             "encode_ms": 1e3 * (t1 - t0) / len(files), "decode_ms": 1e3 * (t2 - t1) / len(files)}
    print(json.dumps({"codec": "aekit+refine" if refine else "aekit", **point}), file=sys.stderr, flush=True)
    return point, out[:8]


def aekit_points(run: Path, images: np.ndarray, pool: Executor | None, levels: list[int] | None = None,
                 refine: int = 0) -> tuple[list[dict], dict]:
    """Every level of the run (or ``levels``), each in its own worker process when ``pool`` is given."""
    levels = list(range(open_codec(run, "cpu").model.levels)) if levels is None else levels
    n = len(levels)
    if pool is None:
        done = [aekit_level(run, images, lv, torch.get_num_threads(), refine) for lv in levels]
    else:
        done = list(pool.map(aekit_level, [run] * n, [images] * n, levels, [1] * n, [refine] * n))
    return [d[0] for d in done], {lv: d[1] for lv, d in zip(levels, done)}


def baseline_point(name: str, setting, images: np.ndarray) -> dict:
    bpp, db = pillow_codec(name, setting, images)
    point = {"setting": setting if setting is not None else "lossless", "bpp": bpp, "psnr": db}
    print(json.dumps({"codec": name, **point}), file=sys.stderr, flush=True)
    return point


def best_at(points: list[dict], max_bpp: float) -> float | None:
    ok = [p["psnr"] for p in points if p["bpp"] <= max_bpp]
    return max(ok) if ok else None


def plot(result: dict, examples: dict, images: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 5))
    ax = fig.add_subplot(1, 2, 1)
    for name in AEKIT + list(SETTINGS):
        pts = [p for p in result.get(name, []) if p["psnr"] < LOSSLESS_PSNR]
        if pts:
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], "o-", label=name, ms=4)
    if result.get("png"):
        ax.axvline(result["png"][0]["bpp"], color="gray", ls=":", label="png (lossless)")
    for bpp, db in TARGETS:
        ax.plot([bpp], [db], "k*", ms=10)
    ax.set_xlabel("bits per pixel (every byte of every file)")
    ax.set_ylabel("PSNR (dB, mean over images)")
    ax.set_xlim(0, 4.5)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("MNIST test digits, one file each (stars: targets)")
    levels = sorted(examples)
    ax2 = fig.add_subplot(1, 2, 2)
    rows = [images[:8], *(examples[lv] for lv in levels)]
    grid = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    ax2.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax2.set_yticks([14 + 28 * i for i in range(len(rows))],
                   ["original"] + [f"level {lv}: {result['aekit'][lv]['bpp']:.2f} bpp" for lv in levels])
    ax2.set_xticks([])
    ax2.set_title("aekit decoded digits per quality level")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SHORT = (
    "**Where aekit falls short.** Its levels stop at about 0.45 bpp and 28.5 dB from the plain encoder: the decoder's "
    "accuracy, not the rate, limits the top levels (28.2 -> 28.5 dB from level 6 to 8), and aekit cannot code "
    "losslessly or near it, where WebP and AVIF go on to 40-50 dB. Refinement (`aekit compress --refine 50`: each "
    "code refined by 50 Adam steps on the level's own objective, bits + lambda x MSE, decoder and prior frozen; the "
    "same file format) closes part of the encoder's amortisation gap at the top levels (+2.1 dB at level 8) and "
    "almost nothing at level 2, at about 70 ms per digit to encode instead of about 1 ms. The run `cmp` was trained "
    "by `aekit train --preset compress --epochs 20 --time-limit 3000 --out cmp` on one CPU thread; it codes digits "
    "like MNIST's, and other images need a model trained on them.")
UNITS = {"aekit": "level", "aekit+refine": "level", "jpeg": "q", "webp": "q", "avif": "q"}


def codec_row(name: str, codec: str, points: list[dict]) -> list[str]:
    """One codec's span and its best points against TARGETS."""
    unit = UNITS.get(codec, "")
    label = lambda p: f"{unit} {p['setting']}".strip()  # noqa: E731
    cells = []
    for bpp, _ in TARGETS:
        db = best_at(points, bpp)
        cells.append("" if db is None else f"{db:.2f}")
    reach = [p for p in points if p["psnr"] >= TARGETS[0][1]]
    fewest = min(reach, key=lambda p: p["bpp"]) if reach else None
    low, high = (f"{f(p['bpp'] for p in points):.3f}" for f in (min, max))
    return [name, codec, f"{label(points[0])} to {label(points[-1])}" if len(points) > 1 else label(points[0]),
            low if low == high else f"{low}-{high}", *cells,
            f"{fewest['bpp']:.3f} ({label(fewest)})" if fewest else ""]


def section(results: dict) -> str:
    """BENCHMARKS.md's `compress` section: per variant, each codec's span and its best points."""
    rows, levels, runs = [], [], []
    for name, r in results.items():
        rows += [codec_row(name, k, r[k]) for k in AEKIT + list(SETTINGS) if r.get(k)]
        levels += [f"`{name}` {k}: " + ", ".join(f"{p['setting']}: {p['bpp']:.3f} / {p['psnr']:.2f}" for p in r[k])
                   for k in AEKIT if r.get(k)]
        runs.append(f"`{name}`: run `{r['run']}` ({r['train']}), {r['n_test']} test digits, "
                    f"{command('compress.py', r['argv'])}")
    return "\n".join([
        "MNIST test digits, each written as its own file by every codec at every setting; bits per pixel = 8 x mean "
        "file size / 784, headers and checksums included; PSNR per image on the decoded 8-bit image, averaged (PNG "
        "is lossless: 99 dB). aekit: one compressive autoencoder with all quality levels in one model (`aekit "
        "compress`); `aekit+refine` codes the same levels after encoder-side refinement.", "",
        *table(["variant", "codec", "settings", "bpp", *(f"best dB at <= {bpp} bpp" for bpp, _ in TARGETS),
                f"fewest bpp for >= {TARGETS[0][1]} dB"], rows), "",
        "aekit's points (level: bpp / dB): " + "; ".join(levels) + ".", "",
        "Runs: " + "; ".join(runs) + ".", "",
        f"![rate-distortion](benchmarks/results/{next(iter(results))}.png)", "",
        SHORT])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="an existing compression run to measure (default: train one)")
    ap.add_argument("--out-run", default="runs/compress-bench", help="where to train the run when --run is not given")
    ap.add_argument("--epochs", type=float, help="training epochs (default: the compress preset's)")
    ap.add_argument("--time-limit", type=float, help="stop training after this many seconds (the schedule follows)")
    ap.add_argument("--batch-size", type=int, help="training batch size (default: the preset's)")
    ap.add_argument("--lr", type=float, help="training peak learning rate (default: the preset's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model option, as aekit train")
    ap.add_argument("--device", default="cpu", help="training device (coding runs on the CPU)")
    ap.add_argument("--no-baselines", action="store_true", help="aekit only (no PNG/JPEG/WebP/AVIF)")
    ap.add_argument("--name", default="compress", help="results/<name>.json|png and the BENCHMARKS.md section")
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (training on the CPU and coding)")
    ap.add_argument("--workers", type=int, default=1, help="processes for coding (one per level / codec setting)")
    ap.add_argument("--force", action="store_true", help="replace --out-run")
    ap.add_argument("--refine", type=int, default=0, metavar="STEPS",
                    help="also code with STEPS of encoder-side refinement (rows 'aekit+refine'; 0: off)")
    ap.add_argument("--refine-levels", default="", metavar="L,L",
                    help="levels to code with refinement (default: all; each costs STEPS decoder passes per digit)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    images = aekit.load_dataset("mnist").x_test[: args.n_test]
    run, train_seconds = Path(args.run) if args.run else None, None
    if run is None:
        settings = resolve_settings(preset="compress", model_options=parse_sets(args.set),
                                    train_options={"epochs": args.epochs, "device": args.device,
                                                   "batch_size": args.batch_size, "lr": args.lr,
                                                   "time_limit": args.time_limit})
        t0 = time.perf_counter()
        run = create_run(settings, args.out_run, force=args.force, progress=False).path
        train_seconds = time.perf_counter() - t0
    tcfg = ckpt.read_run_config(run).get("train") or {}
    done = len(ckpt.read_metrics(run))  # one row per finished epoch (fewer than asked when the time limit hit)
    result = {"n_test": len(images), "run": run.name,
              "train": f"{done} epoch{'s' if done != 1 else ''}" + (f" (time limit {tcfg['time_limit']:.0f} s)" if tcfg.get("time_limit") else "")
              + (f", {train_seconds:.0f} s on {args.device}" if train_seconds else ", trained earlier")}
    codecs = [] if args.no_baselines else [k for k in SETTINGS if k != "avif" or features.check("avif")]
    pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) if args.workers > 1 else None
    with pool or contextlib.nullcontext():
        jobs = {(k, i): (pool.submit(baseline_point, k, v, images) if pool else None)
                for k in codecs for i, v in enumerate(SETTINGS[k])}
        result["aekit"], examples = aekit_points(run, images, pool)
        if args.refine:
            levels = [int(v) for v in args.refine_levels.split(",")] if args.refine_levels else None
            result["aekit+refine"], _ = aekit_points(run, images, pool, levels, args.refine)
            result["refine_steps"] = args.refine
        for k in codecs:
            result[k] = [jobs[k, i].result() if pool else baseline_point(k, v, images)
                         for i, v in enumerate(SETTINGS[k])]
    result["acceptance"] = {}
    for bpp, db in TARGETS:
        got = {k: best_at(result[k], bpp) for k in AEKIT if result.get(k)}
        got = {k: v for k, v in got.items() if v is not None}
        by = max(got, key=got.get) if got else None
        result["acceptance"][f"{bpp}bpp"] = {"aekit_psnr": round(got[by], 2) if by else None, "by": by,
                                             "target_psnr": db, "met": by is not None and got[by] >= db}
    result["argv"] = argv_text(argv)
    result["machine"] = machine()
    result["wall_seconds"] = time.perf_counter() - t_start
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["figure"] = f"benchmarks/results/{args.name}.png"
    plot(result, examples, images, RESULTS / f"{args.name}.png")
    write_result(args.name, result)
    update("compress", section)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
