"""Encoder-side code refinement: test MSE before and after 50 steps, for several step-size rules, on several models.

Why the default step of ``aekit.apps.refine.refine_codes`` is relative to each code's RMS: codes differ in scale by orders
of magnitude between models, and one absolute Adam learning rate suits some and overshoots others. Each model here is
trained in this run (dense seed, dense + L1 sparsity, dense + KL sparsity with sigmoid codes, VAE: 3 epochs; conv:
1 epoch), plus any kept runs named with ``--runs``; MSE on the first ``--n`` MNIST test digits.

    PYTHONPATH=. python benchmarks/refine.py --threads 2 --runs runs/h-check
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, machine, update_section, write_result  # noqa: E402

import aekit  # noqa: E402
from aekit.apps.refine import RELATIVE_STEP, refine_codes  # noqa: E402
from aekit.runs import files as ckpt  # noqa: E402

MODELS = {  # name: (model, config, epochs)
    "dense": ("dense", {"code_size": 32}, 3),
    "dense+l1": ("dense", {"code_size": 32, "sparsity": "l1"}, 3),
    "dense+kl (sigmoid code)": ("dense", {"code_size": 32, "sparsity": "kl", "code_activation": "sigmoid"}, 3),
    "vae": ("vae", {"code_size": 16}, 3),
    "conv": ("conv", {"code_size": 32}, 1),
}
RULES = {  # name: refine_codes keyword arguments
    "lr 0.1": {"lr": 0.1},
    "lr 0.5": {"lr": 0.5},
    f"{RELATIVE_STEP} x RMS (default)": {},
}


def measure(net, x: torch.Tensor, steps: int) -> dict:
    x = x.reshape(len(x), *net.config.input_shape)
    net.eval()
    with torch.no_grad():
        row = {"plain": (net.decode(net.encode(x)) - x).pow(2).mean().item()}
    for rule, kw in RULES.items():
        z = refine_codes(net, x, steps=steps, **kw)
        with torch.no_grad():
            row[rule] = (net.decode(z) - x).pow(2).mean().item()
    return row


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="", help="comma-separated kept run folders to measure as well")
    ap.add_argument("--n", type=int, default=1000, help="test digits scored")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    ds = aekit.load_dataset("mnist")
    x = torch.from_numpy(ds.x_test[: args.n].astype(np.float32) / 255)
    table = {}
    for name, (model, config, epochs) in MODELS.items():
        torch.manual_seed(0)
        ae = aekit.build(model, **config)
        ae.fit(ds.x_train, epochs=epochs, verbose=False, seed=0)
        table[name] = measure(ae.net, x, args.steps)
        print(json.dumps({name: table[name]}), flush=True)
    for run in filter(None, args.runs.split(",")):
        net, cfg = ckpt.load_model(run)
        table[run] = measure(net, x, args.steps)
        print(json.dumps({run: table[run]}), flush=True)
    result = {"test_mse": table, "n_test": args.n, "steps": args.steps, "relative_step": RELATIVE_STEP,
              "argv": argv_text(argv), "machine": machine(), "wall_seconds": time.perf_counter() - t_start}
    write_result("refine", result)
    cols = ["plain", *RULES]
    lines = ["## Code refinement: step-size rules (`benchmarks/refine.py`)", "",
             f"Test MSE on the first {args.n} MNIST test digits, plain codes and after {args.steps} Adam steps on "
             "each code (decoder frozen, towards the model's own loss). Models trained in the run (3 epochs; conv "
             "1), kept runs as named.", "",
             "| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {k} | " + " | ".join(f"{v[c]:.5f}" for c in cols) + " |" for k, v in table.items()]
    lines += ["", f"Command: `PYTHONPATH=. python benchmarks/refine.py {result['argv']}` "
              f"(wall time {result['wall_seconds'] / 60:.1f} min)"]
    update_section("refine", "\n".join(lines))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
