"""``aekit detect-train`` and ``aekit detect``: a detector of autoencoder-made images, and its scores and verdicts."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter, add_output, seed_type
from aekit.errors import AekitError


def add_arguments(sub) -> None:
    dt = sub.add_parser("detect-train", help="train a detector of a run's swaps and reconstructions",
                        formatter_class=Formatter,
                        description="Real training images of the run against its reconstructions and swaps of them. "
                        "Pixels only, so it works on files whose provenance marks were stripped. The default network "
                        "is an ensemble: a linear model of each image's log DCT spectrum beside three small CNNs on "
                        "high-pass residuals (from successive seeds), each score ranked among held-out real images' "
                        "scores, an image's score its highest rank (minutes on a CPU). spectral alone trains in "
                        "seconds; residual-cnn is one CNN trained on images randomly re-saved as JPEG, resized and "
                        "noised. A JPEG re-save erases much of what a detector reads on images as they are: to check "
                        "JPEG files, train one with --jpeg.")
    dt.add_argument("run", metavar="RUN")
    add_output(dt, "replace an existing detector", required=True, metavar="DETECTOR", help="detector folder to create")
    dt.add_argument("--max-per-domain", type=int, default=2000, help="real training images used per domain")
    dt.add_argument("--network", choices=("ensemble", "spectral", "residual-cnn"), default="ensemble",
                    help="ensemble: best on other runs and generators, above all with detect --reference; spectral: "
                    "seconds to train; residual-cnn: steadier after a JPEG re-save of this run's swaps")
    dt.add_argument("--epochs", type=int, help="ensemble and residual-cnn: training epochs of each CNN (default 8)")
    dt.add_argument("--no-augment", action="store_true", help="residual-cnn: train on the images as they are (no "
                    "JPEG, resizing or noise): a detector that knows this run only")
    dt.add_argument("--jpeg", action="store_true", help="a detector for JPEG files: trained on JPEG re-saves of the "
                    "images at random qualities, its threshold set on re-saved real images")
    dt.add_argument("--seed", type=seed_type, default=0, help="random seed")
    dt.set_defaults(handler=run_detect_train)

    dd = sub.add_parser("detect", help="score image files: how likely each is synthetic",
                        formatter_class=Formatter,
                        description="Prints each file's score and 'synthetic' when it is above the detector's "
                        "threshold, else 'real'. A score is P(synthetic), or for an ensemble the share of real images "
                        "that score lower in its most suspicious view. The threshold is chosen at training so that "
                        "about 1% of real images like the run's held-out ones score above it; real images of another "
                        "kind (another identity, paper or camera) may score higher or lower as a whole, and "
                        "--reference sets the threshold on them instead (an ensemble then ranks among them).")
    dd.add_argument("detector", metavar="DETECTOR")
    dd.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or folders of images")
    dd.add_argument("--reference", metavar="PATH", action="append",
                    help="real images of the kind being checked (files or folders, at least 100 in all; repeatable): "
                    "the threshold is set on them so that about 1%% of real images of that kind score above it")
    dd.add_argument("--json", action="store_true",
                    help='print one JSON object {"threshold": t, "scores": {file: score}, "synthetic": [file, ...]}')
    dd.set_defaults(handler=run_detect)


def run_detect_train(a) -> int:
    from aekit.apps.detect import EPOCHS, train_detector

    if a.network == "spectral" and a.epochs is not None:
        raise AekitError("--epochs is a setting of --network ensemble and residual-cnn")
    if a.network != "residual-cnn" and a.no_augment:
        raise AekitError("--no-augment is a setting of --network residual-cnn (an ensemble's CNNs are never "
                         "JPEG/resize/noise augmented)")
    if a.jpeg and a.no_augment:
        raise AekitError("--jpeg trains on JPEG re-saves of the images: it cannot go with --no-augment")
    cfg = train_detector(a.run, a.out, max_per_domain=a.max_per_domain, seed=a.seed, epochs=a.epochs or EPOCHS,
                         force=a.force, augment=not a.no_augment, network=a.network, jpeg=a.jpeg)
    print(f"detector {a.out}: validation AUROC {cfg['val_auroc']:.4f} on {cfg['val_real']} held-out real and "
          f"{cfg['val_synthetic']} synthetic images; threshold {cfg['threshold']:.4f} flags "
          f"{cfg['val_false_positive_rate']:.2%} of those real and {cfg['val_true_positive_rate']:.2%} of those "
          "synthetic images")
    return 0


def run_detect(a) -> int:
    from aekit.apps.detect import detect_files

    scores, threshold = detect_files(a.detector, a.inputs, a.reference)
    if a.json:
        print(json.dumps({"threshold": threshold, "scores": {str(f): s for f, s in scores},
                          "synthetic": [str(f) for f, s in scores if s > threshold]}))
    else:
        for f, s in scores:
            print(f"{f}: {s:.4f} {'synthetic' if s > threshold else 'real'}")
    return 0
