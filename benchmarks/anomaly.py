"""One-class MNIST: AutoencoderOutlierDetector against IsolationForest, OneClassSVM and PCA, same data, same run.

For each digit d: fit on the training images of d only (about 6,000), score the 10,000 test images, and measure the
AUROC of "d" against "not d" (higher score_samples = more normal). The baselines take flattened pixels in [0, 1]:
IsolationForest with its defaults; OneClassSVM (RBF, nu 0.1) at several gammas and PCA reconstruction error at
several numbers of components, each reported at the setting with the best mean AUROC over the ten digits. That
choice is made on the test set and so favours the baselines (PCA at its best number of components, as a user
tuning it would pick); aekit gets no such choice. For reference the script also scores PCA's reconstructions with the SSIM
error aekit uses ("pca+ssim"), to show how much of the gain comes from the error measure alone.

    python benchmarks/anomaly.py [--epochs 20] [--pca 8,16,32,64] [--gammas 2,4,8] [--digits 0,...,9]

Prints a JSON object as its last line ({"auroc": {method: [10 values, digit 0..9]}, ...}), writes
benchmarks/results/anomaly.json and rebuilds the `anomaly` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, device, machine, table, update, write_result  # noqa: E402

import aekit  # noqa: E402
from aekit.estimators import AutoencoderOutlierDetector  # noqa: E402
from aekit.metrics.reconstruction import ssim_per_sample  # noqa: E402


def pca_scores(train: np.ndarray, test: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Negated reconstruction errors of PCA with n components: squared error, and 1 - SSIM (as aekit scores)."""
    pca = PCA(n, random_state=0).fit(train)
    recon = np.clip(pca.inverse_transform(pca.transform(test)), 0, 1)
    mse = ((recon - test) ** 2).mean(1)
    a = torch.from_numpy(test.reshape(-1, 1, 28, 28))
    s = ssim_per_sample(a, torch.from_numpy(recon.reshape(-1, 1, 28, 28)).to(a.dtype)).numpy()
    return -mse, s - 1


SHORT = (
    "**Where aekit falls short.** Its weakest digits are 8 (0.934) and 2 and 3 (0.963). Most of its margin over "
    "PCA comes from the error it scores by: PCA's reconstructions scored by 1 - SSIM (`pca+ssim`) reach 0.969 "
    "against 0.956 by squared error, and the autoencoder adds the rest. The baselines' settings were chosen on the "
    "test set, which favours them; aekit's are its defaults.")


