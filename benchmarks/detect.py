"""Does aekit's detector generalise? Trained on one swap run's outputs, scored on swaps and generators it never saw.

Identities are ``aekit.data.identities``' fixed appearance renderers of MNIST digits (``bold``, ``paper``,
``outline``, ``bleed``: RGB, deterministic), each rendered from its own disjoint slice of MNIST's training images.

- Run A, the detector's run: a swap model (shared encoder, one decoder per identity, adversarial decoder) for bold
  and paper, seed 0. The detector (``aekit.apps.detect.train_detector``) trains on run A's real training images
  against what run A makes of them: reconstructions, swaps, the same from three copies of run A with their decoder
  weights jittered, outputs for noisy copies and for mixed codes; it never sees anything below.
- (a) same run: held-out MNIST test images rendered as bold and paper, against run A's swaps of them.
- (b) other run: a swap model for outline and bleed, seed 1, on other training images; held-out outline and bleed
  images against its swaps.
- (c) other generators, trained on plain grey MNIST: a conv VAE's samples, a Gaussian denoiser's output for noisy
  test images, a compressive autoencoder's decompressed files; held-out MNIST test images as the real side (grey
  images given to the colour detector as RGB, as ``aekit detect`` reads a grey file).

Every case also after a JPEG re-save at quality 75 (real and synthetic alike), and the false-positive rate on the real
images at the threshold ``aekit detect`` uses (stored in the detector). And every case again with references, as
``aekit detect --reference`` works: for each part (a swap direction, a generator) half of its held-out real images set
the threshold and the other half are scored against all its synthetic ones, each score put on its kind's reference
scale (``aekit.apps.detect_eval.relative_scores``) so that a swap run's two directions pool (after JPEG, the reference
is re-saved too: a PNG reference for JPEG images is not measured). Unmarked pixels only: outputs are scored as the
models make them, before any file is written, so the detector learns the swap, not aekit's pixel watermark or its
metadata. The detector is `aekit detect-train`'s default, the ensemble: the spectral model (a linear model of the log
DCT spectrum) beside three residual CNNs (high-pass residuals) trained without augmentation from successive seeds,
each view's score ranked among real images' scores, an image's score its highest rank (with references, ranked among
the reference). Compared in the same run: the same trained for JPEG files (``--jpeg``: on JPEG re-saves of the images,
its threshold set on re-saved real images; also from seeds 3 and 6), its views alone (``--network spectral``; the
residual CNN without augmentation, also from seeds 1 and 2), the residual CNN as ``--network residual-cnn`` trains it
(JPEG/resize/noise augmentation) and the same on reconstructions and swaps only, the ensemble from seeds 3 and 6 (to
show what its figures owe to the seed), and the previous detector (aekit's pixel CNN, ``FeatureNet`` with a
full-resolution stem, 10 epochs, reconstructions and swaps, no augmentation).

Writes benchmarks/results/detect.json after every stage (a partial result survives an interruption; ``complete``
says whether it finished), then the `detect` section of BENCHMARKS.md.

    python benchmarks/detect.py [--quick] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, argv_text, command, device, machine, table, update, write_result  # noqa: E402

from aekit.apps.detect import load_detector, train_detector  # noqa: E402
from aekit.apps.detect_eval import evaluate, model_outputs, with_reference  # noqa: E402
from aekit.apps.swap import train_swap  # noqa: E402
from aekit.data import load_dataset  # noqa: E402
from aekit.data.identities import render  # noqa: E402
from aekit.metrics.reconstruction import auroc  # noqa: E402
from aekit.runs.run import Run  # noqa: E402
from aekit.runs.settings import resolve_settings  # noqa: E402

SWAP_MODEL = {"channels": [32, 64, 128], "blocks_per_stage": 1, "spatial_code": True, "code_size": 16, "warp": 0.0,
              "cycle": 1.0}
SWAP_TRAIN = {"batch_size": 64, "lr": 2e-3, "schedule": "cosine", "warmup": 0.02, "eps": 1e-8, "device": "cpu",
              "adversarial": 0.5, "disc_channels": [32, 64, 128]}
# name -> (preset, model, model options, training options): small versions of aekit's generators
GENERATORS = {
    "vae_samples": ("seed", "vae", {"backbone": "conv", "channels": [32, 64], "code_size": 16},
                    {"batch_size": 64, "lr": 2e-3, "eps": 1e-8, "schedule": "cosine", "warmup": 0.02}),
    "denoiser": ("denoise", None, {"channels": [32, 64], "blocks_per_stage": 1, "code_size": 64}, {}),
    "decompressor": ("compress", None, {"channels": [32, 64]}, {}),
}
# name -> train_detector's settings: aekit's detector (the ensemble, on outputs for noisy inputs and mixed codes
# besides reconstructions and swaps), the same for JPEG files (``--jpeg``), its views alone (the spectral model; the
# residual CNN without augmentation), the residual CNN with JPEG/resize/noise augmentation and it on reconstructions
# and swaps only
BASE = {"ensemble": {"network": "ensemble"}, "ensemble_jpeg": {"network": "ensemble", "jpeg": True},
        "spectral": {"network": "spectral"}, "residual": {"network": "residual-cnn"},
        "residual_no_variety": {"network": "residual-cnn", "variety": False},
        "residual_no_augment": {"network": "residual-cnn", "augment": False}}
# detectors trained again from other seeds, to show what their figures owe to the seed (an ensemble from seed k holds
# the CNNs of seeds k, k + 1 and k + 2)
SEEDS = {"ensemble": (3, 6), "ensemble_jpeg": (3, 6), "residual_no_augment": (1, 2)}
# (name, base, seed): every detector trained, seed 0 under the base's name, each base followed by its other seeds
VARIANTS = tuple(v for name in BASE
                 for v in ((name, name, 0), *((f"{name}_seed{k}", name, k) for k in SEEDS.get(name, ()))))
MAIN = VARIANTS[0][0]  # the detector `aekit detect-train` makes by default: the headline
JPEG = "ensemble_jpeg"  # the same for JPEG files: reported on JPEG images only (``for_jpeg``)
FULL = {"n": 3000, "held": 1000, "gen_n": 6000, "swap_epochs": 8.0, "gen_epochs": 4.0, "det_per_domain": 2000,
        "det_epochs": 6}
QUICK = {"n": 200, "held": 200, "gen_n": 400, "swap_epochs": 1.0, "gen_epochs": 1.0, "det_per_domain": 200,
         "det_epochs": 2}  # held: at least 200, half of each part's real images being its reference


# --- identities -------------------------------------------------------------------------------------------------

RUNS = {"same_run": (("bold", "paper"), 0), "other_run": (("outline", "bleed"), 1)}


def identities(x_train: np.ndarray, x_test: np.ndarray, s: dict) -> dict:
    """Training and held-out images per identity, each from its own slice of MNIST (no digit in two identities)."""
    names = [n for pair, _ in RUNS.values() for n in pair]
    n, m = s["n"], s["held"]
    return {name: (render(name, x_train[i * n : (i + 1) * n]), render(name, x_test[i * m : (i + 1) * m]))
            for i, name in enumerate(names)}


# --- the runs ---------------------------------------------------------------------------------------------------

def _kept(folder: Path, reuse: bool) -> Run | None:
    """The run already in ``folder`` when ``reuse`` is asked for and one is there."""
    return Run.open(folder) if reuse and (folder / "config.json").exists() else None


def train_swap_runs(ids: dict, work: Path, s: dict, reuse: bool = False) -> dict[str, Run]:
    runs = {}
    for case, (pair, seed) in RUNS.items():
        if runs.setdefault(case, _kept(work / case, reuse)):
            continue
        sources = {}
        for name in pair:
            sources[name] = str(work / f"{name}.npz")
            np.savez(sources[name], x_train=ids[name][0], x_test=ids[name][1][:16])
        runs[case] = train_swap(sources, work / case, model_options=SWAP_MODEL, progress=False,
                                train_options={**SWAP_TRAIN, "seed": seed, "epochs": s["swap_epochs"]})
        log(f"swap run {case} {pair}")
    return runs


def train_generators(x: np.ndarray, work: Path, s: dict, reuse: bool = False) -> dict[str, Run]:
    data = work / "mnist-gen.npz"
    np.savez(data, x_train=x, x_test=x[:16])
    runs = {}
    for name, (preset, model, config, train) in GENERATORS.items():
        if runs.setdefault(name, _kept(work / name, reuse)):
            continue
        settings = resolve_settings(preset, data=str(data), model=model, model_options=config,
                                    train_options={**train, "epochs": s["gen_epochs"], "seed": 2})
        runs[name] = Run.create(settings, work / name, progress=False)
        log(f"generator {name}")
    return runs


def pixel_baseline(run: Run, work: Path, s: dict):
    """The previous detector: aekit's pixel CNN (FeatureNet, full-resolution stem), no augmentation, threshold 0.5."""
    from aekit.apps.detect_data import detector_data
    from aekit.apps.features import train_feature_net
    from aekit.data.dataset import IMAGE, Dataset

    train, val, _ = detector_data(run, s["det_per_domain"], variety=False)
    x = np.concatenate([train["real"], train["fake"]])
    y = np.r_[np.zeros(len(train["real"]), np.int64), np.ones(len(train["fake"]), np.int64)]
    xv = np.concatenate([val["real"], val["fake"]])
    yv = np.r_[np.zeros(len(val["real"]), np.int64), np.ones(len(val["fake"]), np.int64)]
    net = train_feature_net(Dataset("detector", x, y, xv, yv, IMAGE, "pixel baseline"), 0, "pixel detector",
                            epochs=10, stem_stride=1)

    @torch.no_grad()
    def score(images: np.ndarray) -> np.ndarray:
        net.eval()
        return torch.softmax(net(net.to_model_space(images)).double(), 1)[:, 1].numpy()

    return score, 0.5


