"""Shared by every benchmark: write results/<name>.json and the benchmark's section of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "BENCHMARKS.md"


def machine() -> dict:
    """Where the figures were measured."""
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def argv_text(argv: list[str] | None) -> str:
    """The benchmark's arguments as a shell would need them typed (JSON arguments quoted); an absolute path is
    recorded by its name (a run folder ``/somewhere/runs/conv`` as ``conv``): results say which run, not where it
    lay on the machine that measured it."""
    args = argv if argv is not None else sys.argv[1:]
    return shlex.join(Path(a).name if Path(a).is_absolute() else a for a in args)


def write_result(name: str, result: dict) -> Path:
    """benchmarks/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def update_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between <!-- name:start --> and <!-- name:end --> in BENCHMARKS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nEvery figure here was measured by the command shown.\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
