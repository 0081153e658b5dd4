"""aekit draws its figures without pyplot: writing one leaves the caller's matplotlib backend and figures alone (a
notebook's inline plots keep showing after an aekit figure is written)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_writing_a_figure_leaves_the_callers_backend_and_figures_alone(tmp_path):
    out = tmp_path / "figure.png"
    code = "\n".join([
        "import matplotlib",
        "matplotlib.use('svg')",  # the caller's choice, as a notebook's inline backend is
        "import matplotlib.pyplot as plt",
        "import numpy as np",
        "from aekit.apps.figures import reconstruction_figure",
        "digits = [np.zeros((28, 28), np.uint8)] * 3",
        f"reconstruction_figure(digits, digits, {str(out)!r}, {{'tool': 'aekit', 'synthetic': True}})",
        "print(matplotlib.get_backend(), len(plt.get_fignums()))",
    ])
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "0"]  # not switched to Agg, and no figure left open in pyplot
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
