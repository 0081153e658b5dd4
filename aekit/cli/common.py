"""What the subcommands share: the help formatter, the seed type, ``--out``/``--force``, and option names."""

from __future__ import annotations

import argparse


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where it has none (options that fall back to the preset say so)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if action.option_strings and default not in (None, [], argparse.SUPPRESS) and default is not False:
            text += f" (default: {default})"
        return text


def seed_type(text: str) -> int:
    """A random seed: an integer every consumer accepts (scikit-learn's random_state stops at 2**32 - 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: an integer from 0 to {2**32 - 1}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"invalid seed {value}: an integer from 0 to {2**32 - 1}")
    return value


def add_output(parser: argparse.ArgumentParser, replaces: str, **out) -> None:
    """A subcommand's ``--out`` (``out``: its argparse keywords) and the ``--force`` that lets it replace files:
    without ``--force`` nothing a user already has is overwritten."""
    parser.add_argument("--out", **out)
    parser.add_argument("--force", action="store_true", help=replaces)


def flag(name: str) -> str:
    """The option for a parameter: ``batch_size`` -> ``--batch-size``, ``n`` -> ``-n``."""
    return ("-" if len(name) == 1 else "--") + name.replace("_", "-")