def train_detectors(run: Run, work: Path, s: dict) -> dict:
    """name -> (score function, threshold, config) for the detector and those it is compared with."""
    out = {}
    for name, base, seed in VARIANTS:
        t0 = time.perf_counter()
        cfg = train_detector(run, work / name, max_per_domain=s["det_per_domain"], epochs=s["det_epochs"],
                             force=True, seed=seed, **BASE[base])
        net, _ = load_detector(work / name)
        out[name] = (net, cfg["threshold"],
                     {k: cfg[k] for k in ("threshold", "val_auroc", "val_false_positive_rate", "trained_on",
                                          "train_seconds")})
        log(f"detector {name}: {time.perf_counter() - t0:.0f} s, validation AUROC {cfg['val_auroc']:.4f}")
    t0 = time.perf_counter()
    score, threshold = pixel_baseline(run, work, s)
    out["pixel_cnn"] = (score, threshold, {"threshold": threshold, "train_seconds": round(time.perf_counter() - t0, 1)})
    return out


# --- evaluation -------------------------------------------------------------------------------------------------

def cases(ids: dict, swaps: dict[str, Run], gens: dict[str, Run], real_gen: np.ndarray) -> dict:
    """case -> {part: (real, fake)}: each swap run's pooled swaps and each direction, each generator."""
    out = {}
    for case, (pair, _) in RUNS.items():
        held = {name: ids[name][1] for name in pair}
        made = model_outputs(swaps[case], held)
        out[case] = {"all": (np.concatenate(list(held.values())), np.concatenate(list(made.values())))}
        out[case].update({k: (held[k.split("->")[1]], v) for k, v in made.items()})
    out["other_generators"] = {name: (rgb(real_gen), rgb(next(iter(model_outputs(run, real_gen).values()))))
                               for name, run in gens.items()}
    return out


