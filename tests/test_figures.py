"""aekit draws its figures without pyplot: writing one leaves the caller's matplotlib backend and figures alone (a
notebook's inline plots keep showing after an aekit figure is written)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every figure aekit writes, each drawn once in a process whose pyplot backend the caller chose.
DRAW_EVERY_FIGURE = """
import matplotlib
matplotlib.use('svg')  # the caller's choice, as a notebook's inline backend is
import matplotlib.pyplot as plt
import numpy as np
from pathlib import Path
from aekit.apps.anomaly import anomaly_figure
from aekit.apps.embed import map_figure
from aekit.apps.figures import column_error_figure, reconstruction_figure, save_figure, swap_figure
from aekit.apps.report_figures import curves_figure, sweep_figure

out, mark = Path(OUT), {'tool': 'aekit', 'synthetic': True}
digits = [np.full((28, 28), 40 * i, np.uint8) for i in range(3)]
reconstruction_figure(digits, digits, out / 'recon.png', mark)
swap_figure([[('source', digits), ('swap', digits)]], out / 'swap.png', mark)
column_error_figure({'a': 0.1, 'b': 0.2}, out / 'columns.png', 'per column', ('PCA-1', {'a': 0.2, 'b': 0.3}))
save_figure(anomaly_figure(digits, digits, ['a.png', 'b.png', 'c.png'], np.array([0.3, 0.2, 0.1]), 'top 3'),
            out / 'anomalies.png')
codes = np.random.default_rng(0).normal(size=(50, 2))
map_figure(codes, np.arange(50) % 3, out / 'map.png', 'codes')
history = [{'epoch': e, 'train_loss': 1 / e, 'val_loss': 1.2 / e, 'lr': 1e-3} for e in (1, 2, 3)]
curves_figure(history, out / 'curves.png', 'curves')
sweep_figure([{'name': f'k{k}', 'model_name': 'dense', 'data': 'mnist', 'code_size': k, 'test_mse': 0.1 / k,
               'pca_mse': 0.2 / k} for k in (2, 8)], out / 'sweep.png')
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""
FIGURES = ["recon", "swap", "columns", "anomalies", "map", "curves", "sweep"]


def test_writing_figures_leaves_the_callers_backend_and_figures_alone(tmp_path):
    code = f"OUT = {str(tmp_path)!r}\n" + DRAW_EVERY_FIGURE
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "0"]  # not switched to Agg, and no figure left open in pyplot
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def _uses_pyplot(node: ast.AST) -> bool:
    """An import of pyplot, the name ``plt``, or ``matplotlib.use`` (which switches the caller's backend)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [getattr(node, "module", None) or "", *(a.name for a in node.names)]
        return any("pyplot" in n or n == "plt" for n in names)
    if isinstance(node, ast.Name):
        return node.id == "plt"
    return isinstance(node, ast.Attribute) and node.attr == "use" and ast.unparse(node.value) == "matplotlib"


def test_no_library_module_uses_pyplot():
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sorted((ROOT / "aekit").rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text())) if _uses_pyplot(node)]
    assert found == []