def section(results: dict) -> str:
    """BENCHMARKS.md's `anomaly` section: AUROC per digit for each method, per result variant."""
    r = next(iter(results.values()))  # the set-up is the script's; every variant's rows go in the table
    rows = [[name, method, *(f"{v:.3f}" for v in vals), f"**{np.mean(vals):.4f}**"]
            for name, res in results.items() for method, vals in res["auroc"].items()]
    sweeps = "; ".join(f"{k}: " + ", ".join(f"{p} {v:.4f}" for p, v in s.items()) for k, s in r["sweeps"].items())
    return "\n".join([
        "Fit on the ~6,000 training images of one MNIST digit, score all 10,000 test images, AUROC of that digit "
        "against the rest, for each digit. aekit: `AutoencoderOutlierDetector()` with its defaults (a dense "
        f"784-512-256-16 autoencoder, {r['epochs']:g} epochs, score 1 - SSIM of the reconstruction; "
        f"{sum(r['train_seconds']):.0f} s of training for the ten digits on {device(r['machine'])}). Baselines on "
        "flattened pixels: IsolationForest with its defaults, OneClassSVM (RBF, nu 0.1; gamma in units of "
        "1 / (n_features * X.var())) and PCA reconstruction error, each at the setting with the best mean test AUROC "
        f"(mean AUROC per setting: {sweeps}).", "",
        *table(["variant", "method", *(str(d) for d in r["digits"]), "mean"], rows), "",
        "Command: " + "; ".join(command("anomaly.py", res["argv"]) for res in results.values()), "",
        SHORT])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=float, default=20, help="aekit's training epochs per digit")
    ap.add_argument("--pca", default="8,16,32,64", help="numbers of PCA components to try")
    ap.add_argument("--gammas", default="2,4,8", help="OneClassSVM gammas, in units of 1 / (n_features * X.var())")
    ap.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    digits = [int(d) for d in args.digits.split(",")]
    pcs = [int(n) for n in args.pca.split(",")]
    gammas = [float(g) for g in args.gammas.split(",")]
    ds = aekit.load_dataset("mnist")
    x_train = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float64) / 255
    x_test = ds.x_test.reshape(len(ds.x_test), -1).astype(np.float64) / 255
    auroc: dict[str, list] = {"aekit": [], "isolation_forest": []}
    pca_a = {n: [] for n in pcs}
    pca_s = {n: [] for n in pcs}
    svm_a = {g: [] for g in gammas}
    train_seconds = []
    for d in digits:
        normal = ds.x_train[ds.y_train == d]  # uint8 (n, 28, 28): the detector takes images as they are
        y = ds.y_test == d
        t0 = time.perf_counter()
        det = AutoencoderOutlierDetector(epochs=args.epochs, random_state=0).fit(normal)
        train_seconds.append(time.perf_counter() - t0)
        auroc["aekit"].append(roc_auc_score(y, det.score_samples(ds.x_test)))
        tr = x_train[ds.y_train == d]
        iso = IsolationForest(random_state=0).fit(tr)
        auroc["isolation_forest"].append(roc_auc_score(y, iso.score_samples(x_test)))
        for n in pcs:
            a, s = pca_scores(tr, x_test, n)
            pca_a[n].append(roc_auc_score(y, a))
            pca_s[n].append(roc_auc_score(y, s))
        for g in gammas:
            svm = OneClassSVM(gamma=g / (tr.shape[1] * tr.var()), nu=0.1).fit(tr)
            svm_a[g].append(roc_auc_score(y, svm.score_samples(x_test)))
        print(json.dumps({"digit": d, "aekit": auroc["aekit"][-1], "seconds": train_seconds[-1],
                          "isolation_forest": auroc["isolation_forest"][-1],
                          "pca": {n: v[-1] for n, v in pca_a.items()}, "ocsvm": {g: v[-1] for g, v in svm_a.items()}}),
              file=sys.stderr, flush=True)
    best_n = max(pcs, key=lambda n: np.mean(pca_a[n]))
    best_g = max(gammas, key=lambda g: np.mean(svm_a[g]))
    auroc[f"one_class_svm (gamma x{best_g:g})"] = svm_a[best_g]
    auroc[f"pca ({best_n} components)"] = pca_a[best_n]
    auroc[f"pca+ssim ({best_n} components, reference)"] = pca_s[best_n]
    means = {k: float(np.mean(v)) for k, v in auroc.items()}
    baselines = [k for k in auroc if k != "aekit" and "reference" not in k]
    result = {
        "auroc": auroc, "mean_auroc": means, "digits": digits, "epochs": args.epochs,
        "sweeps": {"pca": {str(n): float(np.mean(v)) for n, v in pca_a.items()},
                   "pca+ssim": {str(n): float(np.mean(v)) for n, v in pca_s.items()},
                   "one_class_svm": {f"{g:g}": float(np.mean(v)) for g, v in svm_a.items()}},
        "train_seconds": train_seconds,
        "acceptance": {"mean_at_least_0.97": means["aekit"] >= 0.97,
                       "above_every_baseline": all(means["aekit"] > means[k] for k in baselines)},
        "argv": argv_text(argv), "machine": machine(),
        "wall_seconds": time.perf_counter() - t_start,
    }
    write_result("anomaly", result)
    update("anomaly", section)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
