"""The ``aekit`` command: a thin layer over the library; every error is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from . import __version__
from .errors import AekitError

log = logging.getLogger("aekit")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where it has none (options that fall back to the preset say so)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if action.option_strings and default not in (None, [], argparse.SUPPRESS) and default is not False:
            text += f" (default: {default})"
        return text


def _parser() -> argparse.ArgumentParser:
    from .presets import PRESETS

    p = argparse.ArgumentParser(prog="aekit", description="Autoencoders as practical tools.", formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"aekit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model and write a run folder", formatter_class=_Formatter,
                       description="Options left unset come from --config, then from the preset. "
                       "Presets: " + "; ".join(f"{k}: {v['help']}" for k, v in PRESETS.items()))
    t.add_argument("--preset", default="seed", choices=sorted(PRESETS), help="starting recipe")
    t.add_argument("--config", metavar="FILE.toml", help="TOML file with preset/dataset/data/model keys and "
                   "[config] (model) and [train] tables")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="named dataset: mnist, fashion-mnist, digits (default: the preset's)")
    src.add_argument("--data", metavar="PATH", help="your data: IDX folder, .npy/.npz, image folder or .csv")
    t.add_argument("--image-size", metavar="HxW", help="resize images from a folder to this size, e.g. 28x28")
    t.add_argument("--test-fraction", type=float, default=0.1, help="test share for data without a test split")
    t.add_argument("--out", metavar="RUN", help="run folder to create (default: runs/<preset>)")
    t.add_argument("--resume", metavar="RUN", help="continue a killed or finished-early run from its checkpoint")
    t.add_argument("--force", action="store_true", help="replace an existing run in --out")
    m = t.add_argument_group("model (default: the preset's)")
    m.add_argument("--model", help="model name")
    m.add_argument("--code-size", type=int, help="width of the code (seed: 32)")
    m.add_argument("--hidden", metavar="W,W", help="hidden widths of the encoder, e.g. 256,128 (seed: 128)")
    m.add_argument("--activation", help="hidden activation (seed: relu)")
    m.add_argument("--loss", choices=["bce", "mse"], help="reconstruction loss (seed: bce)")
    m.add_argument("--sparsity", choices=["none", "l1", "kl"], help="sparse code: L1 activity or KL target (seed: none)")
    m.add_argument("--set", dest="model_set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other model config field, e.g. --set channels=[32,64] --set beta=4 (repeatable)")
    o = t.add_argument_group("training (default: the preset's)")
    o.add_argument("--epochs", type=float, help="passes over the data (seed: 3)")
    o.add_argument("--batch-size", type=int, help="global batch size (seed: 32)")
    o.add_argument("--lr", type=float, help="peak learning rate (seed: 0.001)")
    o.add_argument("--optimizer", choices=["adam", "adamw"], help="optimiser (seed: adam)")
    o.add_argument("--weight-decay", type=float, help="weight decay (seed: 0)")
    o.add_argument("--schedule", choices=["constant", "cosine", "linear"], help="learning-rate decay (seed: constant)")
    o.add_argument("--warmup", type=float, help="fraction of steps for linear warm-up (seed: 0)")
    o.add_argument("--val-fraction", type=float, help="held-out share for validation (seed: 0)")
    o.add_argument("--patience", type=int, help="early-stopping patience in epochs, needs --val-fraction (seed: 0)")
    o.add_argument("--grad-clip", type=float, help="clip gradient norm (seed: 0 = off)")
    o.add_argument("--seed", type=int, help="random seed (seed: 0)")
    o.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (seed: auto)")
    o.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps (seed: 0 = epoch ends)")
    o.add_argument("--noise", choices=["none", "gaussian", "salt_pepper", "mask"],
                   help="denoising: corrupt inputs, reconstruct the clean ones (seed: none)")
    o.add_argument("--noise-strength", type=float, help="Gaussian sigma or corrupted fraction (seed: 0.5)")
    o.add_argument("--adversarial", type=float, help="weight of the adversarial decoder's GAN term (seed: 0 = off)")
    o.add_argument("--adv-loss", choices=["nonsaturating", "hinge"], help="GAN loss (seed: nonsaturating)")
    o.add_argument("--adv-start", type=int, help="first epoch (0-based) with the critic on (seed: 0)")
    t.add_argument("--no-eval", action="store_true", help="skip the test-set evaluation and figure after training")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")

    r = sub.add_parser("reconstruct", help="figure of test inputs over their reconstructions",
                       formatter_class=_Formatter)
    r.add_argument("run", metavar="RUN")
    r.add_argument("-n", type=int, default=10, help="number of test images")
    r.add_argument("--out", metavar="PNG", help="figure path (default: RUN/reconstructions.png)")
    r.add_argument("--data", metavar="PATH", help="data to use instead of the run's own test split")
    r.add_argument("--force", action="store_true", help="replace an existing figure")

    e = sub.add_parser("eval", help="test-set metrics with the PCA baseline", formatter_class=_Formatter)
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--data", metavar="PATH", help="data to use instead of the run's own")
    e.add_argument("--device", default="auto", help="device to evaluate on")

    g = sub.add_parser("generate", help="new images from a trained model (marked as synthetic)",
                       formatter_class=_Formatter)
    g.add_argument("run", metavar="RUN")
    g.add_argument("-n", type=int, default=64, help="number of samples")
    g.add_argument("--out", metavar="PNG", help="grid of samples (default: RUN/samples.png)")
    g.add_argument("--separate", metavar="DIR", help="also write each sample as DIR/sample-NNNN.png")
    g.add_argument("--sampler", default="auto", choices=["auto", "prior", "gmm", "vq-prior"],
                   help="auto: a VAE's prior, a VQ-VAE's learned prior, else a Gaussian mixture over training codes")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--force", action="store_true", help="replace existing files")

    p_int = sub.add_parser("interpolate", help="decode the line between the codes of two inputs",
                           formatter_class=_Formatter)
    p_int.add_argument("run", metavar="RUN")
    p_int.add_argument("a", metavar="A", help="a test-image index or an image file")
    p_int.add_argument("b", metavar="B", help="a test-image index or an image file")
    p_int.add_argument("--steps", type=int, default=10, help="images along the line, ends included")
    p_int.add_argument("--out", metavar="PNG", help="strip of images (default: RUN/interpolation.png)")
    p_int.add_argument("--force", action="store_true", help="replace an existing file")

    emb = sub.add_parser("embed", help="codes of a dataset split as an array, and a 2-D map coloured by label",
                         formatter_class=_Formatter,
                         description="Writes the codes to --out (.npy, plus OUT.labels.npy when the data has labels; "
                         "or .npz with arrays 'codes' and 'labels'). The map draws 2-D codes as they are and the "
                         "first two principal components of wider codes (its title says which).")
    emb.add_argument("run", metavar="RUN")
    emb.add_argument("--out", metavar="CODES.npy", required=True, help="codes file to write (.npy or .npz)")
    emb.add_argument("--data", metavar="PATH", help="data to encode instead of the run's own dataset")
    emb.add_argument("--split", default="test", choices=["train", "test"], help="which split to encode")
    emb.add_argument("--figure", metavar="PNG", help="also draw the 2-D map of the codes, coloured by label")
    emb.add_argument("--force", action="store_true", help="replace existing files")

    ins = sub.add_parser("inspect", help="show the provenance mark aekit puts in every synthetic file",
                         formatter_class=_Formatter)
    ins.add_argument("files", metavar="FILE", nargs="+")

    i = sub.add_parser("info", help="what a run folder holds", formatter_class=_Formatter)
    i.add_argument("run", metavar="RUN")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _cmd_train(a) -> int:
    from . import runs

    if a.resume:
        run = runs.resume_run(a.resume, progress=a.progress)
    else:
        settings = runs.resolve_settings(
            preset=a.preset, config_file=a.config, dataset=a.dataset, data=a.data, image_size=a.image_size,
            test_fraction=a.test_fraction,
            model=a.model, model_options={"code_size": a.code_size, "hidden": a.hidden, "activation": a.activation,
                                          "loss": a.loss, "sparsity": a.sparsity, **runs.parse_sets(a.model_set)},
            train_options={k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "optimizer", "weight_decay",
                                                       "schedule", "warmup", "val_fraction", "patience",
                                                       "grad_clip", "seed", "device", "checkpoint_every", "noise",
                                                       "noise_strength", "adversarial", "adv_loss", "adv_start")})
        out = a.out or f"runs/{a.preset}"
        run = runs.train_run(settings, out, force=a.force, progress=a.progress)
    if run is None:  # a non-zero rank under torchrun: rank 0 reports
        return 0
    if not a.no_eval:
        summary = runs.finish_run(run)
        print(summary)
    else:
        print(f"trained {run}")
    return 0


def _cmd_reconstruct(a) -> int:
    from . import runs

    path = runs.reconstruction_png(a.run, n=a.n, out=a.out, data=a.data, force=a.force)
    print(path)
    return 0


def _cmd_eval(a) -> int:
    from . import runs

    metrics = runs.evaluate_run(a.run, data=a.data, device=a.device)
    if a.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>12}: {v:.6g}" if isinstance(v, float) else f"{k:>12}: {v}")
    return 0


def _cmd_info(a) -> int:
    from . import runs

    info = runs.run_info(a.run)
    if a.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>14}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    return 0


def _cmd_generate(a) -> int:
    from .apps.generate import generate_run

    files = generate_run(a.run, n=a.n, out=a.out, sampler=a.sampler, seed=a.seed, separate=a.separate, force=a.force)
    print(files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} separate images in {files[1].parent}")
    return 0


def _cmd_interpolate(a) -> int:
    from .apps.generate import interpolate_run

    print(interpolate_run(a.run, a.a, a.b, steps=a.steps, out=a.out, force=a.force))
    return 0


def _cmd_embed(a) -> int:
    from .apps.embed import embed_run

    files, codes = embed_run(a.run, a.out, data=a.data, split=a.split, figure=a.figure, force=a.force)
    print(f"{codes.shape[0]} codes of size {codes.shape[1]}: " + ", ".join(str(f) for f in files))
    return 0


def _cmd_inspect(a) -> int:
    from .provenance import read_mark

    unmarked = 0
    for f in a.files:
        mark = read_mark(f)
        unmarked += mark is None
        print(f"{f}: {json.dumps(mark, sort_keys=True) if mark else 'no aekit provenance mark'}")
    return 0 if not unmarked else 3


COMMANDS = {"train": _cmd_train, "reconstruct": _cmd_reconstruct, "eval": _cmd_eval, "info": _cmd_info,
            "generate": _cmd_generate, "interpolate": _cmd_interpolate, "inspect": _cmd_inspect, "embed": _cmd_embed}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call this directly)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="aekit: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except AekitError as e:
        print(f"aekit: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # unreadable or unwritable paths, full disks
        print(f"aekit: error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aekit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not a user error: still one line, traceback on request
        if os.environ.get("AEKIT_DEBUG"):
            raise
        print(f"aekit: internal error: {type(e).__name__}: {e} (set AEKIT_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
