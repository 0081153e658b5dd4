"""Swap with a ground truth (the paired part), swap between two handwriting domains that exist offline (the unpaired
part), and detect the swaps.

Paired (``_paired.py``): K fixed identities of ``aekit.data.identities`` each trained on its own disjoint share of
MNIST; a held-out digit x drawn by identity a, swapped into b, is scored against the truth render_b(x) and the
model's own reconstruction of it (the ceiling), with content, identity and realism judges trained on real drawings
(``_paired_judges.py``); with and without the adversarial decoder and the encoder's stroke augmentations, 2 identities
against K, and no-swap baselines.

Unpaired: domain a: MNIST. Domain b: scikit-learn's 8x8 digits (other writers, another scanner), each upsampled bilinearly to
20x20 and centred in a 28x28 frame, as MNIST centres its digits in a 20x20 box (so the two domains differ in style,
not in layout). Held out: the first --eval-a MNIST test images and all 360 digits test images; nothing is evaluated
on images any model here was trained on.

Judges, trained on real images only (aekit's small conv classifier, ``fid.FeatureNet``): a digit classifier per
domain and a real-a vs real-b domain classifier. For swaps in both directions it reports content kept (accuracy of
the target domain's digit classifier against the source label) and realism (fraction the domain classifier assigns
to the target domain), for the same swap model trained with and without the adversarial decoder (same data, seed and
steps), with content by digit and how well a linear probe tells the domain from the shared code. A reference row
puts MNIST through domain b's own acquisition by hand (``digits_pipeline``): b's look with the source's exact shape.
The detector (``aekit detect-train`` on the adversarial run's training images) is scored on the held-out real
images and their swaps, written as PNGs with aekit's metadata mark and credentials (no pixel watermark: the
detector is to learn the swap, not the watermark), stripped of them and read back.

Prints a JSON object as its last line; writes benchmarks/results/swap.json (the paired part under ``paired``, written
after every stage, shown in BENCHMARKS.md once complete), swap.png, swap-paired.png and rebuilds the `swap` section
of BENCHMARKS.md.

    python benchmarks/swap.py [--part all|unpaired|paired] [--epochs 8] [--paired-epochs 19.2] [--workdir DIR]
    python benchmarks/swap.py --part paired --quick --workdir DIR     # tiny end-to-end check, results in DIR/results
    python benchmarks/swap.py --part paired --judges DIR   # content judges kept in DIR for the next run (an hour less)
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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _paired  # noqa: E402
from _report import RESULTS, argv_text, command, device, machine, on_device, table, update, write_result  # noqa: E402
from detect import SHARED as DETECTOR_KEYS  # noqa: E402

from aekit.apps.detect import load_detector, score_images, train_detector  # noqa: E402
from aekit.apps.features import feature_net, train_feature_net  # noqa: E402
from aekit.apps.swap import decode_all, train_swap  # noqa: E402
from aekit.data import Normalizer, load_dataset  # noqa: E402
from aekit.data.dataset import IMAGE, Dataset  # noqa: E402
from aekit.metrics.reconstruction import auroc  # noqa: E402
from aekit.runs.provenance import make_mark, read_mark, save_png  # noqa: E402

# The swap model and its recipe (the adversarial weight is the only difference between the two runs).
MODEL = {"channels": [32, 64, 128], "blocks_per_stage": 1, "spatial_code": True, "code_size": 16, "warp": 0.0,
         "cycle": 1.0, "recolour": 1.0}
# The paired part's identities differ in stroke style (hollow outline strokes among solid ones) and weight (heavy
# among thin): its encoder also sees half of its inputs as their edges only (the `edges` option), which lifts the
# directions out of `outline`, and 30 % with their strokes thickened (`thicken`), which lifts those out of `bold`.
# Two conv blocks per stage: the deeper encoder and decoders keep more of the digit in the weakest direction (outline
# into paper: 0.946 against 0.915 with one, at 4.8 passes, the same judges), where one block per stage draws the
# outline's ring itself as the stroke.
PAIRED_MODEL = {**MODEL, "blocks_per_stage": 2, "edges": 0.5, "thicken": 0.3}
# Passes over all identities' training images (each decoder's share as often): the weakest direction kept 0.946 at
# 4.8, 0.962 at 9.6 and 0.974 at 19.2 (the same model, seed and judges); 19.2 passes of the main model take about
# 2 h on one CPU thread.
PAIRED_EPOCHS = 19.2
# The content judges: epochs and MNIST training digits each (6 epochs read bold drawings at 0.98875 to 0.9905
# depending on the machine, against the goal of 0.99; 8 read them at 0.99025).
JUDGE_EPOCHS, JUDGE_TRAIN = 8, 60000
TRAIN = {"batch_size": 64, "lr": 2e-3, "schedule": "cosine", "warmup": 0.02, "eps": 1e-8, "device": "cpu",
         "seed": 0, "disc_channels": [32, 64, 128]}  # a critic of three stages sees the whole 28x28 digit


def digits_28(images8: np.ndarray) -> np.ndarray:
    """uint8 (N, 8, 8) -> (N, 28, 28): bilinear to 20x20, centred with a 4-pixel black border (MNIST's layout)."""
    out = np.zeros((len(images8), 28, 28), np.uint8)
    for i, im in enumerate(images8):
        out[i, 4:24, 4:24] = np.asarray(Image.fromarray(im).resize((20, 20), Image.BILINEAR))
    return out


def digits_pipeline(images28: np.ndarray) -> np.ndarray:
    """MNIST digits (N, 28, 28) put through the digits set's own acquisition, by hand: binarised, cropped to their
    box, scaled (aspect kept) into a 32x32 bitmap, on-pixels counted in 4x4 blocks (0..16, as UCI optdigits), then
    ``digits_28``. The swap's reference: domain b's look with the source's exact shape."""
    out = np.zeros((len(images28), 8, 8), np.uint8)
    for i, im in enumerate(images28):
        ys, xs = np.nonzero(im > 127)
        if len(ys) == 0:
            continue
        crop = Image.fromarray(((im > 127) * 255).astype(np.uint8)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
        k = 32 / max(crop.size)
        small = np.asarray(crop.resize((max(1, round(crop.width * k)), max(1, round(crop.height * k))),
                                       Image.BILINEAR)) > 127
        bitmap = np.zeros((32, 32), bool)
        top, left = (32 - small.shape[0]) // 2, (32 - small.shape[1]) // 2
        bitmap[top : top + small.shape[0], left : left + small.shape[1]] = small
        out[i] = np.rint(bitmap.reshape(8, 4, 8, 4).sum((1, 3)) * 255 / 16)
    return digits_28(out)


def domains(n_a: int) -> dict[str, Dataset]:
    mnist, digits = load_dataset("mnist"), load_dataset("digits")
    a = Dataset("mnist", mnist.x_train[:n_a], mnist.y_train[:n_a], mnist.x_test, mnist.y_test, IMAGE, "mnist")
    b = Dataset("digits28", digits_28(digits.x_train), digits.y_train, digits_28(digits.x_test), digits.y_test,
                IMAGE, "digits upsampled to 20x20 in 28x28")
    return {"a": a, "b": b}


def write_npz(ds: Dataset, path: Path) -> Path:
    np.savez(path, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    return path


def judges(d: dict[str, Dataset], seed: int = 0) -> dict:
    """Digit classifier per domain and the domain classifier, trained on real training images only."""
    a, b = d["a"], d["b"]  # a: the swap model's slice of MNIST; the domain classifier uses as many a as b
    n = len(b.x_train)
    dom = Dataset("domain", np.concatenate([a.x_train[:n], b.x_train]),
                  np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)],
                  np.concatenate([a.x_test[: len(b.x_test)], b.x_test]),
                  np.r_[np.zeros(len(b.x_test), np.int64), np.ones(len(b.x_test), np.int64)], IMAGE, "domain")
    # Digits a: aekit's MNIST feature net (trained on all 60k MNIST training images, cached), not just the swap
    # model's slice; it never sees the test images.
    return {"a": feature_net("mnist", seed), "b": train_feature_net(b, seed, "digit classifier b"),
            "domain": train_feature_net(dom, seed, "domain classifier")}


def predict(net, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        net.eval()
        return net(net.to_model_space(images)).argmax(1).numpy()


def swaps(model, images: np.ndarray, to: int) -> np.ndarray:
    norm = Normalizer(IMAGE, 0.0, 255.0)
    return norm.inverse(decode_all(model, torch.from_numpy(norm.transform(images)), to).clamp(0, 1).numpy())


def score_run(run: Path, held: dict, clf: dict) -> tuple[dict, dict]:
    """Content and realism of held-out swaps in both directions; also returns the swaps themselves."""
    from aekit.runs.files import load_model

    model, _ = load_model(run)
    out, made = {}, {}
    for src, dst, j in (("a", "b", 1), ("b", "a", 0)):
        x, y = held[src]
        s = swaps(model, x, j)
        made[f"{src}_to_{dst}"] = s
        out[f"{src}_to_{dst}"] = judged(s, y, dst, clf)
    out["code_domain_probe"] = code_domain_probe(model, held)
    return out, made


def judged(x: np.ndarray, y: np.ndarray, dst: str, clf: dict) -> dict:
    """Content and realism of images meant as domain ``dst`` whose digits are ``y``."""
    j, hit = 1 if dst == "b" else 0, predict(clf[dst], x) == y
    return {"content": float(hit.mean()), "realism": float((predict(clf["domain"], x) == j).mean()),
            "images": len(x), "content_by_digit": [round(float(hit[y == c].mean()), 3) for c in range(10)]}


def code_domain_probe(model, held: dict) -> float:
    """How domain-specific the shared code is: 5-fold accuracy of a logistic regression telling held-out a from b
    by their codes (as many a as b; 0.5: the codes do not show their domain)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    norm, n = Normalizer(IMAGE, 0.0, 255.0), len(held["b"][0])
    with torch.no_grad():
        model.eval()
        z = [model.encode(torch.from_numpy(norm.transform(held[k][0][:n]))).flatten(1).numpy() for k in "ab"]
    labels = np.r_[np.zeros(n), np.ones(n)]
    return float(cross_val_score(LogisticRegression(max_iter=2000), np.concatenate(z), labels, cv=5).mean())


def unswapped(held: dict, clf: dict) -> dict:
    """The floor: the source images themselves, judged as if they were swaps into the other domain."""
    return {f"{src}_to_{dst}": judged(*held[src], dst, clf) for src, dst in (("a", "b"), ("b", "a"))}


def stripped_pixels(images: np.ndarray, folder: Path, fingerprint: str) -> np.ndarray:
    """Write each image as a PNG with a metadata mark (no pixel watermark), copy its pixels into a PNG without it,
    read those back."""
    marked, plain = folder / "marked", folder / "stripped"
    marked.mkdir(parents=True), plain.mkdir(parents=True)
    back = []
    for i, im in enumerate(images):
        p = save_png(marked / f"{i:05d}.png", im, make_mark("swap", fingerprint), pixel_mark=False)
        with Image.open(p) as f:
            pixels = np.asarray(f)
            Image.fromarray(pixels).save(plain / p.name)  # pixels only: no text chunks
        assert read_mark(plain / p.name) is None
        with Image.open(plain / p.name) as f:
            back.append(np.asarray(f))
    back = np.stack(back)
    assert np.array_equal(back, images)  # the metadata mark never enters the pixels
    return back


def detector_auroc(run: Path, work: Path, held: dict, made: dict) -> dict:
    """Train the detector on the run's training images; AUROC on held-out real images vs held-out swaps."""
    from aekit.runs.files import fingerprint

    t0 = time.perf_counter()
    cfg = train_detector(run, work / "detector", max_per_domain=2000)
    net, _ = load_detector(work / "detector")
    real = np.concatenate([held["a"][0], held["b"][0]])
    fake = np.concatenate([made["a_to_b"], made["b_to_a"]])
    fp = fingerprint(run / "model.safetensors")
    real_px = stripped_pixels(real, work / "real", fp)
    fake_px = stripped_pixels(fake, work / "fake", fp)
    scores = np.r_[score_images(net, real_px), score_images(net, fake_px)]
    labels = np.r_[np.zeros(len(real_px)), np.ones(len(fake_px))]
    # Per direction: swaps into a domain against that domain's real held-out images (the hard comparison).
    per = {k: auroc(np.r_[np.zeros(len(held[k[-1]][0])), np.ones(len(v))],
                    np.r_[score_images(net, held[k[-1]][0]), score_images(net, v)]) for k, v in made.items()}
    return {"auroc": auroc(labels, scores), "by_direction": per, "real": len(real_px), "swaps": len(fake_px),
            "val_auroc": cfg["val_auroc"], "trained_on": cfg["trained_on"], "network": cfg["network"],
            "seconds": round(time.perf_counter() - t0, 1)}


SHORT = (
    "**Where aekit falls short.** Content kept is low, most of all from MNIST to domain b. A faithful re-rendering "
    "caps near 0.6: MNIST put through domain b's own acquisition by hand (last row) has b's look with the source's "
    "exact shape, and b's digit classifier reads it at 0.60, because b's writers follow other conventions (a 1 with "
    "a flag and a base, a crossed 7, an upright 9). A shared-code swap keeps the source's shape and lands near that "
    "ceiling; doing better needs the swap to redraw each digit in the other writers' conventions, which nothing in "
    "an unsupervised swap ties to the digit. Code alignment across domains, warping and, with labels, "
    "class-conditional critics and per-class alignment were measured; none lifts both directions. Realism needs the "
    "adversarial decoder (the cycle term is on in both runs).")
LABELS = {None: "adversarial decoder", "no_adv": "without it", "unswapped": "no swap (source images)",
          "by_hand": "domain b's acquisition applied to MNIST by hand"}


def rows(name: str, r: dict) -> list[list[str]]:
    out = []
    for key, label in LABELS.items():
        part = r if key is None else r[key]
        out += [[name, label, d.replace("_to_", " -> "), f"{part[d]['content']:.3f}", f"{part[d]['realism']:.3f}"]
                for d in ("a_to_b", "b_to_a") if d in part]
    return out


def detector(name: str, r: dict) -> str:
    det = r["detector"]
    return (f"`{name}` ({det['network']} network): AUROC **{det['auroc']:.4f}** on {det['real']} held-out real images against their "
            f"{det['swaps']} swaps (swaps into a domain against its real images: a -> b "
            f"{det['by_direction']['a_to_b']:.4f}, b -> a {det['by_direction']['b_to_a']:.4f}); a linear probe tells "
            f"the domain from the shared code at {r['code_domain_probe']:.3f} ({r['no_adv']['code_domain_probe']:.3f} "
            "without the adversarial decoder; 0.5 would be codes that hide their domain)")


def section(results: dict) -> str:
    """BENCHMARKS.md's `swap` section: the paired identities (once a paired run is complete), then the unpaired swap
    between MNIST and the digits with the detector's AUROC, per swap*.json."""
    r = next(iter(results.values()))
    paired = r.get("paired") or {}
    if not paired.get("complete"):
        return "\n".join(unpaired_section(results))
    oracle = [oracle_line(r["paired_oracle"], paired), ""] if r.get("paired_oracle") else []
    return "\n".join([*_paired.paired_section(paired, table), paired_command(paired), "", *oracle,
                      *(["### Unpaired: MNIST and scikit-learn's digits", "", *unpaired_section(results)]
                        if "a_to_b" in r else [])])


def oracle_line(o: dict, p: dict) -> str:
    """The paired oracle (``swap_oracle.py``) beside the swap's largest PSNR gap and lowest content kept."""
    worst, goal = _paired.arrow(o["largest_gap_direction"]), _paired.GOALS["psnr_gap_db"]
    backbone = f"({_paired.model_words(o['backbone'])})" if "backbone" in o else "with the same backbone"
    swap_epochs = p.get("options", {}).get("epochs", o["epochs"])
    text = (f"**A model that sees pairs.** aekit's conv autoencoder {backbone}, trained on the pairs "
            f"render_a(x) -> render_b(x) of {o['train_images']} digits for {o['epochs']:g} passes per direction"
            + (f" (the swap model above had {swap_epochs:g})" if swap_epochs != o["epochs"] else "")
            + f", falls {o['largest_gap_db']:.2f} dB short of its own ceiling at worst ({worst})"
            + (": some drawings lose what another needs (a hollow outline does not say how thick the stroke inside "
               f"it was), so a goal of {goal} dB in every direction is out of reach of a model that reconstructs "
               "this well" if o["largest_gap_db"] > goal else f", within the goal of {goal} dB")
            + gap_words(o, p))
    if "lowest_content_kept" in o:
        least, kept_goal = _paired.arrow(o["lowest_content_direction"]), _paired.GOALS["content_kept"]
        text += (f". The oracle's content kept is {o['lowest_content_kept']:.3f} at lowest ({least}; the swap's: "
                 f"{p['content_kept']:.3f}, goal {kept_goal})"
                 + (": the digit itself survives every drawing, so what the drawings lose does not rule that goal "
                    "out; the swap's shortfall there is its own" if o["lowest_content_kept"] >= kept_goal else ""))
    return (text + f". Command: {command('swap_oracle.py', o['argv'], drop=('--judges',))} "
            f"({o['seconds'] / 60:.0f} minutes on {device(o['machine'])}).")


def gap_words(o: dict, p: dict) -> str:
    """The swap's largest gap beside the oracle's, and (when the paired result has the main run's summary) both
    models' mean PSNR against the truth and of their ceilings: a gap is only as large as its model's ceiling is high."""
    text = f". The swap's largest gap is {p['psnr_gap_db']:.2f} dB"
    adv = p.get("variants", {}).get("adv", {})
    d = adv.get("directions", {})
    worst = max(d, key=lambda k: d[k]["psnr_gap_db"], default=None)
    if worst in o["gap_db"]:
        text += f" ({_paired.arrow(worst)}, where the oracle's is {o['gap_db'][worst]:.2f} dB)"
    s = adv.get("summary")
    if not s:
        return text
    # the oracle's swap directions are those with a gap; the others (a -> a) are its ceilings
    swaps = np.mean([o["psnr"][k] for k in o["gap_db"]])
    ceilings = np.mean([v for k, v in o["psnr"].items() if k not in o["gap_db"]])
    poorer = p["psnr_gap_db"] < o["largest_gap_db"] and s["psnr"] < swaps and s["ceiling_psnr"] < ceilings
    return (text + (", smaller because its own reconstructions are poorer, not because its swaps are closer to the "
                    "truth:" if poorer else ";")
            + f" against the truth, the oracle's swaps reach {swaps:.1f} dB on average and the swap's "
            f"{s['psnr']:.1f} dB (their ceilings {ceilings:.1f} and {s['ceiling_psnr']:.1f} dB)")


def paired_command(p: dict) -> str:
    """The paired part's command and how long it took (not counting what it reused from an earlier run)."""
    reused = [what for what, yes in (("the swap models", p["options"].get("reuse")),
                                     ("the content judges", any(j.get("kept") for j in p["judges"].values())))
              if yes]
    shown = command("swap.py", p["argv"], drop=("--workdir", "--judges"))
    return (f"Command: {shown} ({p['seconds'] / 60:.0f} minutes on {device(p['machine'])}"
            + (f"; {' and '.join(reused)} reused from an earlier run)." if reused else ")."))


def unpaired_section(results: dict) -> list[str]:
    """The unpaired swap's table, the detector's AUROC, the figure, the command and where it falls short."""
    r = next(iter(results.values()))
    m, j, d = r["model"], r["judges"], r["data"]
    return [
        f"Domain a: MNIST ({d['a_train']} training images); domain b: scikit-learn's 8x8 digits upsampled to 20x20 "
        f"and centred in 28x28 ({d['b_train']} training images); held out: {d['a_held']} MNIST and {d['b_held']} "
        "digits test images. Content kept: accuracy of the target domain's digit classifier on the swaps against "
        "the source label; realism: the fraction of swaps a real-a vs real-b classifier assigns to the target domain "
        f"(judges trained on real images only; test accuracy {j['a']:.3f}, {j['b']:.3f} and {j['domain']:.3f}). The "
        f"`swap` model: conv widths {m['channels']}, a {m['code_size']}-channel 4x4 code map, cycle weight "
        f"{m['cycle']}, {r['steps']} steps on 1 CPU thread, trained twice with the same data and seed: with the "
        f"adversarial decoder (weight {r['adversarial']:g}, a critic conditioned on the domain) and without.", "",
        *table(["variant", "swap", "direction", "content kept", "realism"],
               [row for name, res in results.items() for row in rows(name, res)]), "",
        "Detector (`aekit detect-train` on the adversarial run; swaps written as PNGs with aekit's metadata mark, the "
        "mark stripped, pixels read back): " + "; ".join(detector(name, res) for name, res in results.items())
        + ".", "",
        "![swaps: held-out images, their reconstructions, their swaps](benchmarks/results/swap.png)", "",
        "Command: " + "; ".join(command("swap.py", res["argv"], drop=("--workdir",)) for res in results.values()), "",
        SHORT]


def unpaired(a, work: Path, folder: Path) -> dict:
    """The MNIST <-> scikit-learn digits section; writes swap.json (keeping its ``paired`` part) and swap.png."""
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    d = domains(a.n_a)
    held = {"a": (d["a"].x_test[: a.eval_a], d["a"].y_test[: a.eval_a]), "b": (d["b"].x_test, d["b"].y_test)}
    sources = {k: str(write_npz(v, work / f"{k}.npz")) for k, v in d.items()}
    clf = judges(d)
    floor = unswapped(held, clf)
    by_hand = {"a_to_b": judged(digits_pipeline(held["a"][0]), held["a"][1], "b", clf)}
    print("judges", {k: round(v.meta["test_accuracy"], 4) for k, v in clf.items()}, "unswapped", json.dumps(floor),
          "by hand", json.dumps(by_hand), file=sys.stderr, flush=True)
    model = {**MODEL, **json.loads(a.model)}
    recipe = {**TRAIN, **json.loads(a.train), "epochs": a.epochs}
    results, made, secs = {}, None, {}
    for key, weight in (("adv", a.adversarial), ("no_adv", 0.0)):
        s = time.perf_counter()
        train_swap(sources, work / key, model_options=model,
                   train_options={**recipe, "adversarial": weight}, progress=False)
        secs[key] = time.perf_counter() - s
        results[key], m = score_run(work / key, held, clf)
        made = made or m
        print(key, json.dumps(results[key]), f"{secs[key]:.0f} s", file=sys.stderr, flush=True)
    det = detector_auroc(work / "adv", work, held, made)
    n = len(d["a"].x_train) + len(d["b"].x_train)
    result = {"a_to_b": results["adv"]["a_to_b"], "b_to_a": results["adv"]["b_to_a"], "no_adv": results["no_adv"],
              "code_domain_probe": results["adv"]["code_domain_probe"],
              "detector": det, "adversarial": a.adversarial, "epochs": a.epochs,
              "steps": int(np.ceil(a.epochs * np.ceil(n / recipe["batch_size"]))), "model": model, "train": recipe,
              "judges": {k: v.meta["test_accuracy"] for k, v in clf.items()}, "unswapped": floor,
              "by_hand": by_hand,
              "data": {"a_train": len(d["a"].x_train), "b_train": len(d["b"].x_train), "a_held": len(held["a"][0]),
                       "b_held": len(held["b"][0])},
              "train_seconds": {k: round(v, 1) for k, v in secs.items()},
              "seconds": round(time.perf_counter() - t0, 1), "machine": machine(), "argv": argv_text(a.argv)}
    if not a.no_write:
        from aekit.apps.swap import swap_figure

        swap_figure(work / "adv", folder / "swap.png", n=10, force=True)
        kept = {k: v for k, v in stored(folder).items() if k in SHARED}
        write_result("swap", {**result, **kept}, folder)
    print(json.dumps({**{k: result[k] for k in ("a_to_b", "b_to_a", "no_adv")}, "detector_auroc": det["auroc"]}))
    return result


# swap.json's keys that other parts write and an unpaired run keeps: the paired part, the paired oracle
# (benchmarks/swap_oracle.py) and the detector's headline (benchmarks/detect.py)
SHARED = ("paired", "paired_oracle", *DETECTOR_KEYS)


def stored(folder: Path) -> dict:
    """swap.json as it stands in ``folder`` (empty when there is none)."""
    path = folder / "swap.json"
    return json.loads(path.read_text()) if path.exists() else {}


def paired_options(a) -> dict:
    """The paired section's settings from the command line (``--quick``: tiny, to check the pipeline end to end)."""
    model, recipe = {**PAIRED_MODEL, **json.loads(a.model)}, {**TRAIN, **json.loads(a.train)}
    opts = {"identities": a.identities.split(","), "pair": a.pair.split(","), "epochs": a.paired_epochs,
            "adversarial": a.paired_adversarial, "n_eval": a.n_eval, "n_critic": a.n_critic,
            "judge_epochs": a.judge_epochs, "judge_train": a.judge_train, "identity_train": a.identity_train,
            "model": model, "train": recipe, "reuse": a.reuse, "judge_dir": a.judges}
    if a.quick:
        opts.update(epochs=0.004, n_eval=64, n_critic=64, judge_epochs=1, judge_train=1000, judge_test=500,
                    identity_train=1000, feature_epochs=1,
                    model={**model, "channels": [8, 16, 16], "code_size": 4},
                    train={**recipe, "disc_channels": [8, 16, 16]})
    return opts


def paired_part(a, work: Path, folder: Path) -> dict:
    """The paired identity section: swap.json's ``paired`` (written after every stage) and swap-paired.png."""
    from aekit.apps.figures import swap_figure
    from aekit.runs.provenance import make_mark

    t0 = time.perf_counter()

    opts = paired_options(a)
    ran_on = on_device(opts["train"].get("device", "cpu"))

    def save(part: dict) -> None:
        part.update(seconds=round(time.perf_counter() - t0, 1), argv=argv_text([w for w in a.argv if w != "--reuse"]),
                    machine={**machine(), **ran_on})
        if not a.no_write:
            write_result("swap", {**stored(folder), "paired": part}, folder)

    result, run, made = _paired.paired(opts, work, save)
    if not a.no_write:
        blocks = _paired.figure_blocks({"x": load_dataset("mnist").x_test}, made, result["identities"])
        swap_figure(blocks, folder / "swap-paired.png", make_mark("swap-figure", run.fingerprint, model="swap"),
                    title="held-out digits: source, truth, swap, ceiling")
    print(json.dumps({k: result[k] for k in ("content_kept", "identity", "psnr_gap_db", "judge_accuracy", "goals")}))
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("all", "unpaired", "paired"), default="all",
                   help="run both sections, or one (the other's results in swap.json are kept)")
    p.add_argument("--quick", action="store_true", help="paired: tiny models and data, results into --workdir only")
    p.add_argument("--epochs", type=float, default=8.0, help="unpaired: passes over both domains' training images")
    p.add_argument("--n-a", type=int, default=6000, help="unpaired: MNIST training images used")
    p.add_argument("--eval-a", type=int, default=1000, help="unpaired: held-out MNIST test images")
    p.add_argument("--paired-epochs", type=float, default=PAIRED_EPOCHS,
                   help="paired: passes over all identities' images")
    p.add_argument("--identities", default="bold,outline,paper,bleed", help="paired: the identities")
    p.add_argument("--pair", default="outline,paper", help="paired: the two identities of the 2-identity model")
    p.add_argument("--n-eval", type=int, default=1000, help="paired: held-out MNIST test digits evaluated")
    p.add_argument("--n-critic", type=int, default=1000, help="paired: real and swap images per critic")
    p.add_argument("--judge-epochs", type=int, default=JUDGE_EPOCHS, help="paired: epochs of each content judge")
    p.add_argument("--judge-train", type=int, default=JUDGE_TRAIN,
                   help="paired: MNIST training images per content judge")
    p.add_argument("--identity-train", type=int, default=12000, help="paired: training images of the identity judge")
    p.add_argument("--adversarial", type=float, default=0.5, help="unpaired: adversarial weight of the main run")
    p.add_argument("--paired-adversarial", type=float, default=0.1,
                   help="paired: adversarial weight of the K-identity and 2-identity models")
    p.add_argument("--model", default="{}", help="JSON overrides of the swap model config")
    p.add_argument("--train", default="{}", help="JSON overrides of the training recipe")
    p.add_argument("--workdir", help="keep runs and files here (default: a temporary folder)")
    p.add_argument("--reuse", action="store_true", help="paired: use the swap runs already in --workdir (trained "
                   "with the same settings) instead of training them again; critics are trained afresh, judges too "
                   "unless --judges keeps them")
    p.add_argument("--judges", metavar="DIR", help="paired: keep the content judges here and reuse those trained "
                   "before with the same --judge-epochs and --judge-train (they take about an hour)")
    p.add_argument("--no-write", action="store_true", help="print only (probing)")
    a = p.parse_args(argv)
    a.argv = argv or []
    torch.set_num_threads(1)
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="aekit-swap-"))
    if a.quick and (not a.workdir or a.part != "paired"):
        p.error("--quick checks the paired part end to end: give --part paired and a --workdir for its results")
    if a.reuse and (not a.workdir or a.part != "paired"):
        p.error("--reuse reuses the paired part's runs: give --part paired and the --workdir they are in")
    if work.exists() and not a.reuse:
        shutil.rmtree(work)
    folder = work / "results" if a.quick else RESULTS
    result = stored(folder) if a.part == "paired" else unpaired(a, work / "unpaired", folder)
    if a.part != "unpaired":
        result["paired"] = paired_part(a, work / "paired", folder)
    if not a.no_write and not a.quick:
        update("swap", section)
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
