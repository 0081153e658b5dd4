"""Shared by every benchmark: write results/<name>.json, and keep BENCHMARKS.md a report of one section per benchmark.

A benchmark (``denoise``) may have several result variants (``--name denoise-gpu``, ``denoise-ensemble4``): every
``results/<bench>.json`` and ``results/<bench>-*.json`` is one. Each benchmark script exposes
``section(results: dict[name, result]) -> markdown`` (the body under the section's title: a table with a row per
variant, its figure, where aekit falls short), and ``update(bench)`` rebuilds that section of BENCHMARKS.md from all of
the benchmark's result files, between ``<!-- bench:start -->`` and ``<!-- bench:end -->``, in the order of SECTIONS.
A rerun of a variant therefore replaces its row; it never appends a section.

    python benchmarks/_report.py           rebuild BENCHMARKS.md from benchmarks/results/*.json
    python benchmarks/_report.py --check   exit 1 when BENCHMARKS.md is not what the scripts would write
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shlex
import sys
from pathlib import Path
from typing import Callable

import torch

from aekit.fileio import atomic_write

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOC = ROOT / "BENCHMARKS.md"

# benchmark -> section title, in the document's order. README.md links to these titles' anchors: keep them stable.
SECTIONS = {
    "seed": "Training speed and quality: Keras vs aekit",
    "recon": "Reconstruction error vs code size",
    "denoise": "Denoising: aekit vs classical filters",
    "anomaly": "Anomaly detection: one-class MNIST",
    "tables": "Tables: anomalies and embeddings on scikit-learn's tables",
    "embed": "Codes as features: kNN and logistic regression",
    "generate": "Generation: FID with and without the adversarial decoder",
    "compress": "Compression: aekit files vs PNG, JPEG, WebP, AVIF",
    "photos": "Real photographs: denoising and compression",
    "fashion": "Fashion-MNIST: the presets on another dataset",
    "swap": "Domain swap and swap detection",
    "detect": "Detecting autoencoder output: does the detector generalise?",
    "marks": "Pixel watermark: surviving stripped metadata",
    "refine": "Code refinement: step-size rules",
    "serve_load": "The local web app under load",
}

INTRO = """# Benchmarks

