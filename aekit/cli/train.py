"""``aekit train``: train a model into a run folder, from a preset, a TOML file and options.

The training options are TrainConfig's fields that carry help (``aekit.training.config``): one option each, its
type, choices and help taken from the field, and the seed preset's value shown as its default.
"""

from __future__ import annotations

import argparse
import dataclasses
import re

from aekit.cli.common import Formatter, add_output, flag, seed_type
from aekit.cli.text import AUGMENT, parse_augment, parse_sets
from aekit.errors import AekitError
from aekit.runs.options import size_value, widths_value
from aekit.training.config import TrainConfig

_TYPES = {"float": float, "int": int, "str": str}
_MODEL_OPTIONS = ("code_size", "hidden", "activation", "loss", "sparsity")
_RESUME_KEEPS = {"command", "resume", "progress", "no_eval", "verbose", "handler"}
_AUGMENT_HELP = ("image models: distort each training image afresh every step, before any noise: rotate (degrees), "
                 "scale, shift (fractions), elastic (pixels RMS), p (share of images distorted), e.g. "
                 "rotate=8,scale=0.08,elastic=0.7,p=0.5")


def training_fields() -> list[dataclasses.Field]:
    """The TrainConfig fields that are options of ``aekit train``, in the config's order."""
    return [f for f in dataclasses.fields(TrainConfig) if "help" in f.metadata]


def _shown(value, zero: str | None) -> str:
    """A value as the help shows it: 0.001, 32,64, off, "0 = off"."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if zero and value == 0:
        return f"0 = {zero}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(f: dataclasses.Field, seed: dict) -> str:
    """A field's help with other options' names as flags and the seed preset's value."""
    text = re.sub(r"`(\w+)`", lambda m: flag(m[1]), f.metadata["help"])
    return f"{text} (seed: {_shown(seed[f.name], f.metadata.get('zero'))})"


def _field_option(f: dataclasses.Field, seed: dict) -> dict:
    """The argparse keywords of a training field's option."""
    options = {"help": _help(f, seed)}
    options.update({k: f.metadata[k] for k in ("choices", "metavar") if k in f.metadata})
    if f.type == "bool":
        return {**options, "action": argparse.BooleanOptionalAction, "default": None}
    return {**options, "type": seed_type if f.name == "seed" else _TYPES.get(f.type, str)}  # widths: text, for now


def _add_training_options(group, seed: dict) -> None:
    """One option per training field, and ``--augment`` where the augment_* fields stand."""
    augment = [f.name for f in dataclasses.fields(TrainConfig) if f.name.startswith(AUGMENT)]
    for f in dataclasses.fields(TrainConfig):
        if f.name == augment[0]:
            shown = "on" if TrainConfig(**{name: seed[name] for name in augment}).augments() else "off"
            group.add_argument("--augment", metavar="KEY=V,...", help=f"{_AUGMENT_HELP} (seed: {shown})")
        if "help" in f.metadata:
            group.add_argument(flag(f.name), **_field_option(f, seed))


def _add_data_options(t: argparse.ArgumentParser, presets: dict) -> None:
    t.add_argument("--preset", default="seed", choices=sorted(presets), help="starting recipe")
    t.add_argument("--config", metavar="FILE.toml", help="TOML file with preset/dataset/data/model keys and "
                   "[config] (model) and [train] tables")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="named dataset: mnist, fashion-mnist, digits, mnist-<identity> (default: the "
                     "preset's)")
    src.add_argument("--data", metavar="PATH", help="your data: IDX folder, .npy/.npz, image folder or .csv (a .csv: "
                     "text columns become categories, one-hot; empty/NA cells take the training rows' mean or most "
                     "frequent category, with a warning)")
    t.add_argument("--image-size", metavar="HxW", help="resize images from a folder to this size, e.g. 28x28")
    t.add_argument("--test-fraction", type=float, default=0.1, help="test share for data without a test split")
    t.add_argument("--label-column", metavar="NAME", help="a .csv's column of labels (classes: whole numbers or "
                   "text), not a feature; the run records it, so eval/embed/anomalies read the same column of any CSV "
                   "(the column's number, from 1, when the file has no header row)")
    t.add_argument("--id-column", metavar="NAME", help="a .csv's column naming its rows, not a feature; embed and "
                   "anomalies name each row by it")
    t.add_argument("--patches", metavar="HxW", help="train on random crops of this size of each image instead of "
                   "whole images (folders may then mix image sizes; split by image); for denoisers of images of any "
                   "size, which `aekit denoise` runs in tiles")
    t.add_argument("--patches-per-image", type=int, metavar="N", help="crops per image with --patches (default: "
                   "enough to cover each image about twice)")
    add_output(t, "replace an existing run in --out", metavar="RUN", help="run folder to create (default: runs/<preset>)")
    start = t.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="RUN", help="continue a killed or finished-early run from its checkpoint")
    start.add_argument("--init", metavar="RUN", help="fine-tune: start from RUN's trained model (its weights, "
                       "config and data scaling) instead of a new one; training options still come from the "
                       "preset and flags, the data must have RUN's sample shape")


