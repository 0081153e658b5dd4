"""Option values written as text on the command line, parsed into the values the library takes.

Sizes ("28x28") and widths ("256,128") use ``aekit.runs.options``, which TOML files share; errors name the option.
"""

from __future__ import annotations

import dataclasses
import json

from aekit.errors import AekitError
from aekit.training.config import TrainConfig

AUGMENT = "augment_"  # the TrainConfig fields --augment sets: augment_rotate, ...


def parse_sets(items: list[str], option: str = "--set") -> dict:
    """``KEY=VALUE`` strings as a dict; values are read as JSON where they parse (numbers, lists), else as text."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AekitError(f"{option} expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def augment_keys() -> list[str]:
    """The keys of ``--augment``: TrainConfig's augment_* fields without the prefix (rotate, scale, ...)."""
    return [f.name.removeprefix(AUGMENT) for f in dataclasses.fields(TrainConfig) if f.name.startswith(AUGMENT)]


def parse_augment(spec: str | None) -> dict:
    """``--augment rotate=8,scale=0.08,elastic=0.7,p=0.5`` as TrainConfig options ({} when not given)."""
    keys = augment_keys()
    out: dict[str, float] = {}
    for item in spec.split(",") if spec else []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if key not in keys or not sep:
            raise AekitError(f"--augment expects KEY=NUMBER pairs with KEY in {', '.join(keys)}, got {item!r}")
        try:
            out[AUGMENT + key] = float(value)
        except ValueError:
            raise AekitError(f"--augment {key} must be a number, got {value!r}") from None
    return out


def parse_domains(items: list[str]) -> dict[str, str]:
    """``--domain NAME=SOURCE`` strings as an ordered {name: source}; at least two distinct names."""
    from aekit.models.configs import check_domain_name

    out: dict[str, str] = {}
    for item in items:
        name, sep, source = item.partition("=")
        name, source = name.strip(), source.strip()
        if not sep or not name or not source:
            raise AekitError(f"--domain expects NAME=SOURCE, got {item!r}")
        if name in out:
            raise AekitError(f"domain {name!r} given twice")
        try:
            check_domain_name(name)
        except ValueError as e:
            raise AekitError(f"--domain {item}: {e}") from None
        out[name] = source
    if len(out) < 2:
        raise AekitError("a swap run needs at least two domains (--domain a=SOURCE --domain b=SOURCE)")
    return out
