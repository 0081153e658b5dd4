"""Tables: anomaly AUROC and embedding kNN accuracy on scikit-learn's bundled tables, aekit beside the usual tools.

Anomalies. For each table and each class c of it: the rows of c are the anomalies, the other rows are normal. Each
seed shuffles the normal rows into 70 % training and 30 % test; every detector fits on the same training rows
(normal only) and scores the same test rows (the test normals, and rows of c as many as a tenth of them, at least
10); the figure is the AUROC of
"anomaly" against "normal". aekit: ``AutoencoderOutlierDetector(random_state=seed)`` with its defaults, on the raw
columns (it scales them itself). The others, each at its library's defaults behind a ``StandardScaler`` fitted on the
training rows (as a user's pipeline would be): IsolationForest, LocalOutlierFactor (novelty=True), OneClassSVM,
PCA reconstruction error (components explaining 90 % of the variance), and PyOD's AutoEncoder and ECOD.

Embeddings. Each seed splits all rows 70 / 30 (stratified); each method fits on the training rows and maps both
sets to ``dim`` numbers; the figure is the test accuracy of a 5-nearest-neighbour classifier on those codes. aekit:
``AutoencoderTransformer(n_components=dim, random_state=seed)`` with its defaults, and with ``neighbor_weight=1``
(its neighbour-keeping map); PCA; UMAP (umap-learn, defaults); and the scaled columns themselves for reference.

    python benchmarks/tables.py [--seeds 5] [--tables breast-cancer,wine,digits] [--dims 2,8]

Writes benchmarks/results/tables.json and rebuilds the `tables` section of BENCHMARKS.md. PyOD and umap-learn are
in the `bench` extra; a method whose library is missing is left out of the table and said so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, machine, table, update, write_result  # noqa: E402

from aekit.estimators import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402

TABLES = {  # name -> (loader, how its classes are named)
    "breast-cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
}


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    bunch = TABLES[name]()
    return bunch.data.astype(np.float64), bunch.target


# --- anomaly detectors: fit on normal training rows, return anomaly scores of the test rows (higher = stranger) ------

def _pca_error(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    pca = PCA(0.9, random_state=seed).fit(train)
    return ((pca.inverse_transform(pca.transform(test)) - test) ** 2).mean(1)


def _pyod(kind: str) -> Callable | None:
    try:
        from pyod.models.auto_encoder import AutoEncoder
        from pyod.models.ecod import ECOD
    except ImportError:
        return None
    if kind == "ecod":
        return lambda tr, te, seed: ECOD().fit(tr).decision_function(te)
    return lambda tr, te, seed: AutoEncoder(random_state=seed, verbose=0).fit(tr).decision_function(te)


def _aekit(raw_train: np.ndarray, raw_test: np.ndarray, seed: int) -> np.ndarray:
    return -AutoencoderOutlierDetector(random_state=seed).fit(raw_train).score_samples(raw_test)


DETECTORS: dict[str, Callable | None] = {
    "isolation forest": lambda tr, te, seed: -IsolationForest(random_state=seed).fit(tr).score_samples(te),
    "LOF": lambda tr, te, seed: -LocalOutlierFactor(novelty=True).fit(tr).score_samples(te),
    "one-class SVM": lambda tr, te, seed: -OneClassSVM().fit(tr).score_samples(te),
    "PCA error": _pca_error,
    "PyOD AutoEncoder": _pyod("ae"),
    "PyOD ECOD": _pyod("ecod"),
}


def anomaly_split(x: np.ndarray, y: np.ndarray, anomaly, seed: int):
    """Normal rows split 70/30; the test set is the test normals and rows of the anomaly class, as many as a tenth
    of the test normals (at least 10): anomalies are rare, and a test set half made of them would tell a method
    that learns from its test rows (ECOD) that they are normal."""
    normal, odd = x[y != anomaly], x[y == anomaly]
    train, test_normal = train_test_split(normal, test_size=0.3, random_state=seed)
    take = min(len(odd), max(10, round(0.1 * len(test_normal))))
    odd = odd[np.random.default_rng(seed).choice(len(odd), take, replace=False)]
    test = np.concatenate([test_normal, odd])
    return train, test, np.r_[np.zeros(len(test_normal)), np.ones(len(odd))]


def anomaly_run(name: str, seeds: int) -> dict:
    """AUROC per method: mean over the table's classes, one value per seed; and fitting seconds per method."""
    x, y = load(name)
    auroc: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for seed in range(seeds):
        per_class: dict[str, list[float]] = {}
        for c in np.unique(y):
            train, test, truth = anomaly_split(x, y, c, seed)
            scaler = StandardScaler().fit(train)
            tr, te = scaler.transform(train), scaler.transform(test)
            for method, fit_score in [("aekit", None), *DETECTORS.items()]:
                if method != "aekit" and fit_score is None:
                    continue
                t0 = time.perf_counter()
                score = _aekit(train, test, seed) if method == "aekit" else fit_score(tr, te, seed)
                seconds[method] = seconds.get(method, 0.0) + time.perf_counter() - t0
                per_class.setdefault(method, []).append(float(roc_auc_score(truth, score)))
        for method, values in per_class.items():
            auroc.setdefault(method, []).append(float(np.mean(values)))
        print(json.dumps({"table": name, "seed": seed, **{m: v[-1] for m, v in auroc.items()}}), file=sys.stderr,
              flush=True)
    return {"auroc": auroc, "seconds": seconds, "rows": int(len(x)), "columns": int(x.shape[1]),
            "classes": int(len(np.unique(y)))}