def rgb(images: np.ndarray) -> np.ndarray:
    """Grey uint8 (N, H, W) as RGB (N, H, W, 3), as ``aekit detect`` reads a grey file for a colour detector."""
    return np.repeat(images[..., None], 3, axis=-1)


def evaluate_all(detectors: dict, data: dict) -> dict:
    results = {}
    for name, (score, threshold, cfg) in detectors.items():
        res = {case: {part: evaluate(score, threshold, real, fake) for part, (real, fake) in parts.items()}
               for case, parts in data.items()}
        calibrated = {case: referenced(score, parts) for case, parts in data.items()}
        results[name] = {"config": cfg, "cases": res, "summary": summary(res), "with_reference": calibrated,
                         "summary_with_reference": summary(calibrated)}
        log(f"{name}: {json.dumps(results[name]['summary'])}; with references "
            f"{json.dumps(results[name]['summary_with_reference'])}")
    return results


def referenced(score, parts: dict) -> dict:
    """One case with references: in every part the second half of its real images is the reference and the first
    half is scored at that reference's threshold; a swap run's directions pool (``all``) on their references'
    scales, and its false-positive and true-positive rates are the pooled shares, as ``evaluate`` gives them."""
    out, pooled = {}, {}
    for part, (real, fake) in parts.items():
        if part != "all":
            half = len(real) // 2
            out[part], relative = with_reference(score, real[half:], real[:half], fake)
            for suffix, scores in relative.items():
                pooled.setdefault(suffix, []).append(scores)
    if "all" in parts:
        out["all"] = pool(list(out.values()), pooled)
    return out


