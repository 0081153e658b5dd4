"""The pixel watermark (``aekit.runs.watermark``): does the payload survive what happens to images, what does it cost,
and how often does it claim an unmarked image?

Images, all made or read here, nothing downloaded:
- synthetic, 256x256 and larger: an aekit model trained here (the `fast` preset on Fashion-MNIST, 1 epoch) makes
  them; half are `aekit generate` grids of 10 x 10 samples (302x302 pixels), half single samples upscaled to 256x256
  (bicubic), as a user would enlarge one. Each is written by `save_png` itself (mark, pixel watermark, signed C2PA
  manifest), and "stripped" is its pixels saved again as a PNG with no metadata.
- real: random crops (overlapping) of the losslessly stored photographs among scikit-image's bundled samples, colour
  kept; these get the watermark with ``watermark.embed`` (what `save_png` does with `pixel_mark`), and unmarked they
  measure false positives.
- small: 64x64 and 28x28, real crops and model samples (28x28 is the model's own size; 64x64 upscaled), and MNIST
  test digits (28x28 ink on black, the look of a well-trained digit model's output), reported apart. Images under
  ``watermark.DITHER_BELOW`` pixels a side get the dither-modulation mark (``aekit.runs.watermark_dm``); the same
  small sets again with the spread-spectrum mark of larger images (``spread-`` sets: what that mark does at these
  sizes, the comparison in the same run).

Transformations: stripped (lossless), JPEG quality 75 and 50 (Pillow), a 50 % resize (Pillow bilinear, antialiased),
a 10 % crop (10 % of each side's length cut away, at a random offset). Recovery: the decoded payload is exactly the
model's fingerprint prefix. Mark PSNR: marked against unmarked pixels. False positives: any mark reported in an
unmarked image, measured, and bounded from the code (``watermark.false_positive_bound``).

    python benchmarks/marks.py [--real 3000] [--synthetic 500] [--small 300] [--quick]

Writes benchmarks/results/marks.json (as it goes: every 250 images) and rebuilds the `marks` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, machine, table, update, write_result  # noqa: E402

from aekit.apps.generate import sample_images  # noqa: E402
from aekit.apps.samplers import grid  # noqa: E402
from aekit.data import load_dataset  # noqa: E402
from aekit.runs import watermark, watermark_dm  # noqa: E402
from aekit.runs.provenance import make_mark, save_png  # noqa: E402
from aekit.runs.run import as_run  # noqa: E402
from aekit.runs.settings import resolve_settings  # noqa: E402
from aekit.runs.train import create_run  # noqa: E402

PHOTOS = ["astronaut", "brick", "camera", "cell", "chelsea", "clock_motion", "coffee", "coins", "color", "grass",
          "gravel", "ihc", "moon", "motorcycle_left", "motorcycle_right", "page", "text"]
ATTACKS = ("stripped", "jpeg75", "jpeg50", "resize50", "crop10")
SMALL_SETS = ("synthetic-64", "real-64", "synthetic-28", "real-28", "digits-28")
SAVE_EVERY = 250


def load_photos() -> dict[str, np.ndarray]:
    """The photos as uint8 grey (H, W) or colour (H, W, 3) arrays, from scikit-image's data folder."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    photos = {name: np.asarray(Image.open(folder / f"{name}.png")) for name in PHOTOS}
    return {name: img[..., :3] if img.ndim == 3 else img for name, img in photos.items()}


