"""The settings of a new run: a preset, then a TOML file, then explicit options, merged into one dict."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aekit.errors import AekitError
from aekit.runs.presets import get_preset
from aekit.training.recipe import train_config_from_dict

log = logging.getLogger(__name__)


def _read_toml(path: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise AekitError(f"config file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AekitError(f"config file {path} is not valid TOML ({e})") from None
    except IsADirectoryError:
        raise AekitError(f"config file {path} is a folder") from None


def _parse_size(text: str | None, what: str = "image size") -> tuple[int, int] | None:
    if not text:
        return None
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise AekitError(f"{what} should look like 28x28, got {text!r}") from None
    if h <= 0 or w <= 0 or h * w > 4096 * 4096:
        raise AekitError(f"{what} {text} is out of range")
    return h, w


def parse_sets(items: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict; values are read as JSON where they parse (numbers, lists), else as text."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AekitError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_augment(spec: str | None) -> dict:
    """``--augment rotate=8,scale=0.08,elastic=0.7,p=0.5`` as TrainConfig options ({} when not given)."""
    from aekit.training.augment import FIELDS

    out: dict[str, float] = {}
    for item in spec.split(",") if spec else []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if key not in FIELDS or not sep:
            raise AekitError(f"--augment expects KEY=NUMBER pairs with KEY in {', '.join(FIELDS)}, got {item!r}")
        try:
            out[f"augment_{key}"] = float(value)
        except ValueError:
            raise AekitError(f"--augment {key} must be a number, got {value!r}") from None
    return out


def resolve_settings(preset: str = "seed", config_file: str | None = None, dataset: str | None = None,
                     data: str | None = None, image_size: str | None = None, test_fraction: float = 0.1,
                     model: str | None = None, model_options: dict | None = None,
                     train_options: dict | None = None, patches: str | None = None,
                     patches_per_image: int | None = None) -> dict:
    """Merge preset ← TOML file ← explicit options (None means "not given") into one settings dict."""
    file = _read_toml(config_file) if config_file else {}
    preset = file.get("preset", preset)
    try:
        s = get_preset(preset)
    except ValueError as e:
        raise AekitError(str(e)) from None
    unknown = set(file) - {"preset", "dataset", "data", "image_size", "patches", "patches_per_image", "test_fraction",
                           "model", "config", "train"}
    if unknown:
        raise AekitError(f"config file {config_file}: unknown keys {sorted(unknown)}")
    if data or dataset:
        path, name = data, dataset
    else:
        path, name = file.get("data"), file.get("dataset") or s["dataset"]
    source = str(Path(path).expanduser().resolve()) if path else name
    given_model = model or file.get("model")
    if given_model and given_model != s["model"]:
        s["config"] = {}  # another model's options would not fit
    config = {**s["config"], **file.get("config", {})}
    config.update({k: v for k, v in (model_options or {}).items() if v is not None})
    if isinstance(config.get("hidden"), str):
        config["hidden"] = _widths(config["hidden"], "--hidden")
    tr = {**s["train"], **file.get("train", {})}
    tr.update({k: v for k, v in (train_options or {}).items() if v is not None})
    if isinstance(tr.get("disc_channels"), str):
        tr["disc_channels"] = _widths(tr["disc_channels"], "--disc-channels")
    try:
        train_config_from_dict(tr)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad training option: {e}") from None
    size = image_size or file.get("image_size")
    per_image = patches_per_image if patches_per_image is not None else file.get("patches_per_image")
    if per_image is not None and (not isinstance(per_image, int) or per_image < 1):
        raise AekitError(f"patches per image must be a positive whole number, got {per_image!r}")
    patch_size = _parse_size(patches or file.get("patches"), "patch size")
    if per_image is not None and patch_size is None:
        raise AekitError("patches per image needs a patch size (--patches HxW)")
    fraction = file.get("test_fraction", test_fraction)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise AekitError(f"test fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    return {"source": source, "image_size": _parse_size(size), "model": given_model or s["model"],
            "config": config, "train": tr, "test_fraction": float(fraction),
            "patches": patch_size, "patches_per_image": per_image, "preset": preset}


def _widths(text: str, option: str) -> list[int]:
    """"256,128" -> [256, 128], or one clear error naming the option."""
    if not text.strip():
        return []  # no hidden layers
    try:
        return [int(v) for v in text.split(",")]  # an empty item (",," or "64,,32") is a typo, not a width
    except ValueError:
        raise AekitError(f"{option} should be widths like 256,128, got {text!r}") from None