def pool(parts: list[dict], relative: dict) -> dict:
    """A swap run's directions together: AUROC of their relative scores, and the shares flagged over all images."""
    real = sum(p["real"] for p in parts)
    out = {"real": real, "synthetic": sum(p["synthetic"] for p in parts)}
    for suffix, scores in relative.items():
        r, f = (np.concatenate([s[i] for s in scores]) for i in (0, 1))
        out[f"auroc{suffix}"] = auroc(np.r_[np.zeros(len(r)), np.ones(len(f))], np.r_[r, f])
        for rate, n in (("false_positive_rate", "real"), ("true_positive_rate", "synthetic")):
            out[f"{rate}{suffix}"] = sum(p[f"{rate}{suffix}"] * p[n] for p in parts) / out[n]
    return out


def summary(res: dict) -> dict:
    """The headline per case: pooled swaps for the swap runs, the lowest generator for the generators."""
    gens = res["other_generators"].values()
    out = {}
    for suffix in ("", "_jpeg75"):
        out[f"auroc{suffix}"] = {"same_run": res["same_run"]["all"][f"auroc{suffix}"],
                                 "other_run": res["other_run"]["all"][f"auroc{suffix}"],
                                 "other_generators": min(g[f"auroc{suffix}"] for g in gens)}
        out[f"false_positive_rate{suffix}"] = max(
            [res["same_run"]["all"][f"false_positive_rate{suffix}"], res["other_run"]["all"][
                f"false_positive_rate{suffix}"], *(g[f"false_positive_rate{suffix}"] for g in gens)])
    return out


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the report -------------------------------------------------------------------------------------------------

GOALS = {"same_run": 0.99, "other_run": 0.95, "other_generators": 0.95}
LABELS = {"ensemble": "aekit detector: the spectral model and 3 residual CNNs without augmentation, each ranked "
                      "among real images, the highest rank",
          "ensemble_jpeg": "the same for JPEG files (`--jpeg`): trained on JPEG re-saves",
          "spectral": "the spectral model alone (`--network spectral`): linear model of the log DCT spectrum",
          "residual": "residual CNN (`--network residual-cnn`), augmented, varied outputs",
          "residual_no_variety": "the residual CNN on reconstructions and swaps only",
          "residual_no_augment": "the residual CNN without JPEG/resize/noise augmentation",
          **{f"{name}_seed{k}": f"the same from seed {k}" for name, seeds in SEEDS.items() for k in seeds},
          "pixel_cnn": "previous detector: pixel CNN, reconstructions and swaps, no augmentation"}