Each section is one script in `benchmarks/`: what it measures, the command, a table with one row per variant of the
run (a GPU run, an ensemble, a longer training: the script's `--name`), its figure, and where aekit falls short.
aekit and the alternatives it is compared with run in the same script on the same data and noise, with fixed seeds;
timings are wall-clock seconds of one run, or medians of interleaved repeats where the table says so. CPU rows ran on
a 2-core x86 machine shared with other jobs (torch 2.13, CPU build), where timings vary by up to 1.5x from day to
day; GPU rows ran on one NVIDIA H100 or H200 (torch 2.11). Every script writes `benchmarks/results/<name>.json` and
rebuilds its section from all of its benchmark's results, so a rerun replaces its row;
`python benchmarks/_report.py` rebuilds every section from the results.
"""


def machine() -> dict:
    """Where the figures were measured."""
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def on_device(device: str) -> dict:
    """What a result's machine record adds for the device it ran on: its name and, on CUDA, the GPU's."""
    return {"device": device, **({"gpu": torch.cuda.get_device_name(device)} if device.startswith("cuda") else {})}


def argv_text(argv: list[str] | None) -> str:
    """The benchmark's arguments as a shell would need them typed (JSON arguments quoted); an absolute path is
    recorded by its name (a run folder ``/somewhere/runs/conv`` as ``conv``): results say which run, not where it
    lay on the machine that measured it."""
    args = argv if argv is not None else sys.argv[1:]
    return shlex.join(Path(a).name if Path(a).is_absolute() else a for a in args)


def write_result(name: str, result: dict, folder: Path = RESULTS) -> Path:
    """results/<name>.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    atomic_write(path, (json.dumps(result, indent=2) + "\n").encode())
    return path


# --- building blocks of a section ---------------------------------------------------------------------------------

def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def command(script: str, argv: str, drop: tuple[str, ...] = ()) -> str:
    """`python benchmarks/<script> ARGS` as code, without the options in ``drop`` and their values (where output files
    went is not a setting)."""
    words, shown = shlex.split(argv or ""), []
    while words:
        word = words.pop(0)
        if word in drop:
            words = words[1:]
        elif word.split("=")[0] not in drop:
            shown.append(word)
    return "`" + shlex.join(["python", f"benchmarks/{script}", *shown]) + "`"


def device(mach: dict) -> str:
    """Where aekit ran: the GPU's name, or the CPU threads."""
    if mach.get("gpu"):
        return mach["gpu"]
    threads = mach.get("torch_threads", 1)
    return f"{threads} CPU thread{'s' if threads != 1 else ''}"


def conv_model(config: dict, train: dict | None = None) -> str:
    """A conv model and its optimiser in a few words: `conv (96, 192), 3 blocks per stage, subpixel head, skips, Muon,
    batch 64` (channels per stage)."""
    words = ["conv (" + ", ".join(str(c) for c in config.get("channels", [])) + ")"]
    blocks = config.get("blocks_per_stage")
    words += [f"{blocks} block{'s' if blocks != 1 else ''} per stage"] if blocks else []
    words += [f"stem {config['stem']}"] if config.get("stem") else []
    words += ["subpixel head"] if config.get("head") == "subpixel" else []
    words += ["skips"] if config.get("skips") else []
    if train and train.get("optimizer"):
        words.append({"adam": "Adam", "muon": "Muon"}.get(train["optimizer"], train["optimizer"]))
    words += [f"batch {train['batch_size']}"] if train and train.get("batch_size") else []
    return ", ".join(words)


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


# --- the document -------------------------------------------------------------------------------------------------

def results(bench: str, folder: Path = RESULTS) -> dict[str, dict]:
    """Every result variant of a benchmark by name: results/<bench>.json first, then results/<bench>-*.json sorted."""
    paths = sorted((p for p in folder.glob("*.json") if p.stem == bench or p.stem.startswith(bench + "-")),
                   key=lambda p: (p.stem != bench, p.stem))
    return {p.stem: json.loads(p.read_text()) for p in paths}


def section_function(bench: str) -> Callable[[dict], str]:
    """The ``section`` of the benchmark's script, benchmarks/<bench>.py."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return importlib.import_module(bench).section


def build(bench: str, section: Callable[[dict], str] | None = None, folder: Path = RESULTS) -> str:
    """The benchmark's section, markers included, from all of its results."""
    body = (section or section_function(bench))(results(bench, folder)).strip()
    return f"<!-- {bench}:start -->\n## {SECTIONS[bench]}\n\n{body}\n<!-- {bench}:end -->"


def measured(folder: Path = RESULTS) -> list[str]:
    """The benchmarks with results, in the document's order (a script not yet run has no section)."""
    return [b for b in SECTIONS if results(b, folder)]


def contents(folder: Path = RESULTS) -> str:
    return "Sections: " + " · ".join(f"[{SECTIONS[b]}](#{anchor(SECTIONS[b])})" for b in measured(folder)) + "."


def render(folder: Path = RESULTS) -> str:
    """The whole of BENCHMARKS.md as the scripts write it."""
    return "\n\n".join([INTRO.strip(), contents(folder), *(build(b, folder=folder) for b in measured(folder))]) + "\n"


def block(text: str, bench: str) -> re.Match | None:
    return re.search(re.escape(f"<!-- {bench}:start -->") + ".*?" + re.escape(f"<!-- {bench}:end -->"), text, re.S)


def update(bench: str, section: Callable[[dict], str] | None = None, doc: Path = DOC, folder: Path = RESULTS) -> str:
    """Rebuild one benchmark's section of ``doc`` from all of its results: in place when it is there, otherwise
    before the first section that follows it in SECTIONS (or at the end). Returns the section."""
    new = build(bench, section, folder)
    text = doc.read_text() if doc.exists() else INTRO.strip() + "\n\n" + contents(folder) + "\n"
    if found := block(text, bench):
        text = text[: found.start()] + new + text[found.end():]
    else:
        later = [m for b in list(SECTIONS)[list(SECTIONS).index(bench) + 1:] if (m := block(text, b))]
        at = min((m.start() for m in later), default=None)
        text = text.rstrip() + "\n\n" + new + "\n" if at is None else text[:at] + new + "\n\n" + text[at:]
    atomic_write(doc, text.encode())
    return new


def stale(doc: Path = DOC, folder: Path = RESULTS) -> list[str]:
    """What of ``doc`` differs from what the scripts write from the results in ``folder``: the benchmarks whose
    section differs or is missing, "outside the sections", or "section order"; nothing when the two are equal."""
    have, want = doc.read_text() if doc.exists() else "", render(folder)
    found = [b for b in measured(folder) if (m := block(have, b)) is None or m.group(0) != block(want, b).group(0)]
    outside = [re.sub(r"\n\s*\n", "\n\n", re.sub(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", "", t, flags=re.S))
               for t in (have, want)]
    found += ["outside the sections"] if outside[0] != outside[1] else []
    return found or (["section order"] if have != want else [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare BENCHMARKS.md with what the scripts would write")
    args = ap.parse_args(argv)
    if not args.check:
        atomic_write(DOC, render().encode())
        return 0
    if differ := stale():
        print(f"BENCHMARKS.md differs from what the scripts write ({', '.join(differ)}): run "
              "python benchmarks/_report.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
