"""The recon headline model trained longer: MNIST test MSE at code 32 against the training budget, to learn what the
architecture reaches with more compute than 10 CPU minutes (the headline's target: <= 0.0020).

Each budget is a full run with its own cosine schedule (the headline model and recipe of ``recon.py``); the test MSE
is also logged after every epoch. Budgets run in ascending order and are skipped when the time they would take (from
the seconds per epoch measured so far) exceeds what is left of ``--time-limit``; the JSON is rewritten after each
run, so a killed job keeps what it finished. Prints a JSON object as its last line; writes NAME.json and NAME.png
(in benchmarks/results/ unless --out says otherwise) and rebuilds the `recon` section of BENCHMARKS.md, where each
budget is a row. A result made elsewhere joins the section once it is copied into benchmarks/results/ and
``python benchmarks/_report.py`` is run.

    python benchmarks/recon_long.py --device cuda --budgets 10,30,60 --time-limit 300 [--out DIR]
                                    [--batch-size 256 --lr 0.016 --name recon-long-b256]   (recipe overrides)
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
from _report import RESULTS, argv_text, machine, on_device, update, write_result  # noqa: E402
from recon import HEADLINE, plot_curve, recipe, run_one  # noqa: E402

import aekit  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="10,30,60", help="epoch budgets, one run each, ascending")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--time-limit", type=float, default=300, help="seconds of training for all budgets together")
    ap.add_argument("--n-train", type=int, default=60000, help="training images (fewer: a quick check)")
    ap.add_argument("--batch-size", type=int, help="override the headline recipe's batch size")
    ap.add_argument("--lr", type=float, help="override the headline recipe's peak learning rate")
    ap.add_argument("--name", default="recon-long", help="result files NAME.json and NAME.png (a recon-* name)")
    ap.add_argument("--out", default=str(RESULTS), help="folder for the result files")
    args = ap.parse_args(argv)
    if not args.name.startswith("recon-"):
        ap.error("--name must start with recon- (its row joins the recon section)")
    budgets = sorted(float(b) for b in args.budgets.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = aekit.load_dataset("mnist")
    x_train = torch.from_numpy(ds.x_train[: args.n_train, None].astype(np.float32) / 255)
    x_test = torch.from_numpy(ds.x_test[:, None].astype(np.float32) / 255)
    info = {**machine(), **on_device(args.device)}
    overrides = {k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    spec = {**HEADLINE, "train": {**HEADLINE["train"], **overrides}}
    result = {"name": args.name, "budgets": [], "skipped": [], "device": args.device, "config": spec["config"],
              "train": {**recipe(0, device=args.device), **spec["train"], "epochs": None}, "machine": info,
              "argv": argv_text(argv)}
    t_start, per_epoch = time.perf_counter(), None
    for e in budgets:
        left = args.time_limit - (time.perf_counter() - t_start)
        if per_epoch is not None and e * per_epoch > left:
            result["skipped"].append(e)
            continue
        t_run = time.perf_counter()
        r = run_one(spec, 32, e, x_train, x_test, device=args.device, curve=True)
        per_epoch = (time.perf_counter() - t_run) / e  # training, set-up and the per-epoch evaluation
        result["budgets"].append({"epochs": e, **r})
        print(json.dumps({"epochs": e, "test_mse": r["test_mse"], "seconds": r["seconds"]}), file=sys.stderr)
        write_result(args.name, result, out)
    write_result(args.name, result, out)
    plot_curve({f"{b['epochs']:g} epochs": b["curve"] for b in result["budgets"]}, out / f"{args.name}.png")
    if out.resolve() == RESULTS.resolve():
        update("recon")
    print(json.dumps({k: v for k, v in result.items() if k != "budgets"} |
                     {"test_mse": {f"{b['epochs']:g}": b["test_mse"] for b in result["budgets"]}}))
    return result


if __name__ == "__main__":
    main()