SHORT = {"ensemble": "the ensemble", "ensemble_jpeg": "the ensemble for JPEG files",
         "spectral": "the spectral model alone", "residual": "the residual CNN",
         "residual_no_variety": "the residual CNN without varied outputs",
         "residual_no_augment": "the residual CNN without augmentation", "pixel_cnn": "the previous pixel CNN"}
RESEEDED = {name for name, _, seed in VARIANTS if seed}  # the detectors trained again from another seed
CASES = {"same_run": "(a) same run", "other_run": "(b) other run", "other_generators": "(c) other generators"}


def _pair(part: dict, key: str) -> str:
    return f"{part[key]:.4f} / {part[key + '_jpeg75']:.4f}"


def _headline(name: str, r: dict, key: str = "summary") -> list[str]:
    """A detector's row: AUROC per case and the most real images flagged, as written / after JPEG; with its own
    threshold (``summary``) or with references (``summary_with_reference``)."""
    a = r[key]
    return [LABELS.get(name, name), *(f"{a['auroc'][c]:.4f} / {a['auroc_jpeg75'][c]:.4f}" for c in CASES),
            f"{a['false_positive_rate']:.3f} / {a['false_positive_rate_jpeg75']:.3f}",
            *([f"{r['config']['threshold']:.3f}"] if key == "summary" else [])]


def _parts(r: dict) -> list[list[str]]:
    rows = []
    for case, parts in r["cases"].items():
        for part, v in parts.items():
            rows.append([CASES[case], "pooled" if part == "all" else part.replace("->", " -> "), _pair(v, "auroc"),
                         _pair(v, "false_positive_rate"), _pair(v, "true_positive_rate"), str(v["synthetic"])])
    return rows


def _better(name: str, d: dict, main: dict) -> str:
    """Where a compared detector scores above the main one (as written), at what false-positive rate and after
    JPEG; nothing when it does not."""
    a = d["summary"]
    wins = [c for c in ("other_run", "other_generators") if a["auroc"][c] > main["auroc"][c]]
    if not wins:
        return ""
    return (f" {_short_capital(name)} scores higher on "
            + " and ".join(f"{CASES[c]} ({a['auroc'][c]:.4f}; {a['auroc_jpeg75'][c]:.4f} after JPEG)" for c in wins)
            + f", with up to {a['false_positive_rate']:.1%} of real images flagged at its threshold.")


def most_flagged(r: dict) -> str:
    """The real images the main detector flags most often at its threshold, and how many of them, in words."""
    share, part = max((v["false_positive_rate"], part) for case in r["detectors"][MAIN]["cases"].values()
                      for part, v in case.items() if part != "all")
    real = f"`{part.split('->')[1]}`" if "->" in part else "grey MNIST"
    return f"{share:.0%} of the real {real} images"


def shortfalls(r: dict) -> str:
    """What the measurements say against the goals, in words."""
    auc = r["detectors"][MAIN]["summary"]
    missed = [f"{CASES[c]} {auc[k][c]:.4f}{' after JPEG' if k.endswith('75') else ''} (goal {g})"
              for k in ("auroc", "auroc_jpeg75") for c, g in GOALS.items() if auc[k][c] < g]
    parts = [(v["true_positive_rate"], part) for case in r["detectors"][MAIN]["cases"].values()
             for part, v in case.items() if part != "all"]
    caught, weakest = min(parts)
    where = ("Below the goals: " + "; ".join(missed) + ".") if missed else "Every case meets its AUROC goal, with and " \
        "without JPEG."
    fp = auc["false_positive_rate"]
    return (f"**Where aekit falls short.** {where} A high AUROC is not a high catch rate at a low false-positive "
            f"rate: at the threshold `aekit detect` uses, the detector flags {caught:.0%} of `{weakest}` (its weakest "
            f"part), and up to {fp:.1%} of a case's held-out real images ({most_flagged(r)}), against the 1% the "
            "threshold was set for on the run's own validation images."
            + "".join(_better(name, d, auc) for name, d in r["detectors"].items()
                      if name not in RESEEDED | {MAIN, JPEG})
            + "".join(seed_spread(r, name, "summary") for name in SEEDS if name != JPEG) + with_references(r)
            + for_jpeg(r)
            + " The identities and generators here are all renderings of MNIST digits at 28x28; other image sizes, "
            "photographs and models outside aekit are not measured.")


