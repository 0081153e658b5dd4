"""``aekit reconstruct`` and ``aekit eval``: a trained run's reconstructions and test-set metrics."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    r = sub.add_parser("reconstruct", help="figure of test inputs over their reconstructions",
                       formatter_class=Formatter)
    r.add_argument("run", metavar="RUN")
    r.add_argument("-n", type=int, default=10, help="number of test images")
    add_output(r, "replace an existing figure", metavar="PNG", help="figure path (default: RUN/reconstructions.png)")
    r.add_argument("--data", metavar="PATH", help="data to use instead of the run's own test split")
    r.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="add a row decoded from codes refined by STEPS optimiser steps (aekit.apps.refine)")
    r.set_defaults(handler=run_reconstruct)

    e = sub.add_parser("eval", help="test-set metrics with the PCA baseline", formatter_class=Formatter)
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--data", metavar="PATH", help="data to use instead of the run's own")
    e.add_argument("--device", default="auto", help="device to evaluate on")
    e.set_defaults(handler=run_eval)


def run_reconstruct(a) -> int:
    from aekit.apps.reconstruct import reconstruction_png

    print(reconstruction_png(a.run, n=a.n, out=a.out, data=a.data, force=a.force, refine=a.refine))
    return 0


def run_eval(a) -> int:
    from aekit.apps.evaluate import evaluate_run

    metrics = evaluate_run(a.run, data=a.data, device=a.device)
    if a.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>12}: {v:.6g}" if isinstance(v, float) else f"{k:>12}: {v}")
    return 0
