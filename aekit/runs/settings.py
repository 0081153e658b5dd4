"""The settings of a new run: a preset, then a TOML file, then explicit options, merged into one dict."""

from __future__ import annotations

import logging
from pathlib import Path

from aekit.errors import AekitError
from aekit.runs.options import size_value, widths_value
from aekit.runs.presets import get_preset
from aekit.training.config import train_config_from_dict

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


# When a run's length comes from a preset, not from the user, small data trains for at least this many steps:
# the `seed` preset on MNIST takes 5,625, `fast` 1,407; 43 photos at batch 32 would take 6 in 3 epochs.
MIN_STEPS = 1000


def resolve_settings(preset: str = "seed", config_file: str | None = None, dataset: str | None = None,
                     data: str | None = None, image_size: tuple[int, int] | None = None, test_fraction: float = 0.1,
                     model: str | None = None, model_options: dict | None = None,
                     train_options: dict | None = None, patches: tuple[int, int] | None = None,
                     patches_per_image: int | None = None, label_column: str | None = None,
                     id_column: str | None = None) -> dict:
    """Merge preset ← TOML file ← explicit options (None means "not given") into one settings dict.

    ``label_column`` and ``id_column`` name a CSV table's label and id columns (neither is a feature).

    Sizes are (height, width) pairs and widths (the model's ``hidden``, ``disc_channels``) lists; a TOML file may
    also write them as text, "28x28" and "256,128" (``aekit.runs.options``)."""
    file = _read_toml(config_file) if config_file else {}
    preset = file.get("preset", preset)
    try:
        s = get_preset(preset)
    except ValueError as e:
        raise AekitError(str(e)) from None
    unknown = set(file) - {"preset", "dataset", "data", "image_size", "patches", "patches_per_image", "test_fraction",
                           "model", "config", "train", "label_column", "id_column"}
    if unknown:
        raise AekitError(f"config file {config_file}: unknown keys {sorted(unknown)}")
    if data or dataset:
        path, name = data, dataset
    else:
        path, name = file.get("data"), file.get("dataset") or s["dataset"]
    source = str(Path(path).expanduser().resolve()) if path else name
    if not source:
        raise AekitError(f"the {preset} preset is for your own data: pass `data` (a folder of images)")
    given_model = model or file.get("model")
    if given_model and given_model != s["model"]:
        s["config"] = {}  # another model's options would not fit
    config = {**s["config"], **file.get("config", {})}
    config.update({k: v for k, v in (model_options or {}).items() if v is not None})
    chosen = sorted({*file.get("config", {}), *(k for k, v in (model_options or {}).items() if v is not None)})
    if "hidden" in config:
        config["hidden"] = widths_value(config["hidden"], "hidden")
    tr = _recipe(s["train"], {**file.get("train", {}), **{k: v for k, v in (train_options or {}).items()
                                                          if v is not None}})
    size = image_size or file.get("image_size")
    per_image = patches_per_image if patches_per_image is not None else file.get("patches_per_image")
    if per_image is not None and (not isinstance(per_image, int) or per_image < 1):
        raise AekitError(f"patches_per_image must be a positive whole number, got {per_image!r}")
    patch_size = size_value(patches or file.get("patches") or s.get("patches"), "patches")
    if per_image is not None and patch_size is None:
        raise AekitError("`patches_per_image` needs a patch size (`patches`, e.g. 64x64)")
    fraction = file.get("test_fraction", test_fraction)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise AekitError(f"test fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    return {"source": source, "image_size": size_value(size), "model": given_model or s["model"],
            "config": config, "train": tr, "test_fraction": float(fraction),
            "patches": patch_size, "patches_per_image": per_image, "preset": preset, "chosen": chosen,
            **_table_columns(file, label_column=label_column, id_column=id_column)}


def _recipe(preset: dict, user: dict) -> dict:
    """The training options: the preset's under the user's (TOML file, then options), checked. A preset's length
    was chosen for its own dataset, so unless the user set one it becomes a minimum number of steps (``MIN_STEPS``)."""
    tr = {**preset, **user}
    if "min_steps" not in user:
        tr["min_steps"] = 0 if "epochs" in user or "time_limit" in user else max(tr.get("min_steps", 0), MIN_STEPS)
    if "disc_channels" in tr:
        tr["disc_channels"] = widths_value(tr["disc_channels"], "disc_channels")
    try:
        train_config_from_dict(tr)
    except (TypeError, ValueError) as e:
        raise AekitError(f"bad training option: {e}") from None
    return tr


def _table_columns(file: dict, **given) -> dict:
    """The label and id column names: the options given, else the TOML file's."""
    out = {}
    for key, value in given.items():
        value = value if value is not None else file.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise AekitError(f"`{key}` must be a column name, got {value!r}")
        out[key] = value
    return out