def with_references(r: dict) -> str:
    """What references change, in words: the main detector's figures with them, whether they meet the goals at
    every seed measured, and any detector that reads (b) higher."""
    det = r["detectors"]
    if "summary_with_reference" not in det[MAIN]:
        return ""
    ref = {name: d["summary_with_reference"] for name, d in det.items()}
    main = ref[MAIN]
    seeds = [ref[name] for name in reseeded(MAIN, det).values()]
    met = all(a["auroc"][c] >= g for a in (main, *seeds) for c, g in GOALS.items())
    short_jpeg = [CASES[c] for c, g in GOALS.items() if min(a["auroc_jpeg75"][c] for a in (main, *seeds)) < g]
    text = (" With references (`aekit detect --reference`), the detector reads "
            + " / ".join(f"{main['auroc'][c]:.4f}" for c in CASES) + " on (a) / (b) / (c) ("
            + " / ".join(f"{main['auroc_jpeg75'][c]:.4f}" for c in CASES) + " after JPEG) and flags at most "
            f"{main['false_positive_rate']:.1%} of a case's held-out real images"
            + (f"; it meets every goal as written at {'every seed measured' if seeds else 'this seed'}" if met
               else "")
            + (f"; after JPEG, {' and '.join(short_jpeg)} fall{'s' * (len(short_jpeg) == 1)} short" if short_jpeg
               else "")
            + "." + seed_spread(r, MAIN, "summary_with_reference"))
    others = {name: a for name, a in ref.items() if name not in RESEEDED | {MAIN, JPEG}}
    best = max(others, key=lambda name: others[name]["auroc"]["other_run"])
    if others[best]["auroc"]["other_run"] > main["auroc"]["other_run"]:
        text += (f" {_short_capital(best)} reads (b) "
                 f"{others[best]['auroc']['other_run']:.4f} ({others[best]['auroc_jpeg75']['other_run']:.4f} after "
                 f"JPEG), (c) {others[best]['auroc']['other_generators']:.4f}."
                 + seed_spread(r, best, "summary_with_reference"))
    return text


def for_jpeg(r: dict) -> str:
    """What the detector trained for JPEG files reads on JPEG images, beside the main one, in words (nothing when
    the result has no such detector)."""
    det = r["detectors"]
    if JPEG not in det or "summary_with_reference" not in det[JPEG]:
        return ""

    def cells(name: str) -> str:
        return " / ".join(f"{det[name]['summary_with_reference']['auroc_jpeg75'][c]:.4f}" for c in CASES)

    seeds = reseeded(JPEG, det)
    flagged = max(det[name]["summary_with_reference"]["false_positive_rate_jpeg75"] for name in (JPEG, *seeds.values()))
    return (f" On JPEG images (q75), with references, {SHORT[JPEG]} (`--jpeg`) reads {cells(JPEG)} on (a) / (b) / (c)"
            + (f" (from seeds {' and '.join(map(str, seeds))}: {' and '.join(map(cells, seeds.values()))})" if seeds
               else "")
            + f", against {cells(MAIN)} for the default one, and flags at most {flagged:.1%} of a case's real images; "
            f"at its own threshold it reads "
            + " / ".join(f"{det[JPEG]['summary']['auroc_jpeg75'][c]:.4f}" for c in CASES) + ".")


