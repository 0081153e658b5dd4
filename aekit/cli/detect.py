"""``aekit detect-train`` and ``aekit detect``: a detector of a swap run's synthetic images, and its scores."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter, add_output, seed_type


def add_arguments(sub) -> None:
    dt = sub.add_parser("detect-train", help="train a detector of a run's swaps and reconstructions",
                        formatter_class=Formatter,
                        description="Real training images of the run against its reconstructions and swaps of them; "
                        "pixels only, so it works on files whose provenance marks were stripped.")
    dt.add_argument("run", metavar="RUN")
    add_output(dt, "replace an existing detector", required=True, metavar="DETECTOR", help="detector folder to create")
    dt.add_argument("--max-per-domain", type=int, default=2000, help="real training images used per domain")
    dt.add_argument("--epochs", type=int, default=10, help="training epochs")
    dt.add_argument("--seed", type=seed_type, default=0, help="random seed")
    dt.set_defaults(handler=run_detect_train)

    dd = sub.add_parser("detect", help="score image files: probability that each is synthetic",
                        formatter_class=Formatter)
    dd.add_argument("detector", metavar="DETECTOR")
    dd.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or folders of images")
    dd.add_argument("--json", action="store_true", help="print one JSON object {file: score}")
    dd.set_defaults(handler=run_detect)


def run_detect_train(a) -> int:
    from aekit.apps.detect import train_detector

    cfg = train_detector(a.run, a.out, max_per_domain=a.max_per_domain, seed=a.seed, epochs=a.epochs, force=a.force)
    print(f"detector {a.out}: validation accuracy {cfg['val_accuracy']:.4f}, AUROC {cfg['val_auroc']:.4f} "
          f"on {cfg['val_images']} held-out images")
    return 0


def run_detect(a) -> int:
    from aekit.apps.detect import detect_files

    scores = detect_files(a.detector, a.inputs)
    if a.json:
        print(json.dumps({str(f): s for f, s in scores}))
    else:
        for f, s in scores:
            print(f"{f}: {s:.4f}")
    return 0
