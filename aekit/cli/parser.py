"""The ``aekit`` command line's grammar: subcommands, options, help texts. ``aekit.cli.main`` runs the commands."""

from __future__ import annotations

import argparse

from aekit._version import __version__


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where it has none (options that fall back to the preset say so)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if action.option_strings and default not in (None, [], argparse.SUPPRESS) and default is not False:
            text += f" (default: {default})"
        return text


def _seed(text: str) -> int:
    """A random seed: an integer every consumer accepts (scikit-learn's random_state stops at 2**32 - 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: an integer from 0 to {2**32 - 1}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"invalid seed {value}: an integer from 0 to {2**32 - 1}")
    return value


def _output(parser: argparse.ArgumentParser, replaces: str, **out) -> None:
    """A subcommand's ``--out`` (``out``: its argparse keywords) and the ``--force`` that lets it replace files:
    without ``--force`` nothing a user already has is overwritten."""
    parser.add_argument("--out", **out)
    parser.add_argument("--force", action="store_true", help=replaces)


def build_parser() -> argparse.ArgumentParser:
    """The ``aekit`` command line: every subcommand and option, with help (the handlers live in ``aekit.cli.main``)."""
    from aekit.apps.swap import SWAP_TRAIN
    from aekit.runs.presets import PRESETS

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
    t.add_argument("--patches", metavar="HxW", help="train on random crops of this size of each image instead of "
                   "whole images (folders may then mix image sizes; split by image); for denoisers of images of any "
                   "size, which `aekit denoise` runs in tiles")
    t.add_argument("--patches-per-image", type=int, metavar="N", help="crops per image with --patches (default: "
                   "enough to cover each image about twice)")
    _output(t, "replace an existing run in --out", metavar="RUN", help="run folder to create (default: runs/<preset>)")
    start = t.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="RUN", help="continue a killed or finished-early run from its checkpoint")
    start.add_argument("--init", metavar="RUN", help="fine-tune: start from RUN's trained model (its weights, "
                       "config and data scaling) instead of a new one; training options still come from the "
                       "preset and flags, the data must have RUN's sample shape")
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
    o.add_argument("--optimizer", choices=["adam", "adamw", "muon"], help="optimiser; muon: Muon for weight "
                   "matrices and conv kernels, Adam for biases and norms, one lr (seed: adam)")
    o.add_argument("--weight-decay", type=float, help="weight decay (seed: 0)")
    o.add_argument("--schedule", choices=["constant", "cosine", "linear"], help="learning-rate decay (seed: constant)")
    o.add_argument("--warmup", type=float, help="fraction of steps for linear warm-up (seed: 0)")
    o.add_argument("--val-fraction", type=float, help="held-out share for validation (seed: 0)")
    o.add_argument("--patience", type=int, help="early-stopping patience in epochs, needs --val-fraction (seed: 0)")
    o.add_argument("--grad-clip", type=float, help="clip gradient norm (seed: 0 = off)")
    o.add_argument("--seed", type=_seed, help="random seed (seed: 0)")
    o.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (seed: auto)")
    o.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps (seed: 0 = epoch ends)")
    o.add_argument("--noise", choices=["none", "gaussian", "salt_pepper", "mask"],
                   help="denoising: corrupt inputs, reconstruct the clean ones (seed: none)")
    o.add_argument("--noise-strength", type=float, help="Gaussian sigma or corrupted fraction (seed: 0.5)")
    o.add_argument("--augment", metavar="KEY=V,...", help="image models: distort each training image afresh every "
                   "step, before any noise: rotate (degrees), scale, shift (fractions), elastic (pixels RMS), p (share "
                   "of images distorted), e.g. rotate=8,scale=0.08,elastic=0.7,p=0.5 (seed: off)")
    o.add_argument("--adversarial", type=float, help="weight of the adversarial decoder's GAN term (seed: 0 = off)")
    o.add_argument("--adv-loss", choices=["nonsaturating", "hinge"], help="GAN loss (seed: nonsaturating)")
    o.add_argument("--adv-start", type=int, help="first epoch (0-based) with the critic on (seed: 0)")
    o.add_argument("--disc-channels", metavar="W,W", help="the critic's widths, one stride-2 conv each; three "
                   "stages see a whole 28x28 image (seed: 32,64)")
    o.add_argument("--precision", choices=["fp32", "bf16"], help="bf16: bfloat16 autocast forward (seed: fp32)")
    o.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC layout while training image models (seed: off)")
    o.add_argument("--ema", type=float, metavar="DECAY", help="keep an exponential moving average of the weights "
                   "and make it the trained model, e.g. 0.999 (seed: 0 = off)")
    o.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the forward pass: faster steps after a compile of tens of seconds (seed: off)")
    o.add_argument("--time-limit", type=float, help="stop after this many seconds of training, the schedule "
                   "following the clock; --epochs is then a cap (seed: 0 = off)")
    t.add_argument("--no-eval", action="store_true", help="skip the test-set evaluation and figure after training")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")

    r = sub.add_parser("reconstruct", help="figure of test inputs over their reconstructions",
                       formatter_class=_Formatter)
    r.add_argument("run", metavar="RUN")
    r.add_argument("-n", type=int, default=10, help="number of test images")
    _output(r, "replace an existing figure", metavar="PNG", help="figure path (default: RUN/reconstructions.png)")
    r.add_argument("--data", metavar="PATH", help="data to use instead of the run's own test split")
    r.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="add a row decoded from codes refined by STEPS optimiser steps (aekit.apps.refine)")

    e = sub.add_parser("eval", help="test-set metrics with the PCA baseline", formatter_class=_Formatter)
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--data", metavar="PATH", help="data to use instead of the run's own")
    e.add_argument("--device", default="auto", help="device to evaluate on")

    g = sub.add_parser("generate", help="new images from a trained model (marked as synthetic)",
                       formatter_class=_Formatter)
    g.add_argument("run", metavar="RUN")
    g.add_argument("-n", type=int, default=64, help="number of samples")
    _output(g, "replace existing files", metavar="PNG", help="grid of samples (default: RUN/samples.png)")
    g.add_argument("--separate", metavar="DIR", help="also write each sample as DIR/sample-NNNN.png")
    g.add_argument("--sampler", default="auto", choices=["auto", "prior", "gmm", "vq-prior"],
                   help="auto: a VAE's prior, a VQ-VAE's learned prior, else a Gaussian mixture over training codes")
    g.add_argument("--seed", type=_seed, default=0, help="random seed")

    p_int = sub.add_parser("interpolate", help="decode the line between the codes of two inputs",
                           formatter_class=_Formatter)
    p_int.add_argument("run", metavar="RUN")
    p_int.add_argument("a", metavar="A", help="a test-image index or an image file")
    p_int.add_argument("b", metavar="B", help="a test-image index or an image file")
    p_int.add_argument("--steps", type=int, default=10, help="images along the line, ends included")
    _output(p_int, "replace an existing file", metavar="PNG", help="strip of images (default: RUN/interpolation.png)")

    dn = sub.add_parser("denoise", help="clean noisy images or arrays with a run's model (outputs are marked)",
                        formatter_class=_Formatter)
    dn.add_argument("run", metavar="RUN")
    dn.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or .npy arrays in the run's data units")
    _output(dn, "replace existing results", metavar="DIR", required=True,
            help="folder for the results (<name>.png / <name>.npy)")
    dn.add_argument("--ensemble", metavar="RUN2", action="append", default=[],
                    help="another run for the same data; the result is the mean of every run's output (repeatable)")
    dn.add_argument("--overlap", type=int, metavar="PIXELS",
                    help="images of another size than the model's go through it in tiles of its size, blended; "
                         "pixels shared by neighbouring tiles (default: half a tile)")
    dn.add_argument("--device", default="cpu", help="device to run the model on")

    cp = sub.add_parser("compress", help="compress images into .aek files with a compression run "
                        "(`aekit train --model compress`)", formatter_class=_Formatter)
    cp.add_argument("run", metavar="RUN")
    cp.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or folders of images")
    _output(cp, "replace existing files", metavar="DIR", required=True, help="folder for the files (<name>.aek)")
    cp.add_argument("--level", type=int, help="quality level, 0 (smallest files) up; default: the run's default")
    cp.add_argument("--refine", type=int, default=0, metavar="STEPS",
                    help="optimise each image's code for its level's rate and quality before coding (encoder side "
                    "only: any decoder reads the files; about 50 steps, each a decoder pass; 0: off)")
    cp.add_argument("--device", default="cpu", help="device to run the encoder on")

    dc = sub.add_parser("decompress", help="decode .aek files into PNGs (marked as model output)",
                        formatter_class=_Formatter)
    dc.add_argument("run", metavar="RUN", help="the compression run that wrote the files")
    dc.add_argument("inputs", metavar="FILE", nargs="+", help=".aek files")
    _output(dc, "replace existing images", metavar="DIR", required=True, help="folder for the images (<name>.png)")
    dc.add_argument("--device", default="cpu", help="device to run the decoder on")

    an = sub.add_parser("anomalies", help="rank inputs by how anomalous the run's model finds them",
                        formatter_class=_Formatter)
    an.add_argument("run", metavar="RUN")
    an.add_argument("data", metavar="DATA", help="a dataset name or path aekit can load (its test split is scored), "
                    "a .npy array, or a folder of images")
    an.add_argument("-k", "--top", type=int, default=10, help="how many of the most anomalous inputs to list")
    _output(an, "replace an existing figure", metavar="PNG",
            help="also draw the most anomalous inputs into this figure")
    an.add_argument("--json", action="store_true", help="print one JSON object")

    emb = sub.add_parser("embed", help="codes of a dataset split as an array, and a 2-D map coloured by label",
                         formatter_class=_Formatter,
                         description="Writes the codes to --out (.npy, plus OUT.labels.npy when the data has labels; "
                         "or .npz with arrays 'codes' and 'labels'). The map draws 2-D codes as they are and the "
                         "first two principal components of wider codes (its title says which).")
    emb.add_argument("run", metavar="RUN")
    _output(emb, "replace existing files", metavar="CODES.npy", required=True,
            help="codes file to write (.npy or .npz)")
    emb.add_argument("--data", metavar="PATH", help="data to encode instead of the run's own dataset")
    emb.add_argument("--split", default="test", choices=["train", "test"], help="which split to encode")
    emb.add_argument("--figure", metavar="PNG", help="also draw the 2-D map of the codes, coloured by label")

    ins = sub.add_parser("inspect", help="show the provenance mark aekit puts in every synthetic file",
                         formatter_class=_Formatter)
    ins.add_argument("files", metavar="FILE", nargs="+")

    st = sub.add_parser("swap-train", help="train a swap model: one shared encoder, one decoder per domain",
                        formatter_class=_Formatter,
                        description="Each decoder learns to rebuild only its own domain; every batch draws equally "
                        "from every domain. SOURCE: a named dataset, an image folder or an array file.")
    st.add_argument("--domain", action="append", default=[], metavar="NAME=SOURCE",
                    help="a domain and its images (two or more; the first is the default decoder)")
    _output(st, "replace an existing run in --out", metavar="RUN", help="run folder to create")
    st.add_argument("--resume", metavar="RUN", help="continue a killed swap run from its checkpoint")
    st.add_argument("--image-size", metavar="HxW", help="resize every domain's images to this size")
    st.add_argument("--test-fraction", type=float, default=0.1, help="test share for data without a test split")
    sm = st.add_argument_group("model")
    sm.add_argument("--code-size", type=int, help="width of the shared code (default 32)")
    sm.add_argument("--warp", type=float, help="random affine warp of the encoder's input in training (default 0)")
    sm.add_argument("--set", dest="model_set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other swap model field, e.g. --set channels=[32,64] --set spatial_code=true")
    so = st.add_argument_group("training (defaults: " + ", ".join(f"{k} {v}" for k, v in SWAP_TRAIN.items()) + ")")
    so.add_argument("--epochs", type=float, help="passes over all domains' images together")
    so.add_argument("--batch-size", type=int, help="global batch size, split equally between the domains")
    so.add_argument("--lr", type=float, help="peak learning rate")
    so.add_argument("--seed", type=_seed, help="random seed (default 0)")
    so.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    so.add_argument("--adversarial", type=float, help="weight of the per-domain adversarial decoder (default 0 = off)")
    so.add_argument("--adv-start", type=int, help="first epoch (0-based) with the critic on (default 0)")
    so.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps (default 0 = epoch ends)")
    so.add_argument("--train-set", dest="train_set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other training option, e.g. --train-set schedule=constant")
    st.add_argument("--no-figure", action="store_true", help="skip the test-set evaluation and figure")
    st.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="show a progress bar (default: when stderr is a terminal)")

    sw = sub.add_parser("swap", help="render images as another domain of a swap run (marked as synthetic)",
                        formatter_class=_Formatter)
    sw.add_argument("run", metavar="RUN")
    sw.add_argument("inputs", metavar="INPUT", nargs="+", help="image files, folders of images, or .npy uint8 stacks")
    sw.add_argument("--to", required=True, metavar="DOMAIN", help="the domain to render them as")
    _output(sw, "replace existing files", required=True, metavar="DIR",
            help="folder for DIR/<name>-to-<DOMAIN>.png (or .npy)")

    sf = sub.add_parser("swap-figure", help="test images, own-domain reconstructions and swaps, side by side",
                        formatter_class=_Formatter)
    sf.add_argument("run", metavar="RUN")
    sf.add_argument("-n", type=int, default=8, help="test images per domain")
    _output(sf, "replace an existing figure", metavar="PNG", help="figure path (default: RUN/swaps.png)")

    dt = sub.add_parser("detect-train", help="train a detector of a run's swaps and reconstructions",
                        formatter_class=_Formatter,
                        description="Real training images of the run against its reconstructions and swaps of them; "
                        "pixels only, so it works on files whose provenance marks were stripped.")
    dt.add_argument("run", metavar="RUN")
    _output(dt, "replace an existing detector", required=True, metavar="DETECTOR", help="detector folder to create")
    dt.add_argument("--max-per-domain", type=int, default=2000, help="real training images used per domain")
    dt.add_argument("--epochs", type=int, default=10, help="training epochs")
    dt.add_argument("--seed", type=_seed, default=0, help="random seed")

    dd = sub.add_parser("detect", help="score image files: probability that each is synthetic",
                        formatter_class=_Formatter)
    dd.add_argument("detector", metavar="DETECTOR")
    dd.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or folders of images")
    dd.add_argument("--json", action="store_true", help="print one JSON object {file: score}")

    i = sub.add_parser("info", help="what a run folder holds", formatter_class=_Formatter)
    i.add_argument("run", metavar="RUN")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    return p