def seed_spread(r: dict, name: str, key: str) -> str:
    """The same detector from other seeds on (b) and (c), in words (nothing when the result has no other seeds)."""
    seeds = {k: r["detectors"][seeded][key] for k, seeded in reseeded(name, r["detectors"]).items()}
    if not seeds:
        return ""
    listed = " and ".join(str(k) for k in seeds)
    cells = "; ".join(f"{CASES[c]} " + " and ".join(f"{v['auroc'][c]:.4f}" for v in seeds.values())
                      for c in ("other_run", "other_generators"))
    return f" Trained from seeds {listed} instead, {SHORT.get(name, name)} reads {cells}."


def reseeded(name: str, det: dict) -> dict[int, str]:
    """seed -> the name of detector ``name`` trained again from that seed, for those the result holds."""
    return {k: f"{name}_seed{k}" for k in SEEDS.get(name, ()) if f"{name}_seed{k}" in det}


def ordered(det: dict) -> list[str]:
    """The detectors of a result, each followed by the same trained from its other seeds."""
    return [n for name in det if name not in RESEEDED for n in (name, *reseeded(name, det).values())]


def _short_capital(name: str) -> str:
    """A detector's short name at the start of a sentence."""
    label = SHORT.get(name, name)
    return label[0].upper() + label[1:]


def _names(case: str, r: dict) -> str:
    """The identities of a swap run, as the section names them."""
    return " and ".join(f"`{n}`" for n in r["runs"][case])


def section(results: dict) -> str:
    """BENCHMARKS.md's `detect` section: one headline table per result, the main detector's parts, its limits."""
    r = next(iter(results.values()))
    s, det = r["settings"], r["detectors"]
    head = ["detector", *CASES.values(), "false positives", "threshold"]
    lines = [
        f"A detector trained on one swap run's outputs (run A: MNIST drawn by identities {_names('same_run', r)}, "
        "adversarial decoder), scored on (a) held-out swaps of run A, (b) swaps of another run (seed 1; identities "
        f"{_names('other_run', r)}, other training digits) and (c) aekit generators it never saw (a conv VAE's samples, a "
        "denoiser's output, a compressive autoencoder's decompressed files; the lowest of the three shown). "
        f"{s['held']} held-out test digits per identity; cells: AUROC as written / after JPEG q75 of real and "
        "synthetic images alike; false positives: the largest share of real images flagged at the detector's "
        "threshold (the one `aekit detect` uses) over the cases.", "",
        *table(head, [_headline(name, det[name]) for name in ordered(det)]), "",
        *reference_table(r),
        "The aekit detector by part (AUROC, false-positive and true-positive rates at its threshold: as written / "
        "after JPEG q75; a direction compares swaps into an identity with real images of it):", "",
        *table(["case", "part", "AUROC", "false positives", "true positives", "synthetic images"],
               _parts(det[MAIN])), "",
        "Command: " + "; ".join(command("detect.py", res["argv"], drop=("--workdir",)) for res in results.values())
        + ("" if r.get("reused_runs") else f" ({r['seconds'] / 60:.0f} minutes on {device(r['machine'])})") + ".", "",
        shortfalls(r)]
    if not r.get("complete", True):
        lines.insert(0, "**Partial result: the run was interrupted.**\n")
    return "\n".join(lines)


def reference_table(r: dict) -> list[str]:
    """The same detectors with references (``aekit detect --reference``), when the result has them."""
    det = r["detectors"]
    if "summary_with_reference" not in det[MAIN]:
        return []
    return [f"With references, as `aekit detect --reference` works: in each part (a swap direction, a generator) "
            f"{r['settings']['held'] // 2} of its held-out real images set the threshold (so that about 1% of real "
            "images of that kind score above it) and the other half are scored against all its synthetic images, each score put on its part's reference "
            "scale (the share of the reference scoring below it) so that a run's two directions pool; after JPEG the "
            "reference is re-saved too; false positives: the largest share of real images flagged at those thresholds "
            "over the cases:", "",
            *table(["detector", *CASES.values(), "false positives"],
                   [_headline(name, det[name], "summary_with_reference") for name in ordered(det)]), ""]


# --- main -------------------------------------------------------------------------------------------------------

