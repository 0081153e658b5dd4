"""Run examples/article.ipynb from top to bottom in a fresh kernel, printing each cell's wall and CPU time as it finishes.

    python tools/run_notebook.py                 # the full run, saved into the notebook with its outputs
    python tools/run_notebook.py --quick         # the quick mode the tests run; saves nothing unless --out

Files the notebook writes go into a temporary folder, removed afterwards. ``--threads`` caps torch's threads
(OMP_NUM_THREADS in the kernel); the saved notebook records no timings or machine paths of this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat
import psutil

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "examples" / "article.ipynb"
CELL_TIMEOUT = 900  # seconds per cell


def execute(notebook: Path, work: Path, quick: bool, threads: int | None = 1, log=None) -> nbformat.NotebookNode:
    """The notebook executed top to bottom in a fresh python3 kernel that imports this checkout's aekit, its
    files written under ``work``; ``log`` gets one line per cell as it finishes."""
    nb = nbformat.read(notebook, as_version=4)
    env = {**os.environ, "AEKIT_NOTEBOOK_DIR": str(work), "AEKIT_NOTEBOOK_QUICK": "1" if quick else "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    clock = {"start": time.perf_counter()}

    def kernel_cpu() -> float:  # the kernel's CPU seconds so far: a busy machine stretches wall time, not these
        times = psutil.Process(client.km.provisioner.process.pid).cpu_times()
        return times.user + times.system

    def before(cell, cell_index, **_):
        clock["cell"], clock["cpu"] = time.perf_counter(), kernel_cpu()

    def after(cell, cell_index, **_):
        if log and cell.cell_type == "code":
            first = cell.source.splitlines()[0] if cell.source else ""
            log(f"cell {cell_index:2d}: {time.perf_counter() - clock['cell']:6.1f} s, {kernel_cpu() - clock['cpu']:6.1f} "
                f"s CPU (total {time.perf_counter() - clock['start']:6.1f} s, {kernel_cpu():6.1f} s CPU)  {first[:50]}")

    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(work)}},
                                     on_cell_execute=before, on_cell_executed=after)
    client.execute(env=env)  # raises CellExecutionError, naming the cell, when an assertion or anything else fails
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick mode (fewer images and steps)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the kernel (0: torch's default)")
    parser.add_argument("--out", type=Path, help="where to save the executed notebook (default: in place for a "
                                                 "full run, nowhere for a quick one)")
    a = parser.parse_args(argv)
    out = a.out or (None if a.quick else NOTEBOOK)
    with tempfile.TemporaryDirectory(prefix="aekit-article-") as work:
        nb = execute(NOTEBOOK, Path(work), a.quick, a.threads, log=lambda line: print(line, file=sys.stderr, flush=True))
    if out is not None:
        nb.metadata.pop("widgets", None)
        tmp = out.with_name(out.name + ".tmp")
        nbformat.write(nb, tmp)
        tmp.replace(out)
        print(f"{out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
