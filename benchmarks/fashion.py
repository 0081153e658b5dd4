"""Fashion-MNIST: the `conv` (reconstruction) and `denoise` presets, trained as a user would on a dataset that is not
MNIST, against PCA at the same code size and against the best classical filter.

Reconstruction: `aekit train --preset conv --dataset fashion-mnist --epochs E`, then the test MSE / PSNR / SSIM
that `aekit eval` reports, beside PCA with as many components as the code (fitted on the same training images).
Denoising: `aekit train --preset denoise --dataset fashion-mnist --epochs E` (Gaussian noise 0.5, the preset's),
then PSNR / SSIM on noisy test images against the classical filters of benchmarks/denoise.py, each at the parameter
that scores best on a separate slice of training images (BM3D on the first --bm3d-n test images only; every method
is reported on that subset too).

Fashion-MNIST loads offline from Debian's `dataset-fashion-mnist` package, or is downloaded.

    python benchmarks/fashion.py [--epochs 1] [--n-test 1000] [--bm3d-n 100]

Writes benchmarks/results/fashion.json and rebuilds the `fashion` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, machine, table, update, write_result  # noqa: E402
from denoise import METHODS, NAMES, apply, classical, metrics  # noqa: E402

import aekit  # noqa: E402
from aekit.apps.evaluate import evaluate_run  # noqa: E402
from aekit.cli import main as aekit_main  # noqa: E402
from aekit.metrics.reconstruction import reconstruct  # noqa: E402
from aekit.runs import Run  # noqa: E402
from aekit.training.noise import corrupt  # noqa: E402

SIGMA = 0.5  # the denoise preset's Gaussian noise


def train(preset: str, out: Path, epochs: float) -> Run:
    code = aekit_main(["train", "--preset", preset, "--dataset", "fashion-mnist", "--epochs", f"{epochs:g}",
                       "--out", str(out), "--no-progress", "--no-eval"])
    if code:
        raise SystemExit(f"aekit train --preset {preset} failed ({code})")
    return Run.open(out)


def steps(run: Run) -> int:
    return int(history[-1]["step"]) if (history := run.history()) else 0


def reconstruction(run: Run) -> dict:
    m = evaluate_run(run)
    return {"aekit": {"mse": m["test_mse"], "psnr": m["test_psnr"], "ssim": m["test_ssim"]},
            "pca_mse": m["pca_mse"], "code_size": m["code_size"], "steps": steps(run)}


def noisy_images(x: np.ndarray, seed: int) -> np.ndarray:
    return corrupt(torch.from_numpy(x), "gaussian", SIGMA, torch.Generator().manual_seed(seed)).numpy()


def best_parameter(name: str, clean: np.ndarray, noisy: np.ndarray):
    fn, grid = classical(name)
    return fn, max(grid, key=lambda p: metrics(clean, apply(fn, noisy, p))["psnr"])


def denoising(run: Run, ds, n_test: int, bm3d_n: int, n_val: int, methods: list[str]) -> dict:
    norm = run.normalizer
    clean = norm.transform(ds.x_test[:n_test]).astype(np.float32)
    noisy = noisy_images(clean, seed=1)
    val = norm.transform(ds.x_train[-n_val:]).astype(np.float32)
    val_noisy = noisy_images(val, seed=2)
    outs = {"noisy": noisy, "aekit": reconstruct(run.model, torch.from_numpy(noisy)).clamp(0, 1).numpy()}
    chosen = {}
    for name in methods:
        sub = slice(None, bm3d_n if name == "bm3d" else None)
        fn, p = best_parameter(name, val[: 10 if name == "bm3d" else None], val_noisy[: 10 if name == "bm3d" else None])
        chosen[name] = p
        outs[name] = apply(fn, noisy[sub], p)
        print(json.dumps({"method": name, "parameter": p, **metrics(clean[sub], outs[name])}), file=sys.stderr,
              flush=True)
    full = {m: metrics(clean, o) for m, o in outs.items() if len(o) == len(clean)}
    subset = {m: metrics(clean[:bm3d_n], o[:bm3d_n]) for m, o in outs.items()}
    return {"all": full, "subset": subset, "parameters": chosen, "n_test": n_test, "bm3d_n": bm3d_n,
            "steps": steps(run)}


def section(results: dict) -> str:
    r = next(iter(results.values()))
    rec, den = r["reconstruction"], r["denoise"]
    a = rec["aekit"]
    methods = [m for m in den["subset"] if m != "noisy"]
    best = max((m for m in methods if m != "aekit"), key=lambda m: den["subset"][m]["psnr"])
    rows = [[NAMES.get(m, m), *(f"{den[k][m]['psnr']:.2f} / {den[k][m]['ssim']:.3f}" if m in den[k] else "–"
                                for k in ("all", "subset"))] for m in ["noisy", *methods]]
    return "\n".join([
        f"Fashion-MNIST (60,000 training and 10,000 test clothing images, 28x28), each preset trained for "
        f"{r['epochs']:g} epoch{'s' if r['epochs'] != 1 else ''} ({rec['steps']} and {den['steps']} optimiser steps) on "
        f"{r['threads']} CPU thread{'s' if r['threads'] > 1 else ''}.",
        "", f"**Reconstruction** (`--preset conv`, code {rec['code_size']}): test MSE {a['mse']:.5f} (PSNR "
        f"{a['psnr']:.2f} dB, SSIM {a['ssim']:.3f}); PCA with {rec['code_size']} components {rec['pca_mse']:.5f}: "
        f"aekit's error is {a['mse'] / rec['pca_mse']:.2f}x PCA's.", "",
        f"**Denoising** (`--preset denoise`, Gaussian noise {SIGMA}; PSNR dB / SSIM; each filter at its best "
        "parameter on training images):", "",
        *table(["method", f"{den['n_test']} test images", f"first {den['bm3d_n']} (with BM3D)"], rows), "",
        "Command: " + "; ".join(command("fashion.py", res["argv"]) for res in results.values()), "",
        f"**Where aekit falls short.** The best classical filter here is {NAMES.get(best, best)} "
        f"({den['subset'][best]['psnr']:.2f} dB on the subset, aekit {den['subset']['aekit']['psnr']:.2f} dB). "
        f"The presets were tuned on MNIST digits; on clothing the reconstruction error is "
        f"{a['mse'] / rec['pca_mse']:.2f}x PCA's at the same code size."])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=float, default=1.0, help="training epochs of each preset")
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--bm3d-n", type=int, default=100)
    ap.add_argument("--n-val", type=int, default=100, help="training images for the filters' parameter choice")
    ap.add_argument("--baselines", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="fashion")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    ds = aekit.load_dataset("fashion-mnist")
    with tempfile.TemporaryDirectory() as tmp:
        rec = reconstruction(train("conv", Path(tmp) / "conv", args.epochs))
        print(json.dumps(rec), file=sys.stderr, flush=True)
        den = denoising(train("denoise", Path(tmp) / "denoise", args.epochs), ds, args.n_test, args.bm3d_n,
                        args.n_val, args.baselines.split(","))
    result = {"reconstruction": rec, "denoise": den, "epochs": args.epochs, "threads": args.threads,
              "argv": argv_text(argv), "machine": machine(), "wall_seconds": time.perf_counter() - t_start}
    write_result(args.name, result)
    update("fashion", section)
    print(json.dumps({"reconstruction": rec, "denoise": den["subset"], "wall_seconds": result["wall_seconds"]}))
    return result


if __name__ == "__main__":
    main()