def _add_model_options(t: argparse.ArgumentParser) -> None:
    m = t.add_argument_group("model (default: the preset's)")
    m.add_argument("--model", help="model name")
    m.add_argument("--code-size", type=int, help="width of the code (seed: 32)")
    m.add_argument("--hidden", metavar="W,W", help="hidden widths of the encoder, e.g. 256,128 (seed: 128)")
    m.add_argument("--activation", help="hidden activation (seed: relu)")
    m.add_argument("--loss", choices=["bce", "mse"], help="reconstruction loss (seed: bce)")
    m.add_argument("--sparsity", choices=["none", "l1", "kl"], help="sparse code: L1 activity or KL target (seed: none)")
    m.add_argument("--set", dest="model_set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other model config field, e.g. --set channels=[32,64] --set beta=4 (repeatable)")


def _define(t: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every option of ``aekit train`` on ``t``."""
    from aekit.runs.presets import PRESETS

    _add_data_options(t, PRESETS)
    _add_model_options(t)
    seed = {**{f.name: f.default for f in dataclasses.fields(TrainConfig)}, **PRESETS["seed"]["train"]}
    _add_training_options(t.add_argument_group("training (default: the preset's)"), seed)
    t.add_argument("--no-eval", action="store_true", help="skip the test-set evaluation and figure after training")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    t.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                   help="also log to TensorBoard, in RUN/tensorboard: train and validation loss, learning rate and "
                   "images/s every epoch, test images over their reconstructions, and at the end the test codes for "
                   "the embedding projector; watch with tensorboard --logdir RUN/tensorboard; --resume keeps logging "
                   "(needs pip install aekit[tensorboard]; default: off)")
    return t


def add_arguments(sub) -> None:
    """The ``train`` subcommand."""
    from aekit.runs.presets import PRESETS

    t = sub.add_parser("train", help="train a model and write a run folder", formatter_class=Formatter,
                       description="Options left unset come from --config, then from the preset. "
                       "Presets: " + "; ".join(f"{k}: {v['help']}" for k, v in PRESETS.items()))
    _define(t).set_defaults(handler=run)


def _refuse_new_settings(a) -> None:
    """``--resume`` continues with the run's own settings: any other option given is refused, by name."""
    defaults = vars(_define(argparse.ArgumentParser()).parse_args([]))
    given = sorted(k for k, v in vars(a).items() if k not in _RESUME_KEEPS and v != defaults.get(k))
    if given:
        names = ", ".join(flag(k).replace("model-set", "set") for k in given)
        raise AekitError(f"--resume continues a run with its own settings; drop {names}")


def _train_options(a) -> dict:
    """The training options given (None: not given); widths such as --disc-channels parsed from their text."""
    options = {f.name: getattr(a, f.name) for f in training_fields()}
    for f in training_fields():
        if f.type.startswith("tuple"):
            options[f.name] = widths_value(options[f.name], flag(f.name))
    return options | parse_augment(a.augment) | {"tensorboard": a.tensorboard}


def _settings(a) -> dict:
    """The new run's settings: the preset, then --config, then the options given."""
    from aekit.runs.settings import resolve_settings

    model = {k: getattr(a, k) for k in _MODEL_OPTIONS} | {"hidden": widths_value(a.hidden, "--hidden")}
    settings = resolve_settings(
        preset=a.preset, config_file=a.config, dataset=a.dataset, data=a.data,
        image_size=size_value(a.image_size, "--image-size"), test_fraction=a.test_fraction,
        patches=size_value(a.patches, "--patches"), patches_per_image=a.patches_per_image, model=a.model,
        label_column=a.label_column, id_column=a.id_column,
        model_options=model | parse_sets(a.model_set), train_options=_train_options(a))
    if a.init and (a.model or a.model_set or any(getattr(a, k) is not None for k in _MODEL_OPTIONS)):
        raise AekitError("--init takes the model from its run: drop --model, --set and the other model options")
    return settings


def run(a) -> int:
    from aekit.runs.train import create_run, resume_run

    if a.resume:
        _refuse_new_settings(a)
        trained = resume_run(a.resume, progress=a.progress)
    else:
        settings = _settings(a)
        out = a.out or f"runs/{settings['preset']}"
        trained = create_run(settings, out, force=a.force, progress=a.progress, init=a.init)
    if trained is None:  # a non-zero rank under torchrun: rank 0 reports
        return 0
    if a.no_eval:
        print(f"trained {trained.path}")
    else:
        from aekit.apps.evaluate import finish_run
        from aekit.apps.swap import finish_swap

        print(finish_swap(trained) if trained.domains else finish_run(trained))
    return 0