# --- embeddings: fit on training rows, map both sets to `dim` numbers -------------------------------------------------

def _umap(dim: int) -> Callable | None:
    try:
        import umap  # noqa: F401
    except ImportError:
        return None

    def fit_map(tr, te, seed):
        import umap
        m = umap.UMAP(n_components=dim, random_state=seed, n_jobs=1).fit(tr)
        return m.transform(tr), m.transform(te)
    return fit_map


def embedders(dim: int) -> dict[str, Callable | None]:
    def ae(**options):
        def fit_map(tr, te, seed, raw=None):
            model = AutoencoderTransformer(n_components=dim, random_state=seed, **options).fit(raw[0])
            return model.transform(raw[0]), model.transform(raw[1])
        return fit_map

    def pca(tr, te, seed):
        p = PCA(dim, random_state=seed).fit(tr)
        return p.transform(tr), p.transform(te)
    return {"aekit": ae(), "aekit (neighbor_weight=1)": ae(neighbor_weight=1.0), "PCA": pca, "UMAP": _umap(dim)}


def knn_accuracy(codes_train, codes_test, y_train, y_test) -> float:
    return float(KNeighborsClassifier(5).fit(codes_train, y_train).score(codes_test, y_test))


def embedding_run(name: str, dim: int, seeds: int) -> dict | None:
    x, y = load(name)
    if dim >= x.shape[1]:
        return None
    accuracy: dict[str, list[float]] = {}
    for seed in range(seeds):
        xa, xb, ya, yb = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
        scaler = StandardScaler().fit(xa)
        tr, te = scaler.transform(xa), scaler.transform(xb)
        accuracy.setdefault("all columns (reference)", []).append(knn_accuracy(tr, te, ya, yb))
        for method, fit_map in embedders(dim).items():
            if fit_map is None:
                continue
            codes = fit_map(tr, te, seed, raw=(xa, xb)) if method.startswith("aekit") else fit_map(tr, te, seed)
            accuracy.setdefault(method, []).append(knn_accuracy(*codes, ya, yb))
    return accuracy


# --- the report ---------------------------------------------------------------------------------------------------

def _cell(values: list[float], best: float) -> str:
    text = f"{np.mean(values):.3f} ± {np.std(values):.3f}"
    return f"**{text}**" if np.isclose(np.mean(values), best) else text


def _rows(by_table: dict[str, dict[str, list[float]]]) -> tuple[list[str], list[list[str]]]:
    methods = list(dict.fromkeys(m for res in by_table.values() for m in res))
    rows = []
    for method in methods:
        cells = []
        for res in by_table.values():
            best = max(np.mean(v) for m, v in res.items() if "reference" not in m)
            cells.append(_cell(res[method], best) if method in res else "–")
        rows.append([method, *cells])
    return methods, rows