def result_of(detectors: dict, s: dict, stages: dict, t0: float, argv) -> dict:
    """The results file: the headline keys first (``detector_auroc`` as swap.json wants it), then everything."""
    main = detectors[MAIN]["summary"]
    reused = "--reuse" in (argv or [])
    return {"detector_auroc": main["auroc"], "detector_auroc_jpeg75": main["auroc_jpeg75"],
            "false_positive_rate": main["false_positive_rate"],
            "false_positive_rate_jpeg75": main["false_positive_rate_jpeg75"],
            "detector_auroc_with_reference": detectors[MAIN]["summary_with_reference"]["auroc"],
            "detector_auroc_with_reference_jpeg75": detectors[MAIN]["summary_with_reference"]["auroc_jpeg75"],
            "false_positive_rate_with_reference": detectors[MAIN]["summary_with_reference"]["false_positive_rate"],
            "threshold": detectors[MAIN]["config"]["threshold"], "detectors": detectors, "settings": s,
            "runs": {case: list(pair) for case, (pair, _) in RUNS.items()},
            "stages_seconds": stages, "seconds": round(time.perf_counter() - t0, 1), "machine": machine(),
            "argv": argv_text([w for w in argv or [] if w != "--reuse"]), "reused_runs": reused, "complete": True}


SHARED = ("detector_auroc", "detector_auroc_jpeg75", "detector_auroc_with_reference",
          "detector_auroc_with_reference_jpeg75")  # this benchmark's keys in swap.json


def share_with_swap(result: dict, folder: Path = RESULTS) -> None:
    """swap.json's ``detector_auroc`` ({same_run, other_run, other_generators}, as written / after JPEG q75, and with
    references) is this benchmark's headline: the swap benchmark's other keys are kept as they are."""
    path = folder / "swap.json"
    swap = json.loads(path.read_text()) if path.exists() else {}
    write_result("swap", {**swap, **{k: result[k] for k in SHARED}}, folder)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny data and training: checks the script end to end")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override a size or length ({', '.join(FULL)})")
    p.add_argument("--workdir", help="keep runs and detectors here (default: a temporary folder)")
    p.add_argument("--reuse", action="store_true", help="use the swap runs and generators already in --workdir "
                   "(trained with the same settings) instead of training them again")
    p.add_argument("--no-write", action="store_true", help="print only (no results file or BENCHMARKS.md)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    s = {**(QUICK if a.quick else FULL), **{k: float(v) if "." in v else int(v)
                                            for k, v in (item.split("=", 1) for item in a.set)}}
    t0, stages = time.perf_counter(), {}
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="aekit-detect-"))
    if not (a.reuse and a.workdir):
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    mnist = load_dataset("mnist")
    ids = identities(mnist.x_train, mnist.x_test, s)
    used, m = 4 * s["n"], s["held"]
    swaps = train_swap_runs(ids, work, s, a.reuse)
    stages["swap_runs"] = round(time.perf_counter() - t0, 1)
    gens = train_generators(mnist.x_train[used : used + s["gen_n"]], work, s, a.reuse)
    stages["generators"] = round(time.perf_counter() - t0 - sum(stages.values()), 1)
    detectors = train_detectors(swaps["same_run"], work, s)
    stages["detectors"] = round(time.perf_counter() - t0 - sum(stages.values()), 1)
    data = cases(ids, swaps, gens, mnist.x_test[4 * m : 5 * m])
    results = {}
    for name in detectors:  # written after each detector: a partial result survives an interruption
        results.update(evaluate_all({name: detectors[name]}, data))
        result = {**result_of({MAIN: results[MAIN], **results}, s, stages, t0, argv), "complete": False}
        if not a.no_write:
            write_result("detect", result)
    stages["evaluation"] = round(time.perf_counter() - t0 - sum(stages.values()), 1)
    result = result_of(results, s, stages, t0, argv)
    if not a.no_write:
        write_result("detect", result)
        update("detect", section)
        share_with_swap(result)
    print(json.dumps({k: result[k] for k in ("detector_auroc", "detector_auroc_jpeg75", "false_positive_rate")}))
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
