"""Option values as people write them in TOML files and on the command line: a size "28x28" and widths "256,128".

Each also takes the typed form (a pair of whole numbers, a list of widths); errors name ``name``, the parameter or
option the value was given for.
"""

from __future__ import annotations

from aekit.errors import AekitError

MAX_PIXELS = 4096 * 4096


def size_value(value, name: str = "image_size") -> tuple[int, int] | None:
    """``"HxW"`` text or a (height, width) pair as a pair of positive whole numbers; None when not given."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            h, w = (int(v) for v in value.lower().split("x"))
        else:
            h, w = value
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (h, w)):
                raise ValueError
    except (TypeError, ValueError):
        raise AekitError(f"{name} should look like 28x28, got {value!r}") from None
    if h <= 0 or w <= 0 or h * w > MAX_PIXELS:
        raise AekitError(f"{name} {h}x{w} is out of range")
    return h, w


def widths_value(value, name: str):
    """``"256,128"`` text as [256, 128] ("" is no widths at all); any other value as it is, for the model or the
    training config to check."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return []  # no hidden layers
    try:
        return [int(v) for v in value.split(",")]  # an empty item (",," or "64,,32") is a typo, not a width
    except ValueError:
        raise AekitError(f"{name} should be widths like 256,128, got {value!r}") from None