def section(results: dict) -> str:
    r = next(iter(results.values()))
    anomaly = {name: res["auroc"] for name, res in r["anomaly"].items()}
    _, rows = _rows(anomaly)
    sizes = ", ".join(f"{n} ({res['rows']} rows x {res['columns']} columns, {res['classes']} classes)"
                      for n, res in r["anomaly"].items())
    seconds = ", ".join(f"{m} {s:.0f} s" for m, s in r["anomaly_seconds"].items())
    lines = [
        "Each class of a table in turn is the anomaly: the detectors fit on 70 % of the other rows and score the rest "
        "plus rows of that class (a tenth as many as the test normals, at least 10). Mean AUROC over the classes, mean ± spread over "
        f"{r['seeds']} seeds (one split per seed, the same for every method). Tables: {sizes}. aekit: "
        "`AutoencoderOutlierDetector()` with its defaults on the raw columns; the others at their defaults behind a "
        "`StandardScaler`. The best mean per table is in bold.", "",
        *table(["detector", *anomaly], rows), "",
        f"Fitting time, all tables and seeds together: {seconds}.", ""]
    for dim, by_table in r["embedding"].items():
        _, rows = _rows(by_table)
        lines += [f"5-nearest-neighbour test accuracy on codes of {dim} numbers (stratified 70/30 split per seed):",
                  "", *table(["method", *by_table], rows), ""]
    lines += ["Command: " + "; ".join(command("tables.py", res["argv"]) for res in results.values()), "", r["short"]]
    return "\n".join(lines)


def shortfall(anomaly: dict, embedding: dict) -> str:
    """Where aekit loses, from the numbers (written into the result, so the section shows what was measured)."""
    lost = [f"{name} (aekit {np.mean(a['aekit']):.3f}, {best} {np.mean(a[best]):.3f})"
            for name, a in anomaly.items()
            if (best := max((m for m in a if m != "aekit"), key=lambda m: np.mean(a[m]))) and
            np.mean(a[best]) > np.mean(a["aekit"])]
    mean = {m: np.mean([np.mean(a[m]) for a in anomaly.values() if m in a]) for m in anomaly[next(iter(anomaly))]}
    best = max((m for m in mean if m != "aekit"), key=mean.get)
    text = (f"**Where aekit falls short.** Mean AUROC over the tables: aekit {mean['aekit']:.3f}, "
            f"{'above' if mean['aekit'] >= mean[best] else 'below'} the best other method ({best}, {mean[best]:.3f}). ")
    text += ("Beaten on " + "; ".join(lost) + ". ") if lost else "It is not beaten on any table. "
    knn_lost = [f"{dim}-D {name}" for dim, tables in embedding.items() for name, acc in tables.items()
                if max(np.mean(v) for m, v in acc.items() if m != "all columns (reference)") >
                max(np.mean(acc["aekit"]), np.mean(acc["aekit (neighbor_weight=1)"]))]
    return text + ("Its codes give lower kNN accuracy than the best other map on: " + ", ".join(knn_lost) + "."
                   if knn_lost else "Its codes give the best kNN accuracy on every table.")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tables", default="breast-cancer,wine,digits", help=f"some of {', '.join(TABLES)}")
    ap.add_argument("--embed-tables", default="breast-cancer,wine,digits,iris")
    ap.add_argument("--dims", default="2,8", help="code widths for the embedding comparison")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="tables")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    t_start = time.perf_counter()
    anomaly = {name: anomaly_run(name, args.seeds) for name in args.tables.split(",")}
    embedding = {str(d): {n: acc for n in args.embed_tables.split(",") if (acc := embedding_run(n, d, args.seeds))}
                 for d in (int(v) for v in args.dims.split(","))}
    seconds: dict[str, float] = {}
    for res in anomaly.values():
        for m, s in res.pop("seconds").items():
            seconds[m] = seconds.get(m, 0.0) + s
    result = {"anomaly": anomaly, "anomaly_seconds": seconds, "embedding": embedding, "seeds": args.seeds,
              "short": shortfall({n: a["auroc"] for n, a in anomaly.items()}, embedding),
              "argv": argv_text(argv), "machine": machine(), "wall_seconds": time.perf_counter() - t_start}
    write_result(args.name, result)
    update("tables", section)
    print(json.dumps({k: result[k] for k in ("anomaly_seconds", "short", "wall_seconds")}))
    return result


if __name__ == "__main__":
    main()
