"""``aekit report``: one self-contained HTML page about a run, or comparing several."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    r = sub.add_parser("report", help="one self-contained HTML page about a run, or comparing several",
                       formatter_class=Formatter,
                       description="For each run: the model and its recipe (config, training options, parameter "
                       "count, weights' fingerprint), its training and validation curves, test metrics beside PCA "
                       "of the same code size, test inputs over their reconstructions, a 2-D map of the test codes, "
                       "samples from a VAE's prior, a swap run's swaps; a run trained on table rows gets the error "
                       "of each column instead of images. Several runs: first a table of their metrics and their "
                       "test MSE against code size beside PCA's. Figures are inlined and the page has no script: it "
                       "opens offline and makes no request. Run folders are only read.")
    r.add_argument("runs", metavar="RUN", nargs="+")
    add_output(r, "replace an existing file", metavar="HTML", required=True, help="the page to write (.html)")
    r.add_argument("-n", type=int, default=10, help="test images shown over their reconstructions")
    r.add_argument("--device", default="auto", help="device to evaluate on")
    r.set_defaults(handler=run)


def run(a) -> int:
    from aekit.apps.report import write_report

    print(write_report(a.runs, a.out, force=a.force, device=a.device, n=a.n))
    return 0
