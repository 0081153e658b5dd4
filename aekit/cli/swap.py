"""``aekit swap-train``, ``aekit swap`` and ``aekit swap-figure``: a shared encoder with one decoder per domain."""

from __future__ import annotations

import argparse

from aekit.cli.common import Formatter, add_output, seed_type
from aekit.cli.text import parse_domains, parse_sets
from aekit.errors import AekitError
from aekit.runs.options import size_value

_TRAIN_OPTIONS = ("epochs", "batch_size", "lr", "seed", "device", "adversarial", "adv_start", "checkpoint_every")


def _add_train_options(st: argparse.ArgumentParser) -> None:
    from aekit.runs.presets import SWAP_TRAIN

    sm = st.add_argument_group("model")
    sm.add_argument("--code-size", type=int, help="width of the shared code (default 32)")
    sm.add_argument("--warp", type=float, help="random affine warp of the encoder's input in training (default 0)")
    sm.add_argument("--recolour", type=float, help="share of training images the encoder sees with their colours "
                    "shuffled and half of them inverted, so the code keeps shape, not colour (default 0; 1 when "
                    "domains differ in ink or background colour)")
    sm.add_argument("--edges", type=float, help="share of training images the encoder sees as their edges only, so "
                    "hollow and solid strokes of one shape reach the same code (default 0; 0.5 when a domain is "
                    "drawn in outlines)")
    sm.add_argument("--thicken", type=float, help="share of training images the encoder sees with their strokes "
                    "thickened, so thin and heavy strokes of one shape reach the same code (default 0; 0.3 when "
                    "domains differ in stroke weight)")
    sm.add_argument("--set", dest="model_set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other swap model field, e.g. --set channels=[32,64] --set spatial_code=true")
    so = st.add_argument_group("training (defaults: " + ", ".join(f"{k} {v}" for k, v in SWAP_TRAIN.items()) + ")")
    so.add_argument("--epochs", type=float, help="passes over all domains' images together")
    so.add_argument("--batch-size", type=int, help="global batch size, split equally between the domains")
    so.add_argument("--lr", type=float, help="peak learning rate")
    so.add_argument("--seed", type=seed_type, help="random seed (default 0)")
    so.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    so.add_argument("--adversarial", type=float, help="weight of the per-domain adversarial decoder (default 0 = off)")
    so.add_argument("--adv-start", type=int, help="first epoch (0-based) with the critic on (default 0)")
    so.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps (default 0 = epoch ends)")
    so.add_argument("--train-set", dest="train_set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other training option, e.g. --train-set schedule=constant")


def _add_swap_train(sub) -> None:
    st = sub.add_parser("swap-train", help="train a swap model: one shared encoder, one decoder per domain",
                        formatter_class=Formatter,
                        description="Each decoder learns to rebuild only its own domain; every batch draws equally "
                        "from every domain. SOURCE: a named dataset, an image folder or an array file.")
    st.add_argument("--domain", action="append", default=[], metavar="NAME=SOURCE",
                    help="a domain and its images (two or more; the first is the default decoder)")
    add_output(st, "replace an existing run in --out", metavar="RUN", help="run folder to create")
    st.add_argument("--resume", metavar="RUN", help="continue a killed swap run from its checkpoint")
    st.add_argument("--image-size", metavar="HxW", help="resize every domain's images to this size")
    st.add_argument("--test-fraction", type=float, default=0.1, help="test share for data without a test split")
    _add_train_options(st)
    st.add_argument("--no-figure", action="store_true", help="skip the test-set evaluation and figure")
    st.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="show a progress bar (default: when stderr is a terminal)")
    st.set_defaults(handler=run_swap_train)


def add_arguments(sub) -> None:
    _add_swap_train(sub)
    sw = sub.add_parser("swap", help="render images as another domain of a swap run (marked as synthetic)",
                        formatter_class=Formatter)
    sw.add_argument("run", metavar="RUN")
    sw.add_argument("inputs", metavar="INPUT", nargs="+", help="image files, folders of images, or .npy uint8 stacks")
    sw.add_argument("--to", required=True, metavar="DOMAIN", help="the domain to render them as")
    add_output(sw, "replace existing files", required=True, metavar="DIR",
               help="folder for DIR/<name>-to-<DOMAIN>.png (or .npy)")
    sw.set_defaults(handler=run_swap)

    sf = sub.add_parser("swap-figure", help="test images, own-domain reconstructions and swaps, side by side",
                        formatter_class=Formatter)
    sf.add_argument("run", metavar="RUN")
    sf.add_argument("-n", type=int, default=8, help="test images per domain")
    add_output(sf, "replace an existing figure", metavar="PNG", help="figure path (default: RUN/swaps.png)")
    sf.set_defaults(handler=run_swap_figure)


def run_swap_train(a) -> int:
    from aekit.apps import swap
    from aekit.runs.run import read_config
    from aekit.runs.train import resume_run

    if a.resume:
        if not read_config(a.resume).domains:
            raise AekitError(f"{a.resume} is not a swap run; continue it with aekit train --resume {a.resume}")
        trained = resume_run(a.resume, progress=a.progress)
    else:
        if not a.out:
            raise AekitError("swap-train needs --out RUN (or --resume RUN)")
        model = {"code_size": a.code_size, "warp": a.warp, "recolour": a.recolour, "edges": a.edges,
                 "thicken": a.thicken, **parse_sets(a.model_set)}
        train = {k: getattr(a, k) for k in _TRAIN_OPTIONS} | parse_sets(a.train_set, "--train-set")
        trained = swap.train_swap(parse_domains(a.domain), a.out, model_options=model, train_options=train,
                                  image_size=size_value(a.image_size, "--image-size"), test_fraction=a.test_fraction,
                                  force=a.force, progress=a.progress)
    print(f"trained {trained.path}" if a.no_figure else swap.finish_swap(trained))
    return 0


def run_swap(a) -> int:
    from aekit.apps.swap import swap_files

    files = swap_files(a.run, a.to, a.inputs, a.out, force=a.force)
    print(files[0] if len(files) == 1 else f"{len(files)} files in {a.out}")
    return 0


def run_swap_figure(a) -> int:
    from aekit.apps.swap import swap_figure

    print(swap_figure(a.run, out=a.out, n=a.n, force=a.force))
    return 0
