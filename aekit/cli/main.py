"""The ``aekit`` command: a thin layer over the library; every error is one line and a non-zero exit."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from aekit.cli.parser import build_parser
from aekit.errors import AekitError

log = logging.getLogger("aekit")


_RESUME_KEEPS = {"command", "resume", "progress", "no_eval", "verbose", "func"}


def _cmd_train(a) -> int:
    from aekit.runs import lifecycle as runs
    from aekit.runs.train import create_run, resume_run

    if a.resume:
        defaults = vars(build_parser().parse_args(["train"]))
        given = sorted(k for k, v in vars(a).items() if k not in _RESUME_KEEPS and v != defaults.get(k))
        if given:
            names = ", ".join("--" + k.replace("_", "-").replace("model-set", "set") for k in given)
            raise AekitError(f"--resume continues a run with its own settings; drop {names}")
        run = resume_run(a.resume, progress=a.progress)
    else:
        settings = runs.resolve_settings(
            preset=a.preset, config_file=a.config, dataset=a.dataset, data=a.data, image_size=a.image_size,
            test_fraction=a.test_fraction, patches=a.patches, patches_per_image=a.patches_per_image,
            model=a.model, model_options={"code_size": a.code_size, "hidden": a.hidden, "activation": a.activation,
                                          "loss": a.loss, "sparsity": a.sparsity, **runs.parse_sets(a.model_set)},
            train_options={k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "optimizer", "weight_decay",
                                                       "schedule", "warmup", "val_fraction", "patience",
                                                       "grad_clip", "seed", "device", "checkpoint_every", "noise",
                                                       "noise_strength", "adversarial", "adv_loss", "adv_start",
                                                       "disc_channels", "precision", "channels_last", "ema",
                                                       "compile", "time_limit")} | runs.parse_augment(a.augment))
        if a.init and (a.model or a.model_set or any(getattr(a, k) is not None for k in
                                                    ("code_size", "hidden", "activation", "loss", "sparsity"))):
            raise AekitError("--init takes the model from its run: drop --model, --set and the other model options")
        out = a.out or f"runs/{settings['preset']}"
        if a.init and Path(a.init).resolve() == Path(out).resolve():
            raise AekitError(f"--init {a.init} is the run being written; use --resume to continue it")
        run = create_run(settings, out, force=a.force, progress=a.progress, init=a.init)
    if run is None:  # a non-zero rank under torchrun: rank 0 reports
        return 0
    if not a.no_eval:
        from aekit.apps.evaluate import finish_run
        from aekit.apps.swap import finish_swap

        print(finish_swap(run) if run.domains else finish_run(run))
    else:
        print(f"trained {run.path}")
    return 0


def _cmd_reconstruct(a) -> int:
    from aekit.apps.reconstruct import reconstruction_png

    path = reconstruction_png(a.run, n=a.n, out=a.out, data=a.data, force=a.force, refine=a.refine)
    print(path)
    return 0


def _cmd_eval(a) -> int:
    from aekit.apps.evaluate import evaluate_run

    metrics = evaluate_run(a.run, data=a.data, device=a.device)
    if a.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>12}: {v:.6g}" if isinstance(v, float) else f"{k:>12}: {v}")
    return 0


def _cmd_info(a) -> int:
    from aekit.runs.info import run_info

    info = run_info(a.run)
    if a.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>14}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    return 1 if info["weights"].startswith("unusable") else 0  # described in full, and a script sees the fault


def _cmd_generate(a) -> int:
    from aekit.apps.generate import generate_run

    files = generate_run(a.run, n=a.n, out=a.out, sampler=a.sampler, seed=a.seed, separate=a.separate, force=a.force)
    print(files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} separate images in {files[1].parent}")
    return 0


def _cmd_interpolate(a) -> int:
    from aekit.apps.generate import interpolate_run

    print(interpolate_run(a.run, a.a, a.b, steps=a.steps, out=a.out, force=a.force))
    return 0


def _cmd_denoise(a) -> int:
    from aekit.apps.denoise import denoise_files

    files = denoise_files(a.run, a.inputs, a.out, force=a.force, device=a.device, ensemble=a.ensemble,
                         overlap=a.overlap)
    for f in files:
        print(f)
    return 0


def _cmd_compress(a) -> int:
    from aekit.apps.compress import compress_files

    files = compress_files(a.run, a.inputs, a.out, level=a.level, force=a.force, device=a.device,
                           refine=a.refine)
    total = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {total} bytes in {a.out}")
    return 0


def _cmd_decompress(a) -> int:
    from aekit.apps.compress import decompress_files

    for f in decompress_files(a.run, a.inputs, a.out, force=a.force, device=a.device):
        print(f)
    return 0


def _cmd_anomalies(a) -> int:
    from aekit.apps.anomaly import anomalies_run

    report = anomalies_run(a.run, a.data, top=a.top, out=a.out, force=a.force)
    if a.json:
        print(json.dumps(report))
        return 0
    print(f"{report['n_scored']} inputs from {report['data']}; most anomalous first (score: {report['score']}):")
    for row in report["top"]:
        print(f"{row['rank']:>4}  {row['input']:<40}  {row['score']:.6g}")
    if report.get("figure"):
        print(f"figure: {report['figure']}")
    return 0


def _cmd_embed(a) -> int:
    from aekit.apps.embed import embed_run

    files, codes = embed_run(a.run, a.out, data=a.data, split=a.split, figure=a.figure, force=a.force)
    print(f"{codes.shape[0]} codes of size {codes.shape[1]}: " + ", ".join(str(f) for f in files))
    return 0


def _cmd_inspect(a) -> int:
    from aekit.runs.provenance import read_mark

    unmarked = 0
    for f in a.files:
        mark = read_mark(f)
        unmarked += mark is None
        print(f"{f}: {json.dumps(mark, sort_keys=True) if mark else 'no aekit provenance mark'}")
    return 0 if not unmarked else 3


def _cmd_swap_train(a) -> int:
    from aekit.apps import swap
    from aekit.runs.lifecycle import _parse_size, parse_sets
    from aekit.runs.run import read_config
    from aekit.runs.train import resume_run

    if a.resume:
        if not read_config(a.resume).domains:
            raise AekitError(f"{a.resume} is not a swap run; continue it with aekit train --resume {a.resume}")
        run = resume_run(a.resume, progress=a.progress)
    else:
        if not a.out:
            raise AekitError("swap-train needs --out RUN (or --resume RUN)")
        model = {"code_size": a.code_size, "warp": a.warp, **parse_sets(a.model_set)}
        train = {k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "seed", "device", "adversarial",
                                            "adv_start", "checkpoint_every")}
        train.update(parse_sets(a.train_set))
        run = swap.train_swap(swap.parse_domains(a.domain), a.out, model_options=model, train_options=train,
                              image_size=_parse_size(a.image_size), test_fraction=a.test_fraction, force=a.force,
                              progress=a.progress)
    print(f"trained {run.path}" if a.no_figure else swap.finish_swap(run))
    return 0


def _cmd_swap(a) -> int:
    from aekit.apps.swap import swap_files

    files = swap_files(a.run, a.to, a.inputs, a.out, force=a.force)
    print(files[0] if len(files) == 1 else f"{len(files)} files in {a.out}")
    return 0


def _cmd_swap_figure(a) -> int:
    from aekit.apps.swap import swap_figure

    print(swap_figure(a.run, out=a.out, n=a.n, force=a.force))
    return 0


def _cmd_detect_train(a) -> int:
    from aekit.apps.detect import train_detector

    cfg = train_detector(a.run, a.out, max_per_domain=a.max_per_domain, seed=a.seed, epochs=a.epochs,
                         force=a.force)
    print(f"detector {a.out}: validation accuracy {cfg['val_accuracy']:.4f}, AUROC {cfg['val_auroc']:.4f} "
          f"on {cfg['val_images']} held-out images")
    return 0


def _cmd_detect(a) -> int:
    from aekit.apps.detect import detect_files

    scores = detect_files(a.detector, a.inputs)
    if a.json:
        print(json.dumps({str(f): s for f, s in scores}))
    else:
        for f, s in scores:
            print(f"{f}: {s:.4f}")
    return 0


COMMANDS = {"train": _cmd_train, "reconstruct": _cmd_reconstruct, "eval": _cmd_eval, "info": _cmd_info,
            "generate": _cmd_generate, "interpolate": _cmd_interpolate, "inspect": _cmd_inspect,
            "denoise": _cmd_denoise, "compress": _cmd_compress, "decompress": _cmd_decompress,
            "anomalies": _cmd_anomalies, "embed": _cmd_embed,
            "swap-train": _cmd_swap_train, "swap": _cmd_swap, "swap-figure": _cmd_swap_figure,
            "detect-train": _cmd_detect_train, "detect": _cmd_detect}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call this directly)."""
    args = build_parser().parse_args(argv)
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