def real_crops(photos: dict[str, np.ndarray], n: int, side: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """n random side x side crops, the photos (those at least that large) taken in turn."""
    rng = np.random.default_rng(seed)
    names = [k for k, v in photos.items() if min(v.shape[:2]) >= side]
    out = []
    for i in range(n):
        img = photos[names[i % len(names)]]
        y, x = rng.integers(0, img.shape[0] - side + 1), rng.integers(0, img.shape[1] - side + 1)
        out.append((names[i % len(names)], np.ascontiguousarray(img[y:y + side, x:x + side])))
    return out


def model_images(run: Path, n: int, kind: str, seed: int) -> list[np.ndarray]:
    """n synthetic images from the run: ``grid`` (10 x 10 samples), ``up256``/``up64`` (one sample upscaled), or
    ``native`` (one sample as the model made it)."""
    per, chunk = 100 if kind == "grid" else 1, 5000  # sample_images draws at most 10,000 at once
    images = np.concatenate([sample_images(run, min(chunk, n * per - i), "auto", seed + i)[0]
                             for i in range(0, n * per, chunk)])
    if kind == "grid":
        return [grid(images[i * per:(i + 1) * per], cols=10) for i in range(n)]
    if kind == "native":
        return list(images)
    side = int(kind[2:])
    return [np.asarray(Image.fromarray(im).resize((side, side), Image.BICUBIC)) for im in images]


def attack(name: str, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The image after one of ATTACKS."""
    h, w = image.shape[:2]
    if name.startswith("jpeg"):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=int(name[4:]))
        return np.asarray(Image.open(buf))
    if name == "resize50":
        return np.asarray(Image.fromarray(image).resize((round(w / 2), round(h / 2)), Image.BILINEAR))
    if name == "crop10":
        ch, cw = h - round(0.1 * h), w - round(0.1 * w)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        return image[y:y + ch, x:x + cw]
    buf = io.BytesIO()  # stripped: the pixels alone, in a PNG with no metadata
    Image.fromarray(image).save(buf, format="PNG")
    return np.asarray(Image.open(buf))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse)) if mse > 0 else float("inf")


def through_save_png(image: np.ndarray, mark: dict, folder: Path) -> np.ndarray:
    """The pixels of the file `save_png` writes for a model-made image (watermarked, signed)."""
    path = save_png(folder / "out.png", image, mark)
    with Image.open(path) as im:
        return np.asarray(im)


class Tally:
    """One set's counts: recovered payloads per attack, mark PSNRs, false positives on the unmarked images."""

    def __init__(self, name: str, size: str):
        self.name, self.size = name, size
        self.recovered = dict.fromkeys(ATTACKS, 0)
        self.psnrs: list[float] = []
        self.false_positives, self.seconds = 0, 0.0
        self.missed: list[str] = []

    def add(self, label: str, clean: np.ndarray, marked: np.ndarray, prefix: str, rng: np.random.Generator) -> None:
        self.psnrs.append(psnr(marked, clean))
        for name in ATTACKS:
            found = watermark.detect(attack(name, marked, rng))
            ok = found is not None and found.fingerprint_prefix == prefix
            self.recovered[name] += ok
            if not ok and name in ("stripped", "jpeg75") and len(self.missed) < 50:
                self.missed.append(f"{label} ({name})")
        self.false_positives += watermark.detect(clean) is not None

    def result(self) -> dict:
        n = len(self.psnrs)
        return {"images": n, "size": self.size, "recovery": {k: v / max(n, 1) for k, v in self.recovered.items()},
                "mark_psnr_db": float(np.mean(self.psnrs)) if n else None,
                "mark_psnr_min_db": float(np.min(self.psnrs)) if n else None,
                "false_positives": self.false_positives, "seconds": round(self.seconds, 1), "missed": self.missed}


@contextmanager
def spread_spectrum_only():
    """Within: every image marked and read with the spread-spectrum mark, whatever its size."""
    kept = watermark.DITHER_BELOW
    watermark.DITHER_BELOW = 0
    try:
        yield
    finally:
        watermark.DITHER_BELOW = kept


def run_set(tally: Tally, items: list[tuple[str, np.ndarray]], mark, prefix: str, save, seed: int) -> dict:
    """Mark every image with ``mark``, attack and decode it, and look for a mark in the unmarked one."""
    rng = np.random.default_rng(seed)
    for i, (label, clean) in enumerate(items):
        t0 = time.perf_counter()
        tally.add(label, clean, mark(clean), prefix, rng)
        tally.seconds += time.perf_counter() - t0
        if (i + 1) % SAVE_EVERY == 0 or i + 1 == len(items):
            r = tally.result()
            print(f"{tally.name}: {i + 1}/{len(items)} images, recovery "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["recovery"].items())
                  + f", PSNR {r['mark_psnr_db']:.2f} dB, false positives {tally.false_positives}", flush=True)
            save(tally.name, r)
    return tally.result()


def train_model(root: Path, seed: int) -> Path:
    """The model that makes the synthetic images: the `fast` preset on Fashion-MNIST, 1 epoch."""
    settings = resolve_settings(preset="fast", dataset="fashion-mnist",
                                train_options={"epochs": 1, "seed": seed, "device": "cpu"})
    create_run(settings, root / "fashion", progress=False)
    return root / "fashion"


def pooled(sets: list[dict]) -> dict:
    """Recovery over several sets together, weighted by their image counts."""
    n = sum(s["images"] for s in sets)
    return {k: sum(s["recovery"][k] * s["images"] for s in sets) / max(n, 1) for k in ATTACKS}


def summarise(result: dict) -> None:
    """The headline keys from the sets measured so far."""
    sets = result["sets"]
    large = [sets[k] for k in ("synthetic", "real") if k in sets]
    real = [s for k, s in sets.items() if k.startswith("real")]
    result["recovery"] = pooled(large)
    for k in ("synthetic", "real"):
        if k in sets:
            result[f"recovery_{k}"] = sets[k]["recovery"]
    unmarked = sum(s["images"] for s in real)
    result["false_positives"] = sum(s["false_positives"] for s in real)
    result["false_positive_rate"] = result["false_positives"] / max(unmarked, 1)
    result["unmarked_real_images"] = unmarked
    n = sum(s["images"] for s in large)
    result["mark_psnr_db"] = sum(s["mark_psnr_db"] * s["images"] for s in large) / max(n, 1) if n else None
    result["mark_psnr_min_db"] = min((s["mark_psnr_min_db"] for s in large), default=None)


def code_facts() -> dict:
    return {"bch_n": watermark.CODE.n, "bch_k": watermark.CODE.k, "bch_t": watermark.CODE.t,
            "tag_bits": watermark.TAG_BITS, "fingerprint_hex_digits": watermark.PREFIX_HEX,
            "tile": watermark.TILE, "band_cycles_per_tile": list(watermark.BAND), "scales": list(watermark.SCALES),
            "peaks": watermark.PEAKS, "chase_bits": watermark.CHASE, "target_psnr_db": watermark.PSNR_DB,
            "false_positive_bound": watermark.false_positive_bound(), "informed_rounds": watermark.ROUNDS,
            "informed_margin": watermark.MARGIN, "informed_from": watermark.INFORMED_FROM,
            "informed_check_jpeg": watermark.CHECK_JPEG, "dither_below": watermark.DITHER_BELOW,
            "dither_band_cycles_per_pixel": list(watermark_dm.BAND), "dither_steps": list(watermark_dm.STEPS),
            "dither_psnr_floor_db": watermark.PSNR_FLOOR_DB}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=int, default=3000, help="real 256x256 crops")
    ap.add_argument("--synthetic", type=int, default=500, help="synthetic images of 256x256 and larger")
    ap.add_argument("--small", type=int, default=300, help="images per small set (64x64 and 28x28, real and model)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a few images per set, to check the script end to end")
    ap.add_argument("--name", default="marks", help="results/<name>.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.real, args.synthetic, args.small = 30, 20, 10
    torch.set_num_threads(1)
    result = {"argv": argv_text(argv), "machine": machine(), "code": code_facts(), "sets": {}}

    def save(name: str, r: dict) -> None:
        result["sets"][name] = r
        summarise(result)
        write_result(args.name, result)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = train_model(Path(tmp), args.seed)
        fp = as_run(run).fingerprint
        result["model"] = {"preset": "fast", "dataset": "fashion-mnist", "epochs": 1,
                           "seconds": round(time.perf_counter() - t0, 1)}
        made = make_mark("generate", fp, model="fashion")
        half = args.synthetic // 2
        synthetic = ([("grid", im) for im in model_images(run, half, "grid", args.seed)]
                     + [("upscaled", im) for im in model_images(run, args.synthetic - half, "up256", args.seed + 1)])
        run_set(Tally("synthetic", "302x302 sample grids and 256x256 upscaled samples"), synthetic,
                lambda im: through_save_png(im, made, Path(tmp)), fp[:watermark.PREFIX_HEX], save, args.seed)
        photos = load_photos()
        run_set(Tally("real", "256x256"), real_crops(photos, args.real, 256, args.seed),
                lambda im: watermark.embed(im, fp), fp[:watermark.PREFIX_HEX], save, args.seed)
        small = [("synthetic-64", 64, [("up64", im) for im in model_images(run, args.small, "up64", args.seed + 2)]),
                 ("real-64", 64, real_crops(photos, args.small, 64, args.seed + 64)),
                 ("synthetic-28", 28, [("native", im) for im in model_images(run, args.small, "native",
                                                                            args.seed + 3)]),
                 ("real-28", 28, real_crops(photos, args.small, 28, args.seed + 28)),
                 ("digits-28", 28, [("mnist", im) for im in load_dataset("mnist").x_test[: args.small]])]
        for prefix, mode in (("", nullcontext), ("spread-", spread_spectrum_only)):
            for name, side, items in small:
                with mode():
                    run_set(Tally(prefix + name, f"{side}x{side}"), items, lambda im: watermark.embed(im, fp),
                            fp[:watermark.PREFIX_HEX], save, args.seed)
    print(update("marks", section))
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def section(results: dict[str, dict]) -> str:
    rows = []
    for variant, r in results.items():
        for name, s in r["sets"].items():
            rows.append([variant, name, str(s["images"]), s["size"], *(_pct(s["recovery"][k]) for k in ATTACKS),
                         f"{s['mark_psnr_db']:.2f} ({s['mark_psnr_min_db']:.2f})", str(s["false_positives"])])
    r = results.get("marks") or next(iter(results.values()))
    c = r["code"]
    header = ["variant", "set", "images", "size", "stripped", "JPEG q75", "JPEG q50", "resize 50 %", "crop 10 %",
              "mark PSNR dB, mean (min)", "false positives (unmarked)"]
    small_text = "; ".join(
        f"{k}: {_pct(v['stripped'])} stripped, {_pct(v['jpeg75'])} after JPEG q75, {_pct(v['resize50'])} after a "
        f"half-size resize, {_pct(v['crop10'])} after a 10 % crop"
        for k, v in ((k, r["sets"][k]["recovery"]) for k in SMALL_SETS if k in r["sets"]))
    spread_text = "; ".join(f"{k}: {_pct(v['stripped'])} stripped, {_pct(v['jpeg75'])} after JPEG q75"
                            for k, v in ((k, r["sets"][f"spread-{k}"]["recovery"]) for k in SMALL_SETS
                                         if f"spread-{k}" in r["sets"]))
    return "\n".join([
        "An invisible watermark in the pixels of images a model made (`aekit.runs.watermark`), read back by "
        "`aekit inspect` after the metadata is gone. Payload: a "
        f"{c['tag_bits']}-bit tag and the first {c['fingerprint_hex_digits']} hex digits of the model's fingerprint, "
        f"in a BCH({c['bch_n']}, {c['bch_k']}) code that corrects {c['bch_t']} errors (Chase decoding over the "
        f"{c['chase_bits']} least reliable bits); each coded bit and a pilot own keyed frequency bins of a "
        f"{c['tile']}x{c['tile']} tile ({c['band_cycles_per_tile'][0]:g} to {c['band_cycles_per_tile'][1]:g} cycles "
        "per tile) repeated over the luminance. The detector folds the image into one tile at each scale in "
        f"{', '.join(f'{s:g}' for s in c['scales'])}, finds the shift from the pilot and decodes at its "
        f"{c['peaks']} strongest peaks. "
        + (f"Informed embedding, on images of {c['informed_from']} pixels a side and more: the embedder reads its "
           f"own mark back, as written and after JPEG q{c['informed_check_jpeg']}, and up to "
           f"{c['informed_rounds']} times moves energy to the coded bits read under {c['informed_margin']:g} noise "
           "units and to the pilot, at the same PSNR. " if "informed_rounds" in c else "")
        + (f"Images under {c['dither_below']} pixels a side carry a dither-modulation mark instead "
           "(`aekit.runs.watermark_dm`, Chen and Wornell's quantisation index modulation): each coded bit sets the "
           "image's projection on a keyed pattern of its own (disjoint bins of the image's own Fourier grid, "
           f"{c['dither_band_cycles_per_pixel'][0]:g} to {c['dither_band_cycles_per_pixel'][1]:g} cycles per pixel) "
           "onto one of two interleaved lattices, so the image's content cannot drown it; the lattice step follows "
           f"from the PSNR, the next of {len(c['dither_steps'])} smaller steps when an image's mark would fall under "
           f"{c['dither_psnr_floor_db']:g} dB; it is read where it was written. " if "dither_below" in c else "")
        + f"Synthetic images: {r['model']['preset']} preset on "
        f"{r['model']['dataset']}, {r['model']['epochs']} epoch, written by `save_png` (watermark, then the signed "
        "C2PA manifest); real: random crops of scikit-image's lossless sample photographs. Recovery: the exact "
        "fingerprint prefix decoded. Crop 10 %: a tenth of each side cut away at a random offset.",
        "",
        *table(header, rows),
        "",
        f"Recovery over the {r['sets'].get('synthetic', {}).get('images', 0)} synthetic and "
        f"{r['sets'].get('real', {}).get('images', 0)} real images of 256x256 and larger: "
        + ", ".join(f"{k} {_pct(v)}" for k, v in r["recovery"].items()) + ". "
        f"False positives: {r['false_positives']} of {r['unmarked_real_images']} unmarked real images "
        f"({_pct(r['false_positive_rate'])}); the code bounds the rate at {c['false_positive_bound']:.1e} per image "
        "(attempts x the chance that a random word decodes x 2^-tag bits, the read word being uniformly random "
        "when no mark is there).",
        "",
        f"Command: {command('marks.py', r['argv'])}",
        "",
        "**Where it falls short.** Small images: the dither-modulation mark is read where it was written, so it "
        "survives stripping and, on most images, JPEG, but not a resize or a crop, which move every projection it "
        f"set. Measured: {small_text}. Ink on black (digits-28) clips most of every correction, so its mark takes a "
        "smaller step to keep its PSNR floor, and JPEG then moves projections across the lattices. The "
        "spread-spectrum mark of larger images, whose energy is fixed by its PSNR and so scales with the pixel count (a 64x64 image holds a sixteenth of a 256x256 image's, against the same payload), "
        f"reads on the same images {spread_text}. Textured real photographs (grass, gravel) are the hardest hosts "
        "at 256x256; rotation and scales other than those searched are not handled.",
    ])


if __name__ == "__main__":
    sys.exit(main())
