"""The ``aekit`` command: a thin layer over the library; every error is one line and a non-zero exit.

Each subcommand lives in its own module (``add_arguments`` defines it and sets its handler); this module builds
the parser from them, in the order ``aekit --help`` lists them, and runs the handler the command line names.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys

from aekit._version import __version__
from aekit.cli import (
    anomalies,
    compress,
    denoise,
    detect,
    embed,
    generate,
    info,
    provenance,
    report,
    runs,
    serve,
    swap,
    train,
)
from aekit.cli.common import Formatter, flag
from aekit.errors import AekitError
from aekit.training.config import TrainConfig

COMMANDS = (train, runs, generate, denoise, compress, anomalies, embed, provenance, swap, detect, report, serve, info)


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line too (not the command's whole usage message), exit status 2."""

    def error(self, message: str):
        option = re.fullmatch(r"argument (--[\w-]+).*: expected one argument", message)
        if option:  # "--image-size -5x5": argparse takes a value starting with '-' for an option
            message += f"; a value starting with '-' is written {option[1]}=VALUE"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``aekit`` command line: every subcommand and option, with help."""
    p = _Parser(prog="aekit", description="Autoencoders as practical tools.", formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"aekit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(sub)
    return p


TRAINING_OPTIONS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


def as_options(message: str, args: argparse.Namespace) -> str:
    """A library message names the parameters it is about in backticks (`force`); where this command has an
    option for one, the message names the option instead (--force), or for a training option that only its
    --train-set reaches, that (--train-set min_steps=...); otherwise the bare name."""
    return re.sub(r"`([a-z]\w*)`", lambda m: _option(m[1], args), message)


def _option(name: str, args: argparse.Namespace) -> str:
    if hasattr(args, name):
        return flag(name)
    if hasattr(args, "train_set") and name in TRAINING_OPTIONS:
        return f"--train-set {name}=..."
    return name


class _Options(logging.Filter):
    """Log records, like errors, name this command's options instead of the library's parameters."""

    def __init__(self, args: argparse.Namespace):
        super().__init__()
        self.args = args

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "`" in record.msg:
            record.msg = as_options(record.msg, self.args)
        return True


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call this directly)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="aekit: %(message)s")
    options = _Options(args)
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, _Options)] + [options]
    try:
        return _run(args)
    finally:  # the library's later messages (in the same process) name its parameters again
        for handler in logging.getLogger().handlers:
            if options in handler.filters:
                handler.removeFilter(options)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except AekitError as e:
        print(f"aekit: error: {as_options(str(e), args)}", file=sys.stderr)
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
