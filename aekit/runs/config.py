"""``RunConfig``: a run folder's ``config.json`` as typed values (model, data, train, provenance, domains).

The document, as every aekit version has written it::

    {"aekit": "0.1.0",                      # the version that trained the run
     "model": "conv",                       # a name in aekit.models.MODELS
     "config": {...},                       # the model's config fields (flat)
     "data": {"source": ..., "image_size": [h, w] | null, "test_fraction": 0.1, "patches": [h, w] | null,
              "patches_per_image": n | null, "kind": "image" | "table", "origin": ..., "normalizer": {...},
              "init": {"run": ..., "fingerprint": ...},            # fine-tuned runs only
              "label_column": ..., "id_column": ...,               # CSV runs given them
              "columns": {"header", "features", "label_classes"},  # CSV runs (aekit.data.table.TableSchema)
              "domains": [{"name", "source", "origin", "train", "test"}, ...]},   # swap runs only
     "train": {...}}                        # TrainConfig's fields

Reading checks types and refuses what aekit did not write; unknown keys in ``data`` are kept, so a newer run's
config round-trips.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from aekit.data import Normalizer
from aekit.data.table import TableSchema
from aekit.errors import AekitError
from aekit.models.configs import check_domain_name

DATA_KEYS = ("source", "image_size", "test_fraction", "patches", "patches_per_image", "kind", "origin", "normalizer")


@dataclass(frozen=True)
class Domain:
    """One identity of a swap run: its name, where its images came from and how many it had."""

    name: str
    source: str
    origin: str | None = None
    train: int | None = None
    test: int | None = None


@dataclass(frozen=True)
class DataInfo:
    """How a run's data was read and scaled, so that evaluation and resume read it the same way."""

    source: str | None = None  # a dataset name, an absolute path, or "array" (trained from memory)
    image_size: tuple[int, int] | None = None  # images were resized to this
    test_fraction: float = 0.1  # test share for data without a test split
    patches: tuple[int, int] | None = None  # trained on random crops of this size
    patches_per_image: int | None = None
    kind: str | None = None  # "image" or "table"
    origin: str | None = None  # where the loader found the data
    normalizer: dict | None = None  # Normalizer.to_dict(): raw data <-> model space
    init: dict | None = None  # fine-tuned runs: {"run", "fingerprint"} of the weights training started from
    domains: tuple[Domain, ...] = ()  # swap runs: one entry per identity
    label_column: str | None = None  # a CSV's column of labels (not a feature)
    id_column: str | None = None  # a CSV's column naming its rows (not a feature)
    columns: dict | None = None  # a CSV's TableSchema.to_dict(): features, categories, fill values
    extra: dict = field(default_factory=dict)  # keys a newer aekit wrote, kept as they are

    @classmethod
    def from_dict(cls, d: dict, where: str | Path) -> DataInfo:
        """From a config.json "data" object; a value of the wrong kind is one ``AekitError`` naming it."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in d.items() if k in known and v is not None}
        for key, ok in _DATA_CHECKS.items():
            if key in values and not ok(values[key]):
                raise AekitError(f"{where}: data {key} {values[key]!r} is not what aekit writes there")
        for key in ("image_size", "patches"):
            if key in values:
                values[key] = tuple(values[key])
        values["domains"] = _domains(d.get("domains"), where) if "domains" in d else ()
        info = cls(**values, extra={k: v for k, v in d.items() if k not in known})
        if info.columns is not None:
            try:
                info.table()
            except AekitError as e:
                raise AekitError(f"{where}: {e}") from None
        return info

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in DATA_KEYS}
        out.update({k: list(v) for k in ("image_size", "patches") if (v := out[k]) is not None})
        if self.init is not None:
            out["init"] = self.init
        if self.domains:
            out["domains"] = [dataclasses.asdict(d) for d in self.domains]
        out.update({k: v for k in ("label_column", "id_column", "columns") if (v := getattr(self, k)) is not None})
        return {**out, **self.extra}

    def loader_options(self) -> dict:
        """``aekit.data.load_dataset``'s keyword arguments that read the data as the run did."""
        return {"image_size": self.image_size, "test_fraction": self.test_fraction, "patches": self.patches,
                "patches_per_image": self.patches_per_image, "label_column": self.label_column,
                "id_column": self.id_column, "columns": self.columns}

    def table(self) -> TableSchema | None:
        """How the run reads a CSV table's columns (None: it was not trained on one)."""
        if self.columns is None:
            return None
        return TableSchema.from_dict(self.columns, self.label_column, self.id_column)


def _size(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(type(v) is int and v > 0 for v in value)


_DATA_CHECKS = {  # how each typed "data" value must look (None is always allowed: "not set")
    "source": lambda v: isinstance(v, str), "origin": lambda v: isinstance(v, str),
    "kind": lambda v: v in ("image", "table"), "image_size": _size, "patches": _size,
    "test_fraction": lambda v: type(v) in (int, float) and 0 < v < 1,
    "patches_per_image": lambda v: type(v) is int and v > 0,
    "normalizer": lambda v: isinstance(v, dict), "init": lambda v: isinstance(v, dict),
    "label_column": lambda v: isinstance(v, str), "id_column": lambda v: isinstance(v, str),
    "columns": lambda v: isinstance(v, dict),
}


def _domains(listed, where) -> tuple[Domain, ...]:
    if not isinstance(listed, list) or not listed:
        raise AekitError(f"{where}: config.json has a malformed domain list")
    try:
        domains = tuple(Domain(str(d["name"]), str(d["source"]), d.get("origin"), d.get("train"), d.get("test"))
                        for d in listed)
        for d in domains:
            check_domain_name(d.name)
    except (KeyError, TypeError, AttributeError):
        raise AekitError(f"{where}: config.json has a malformed domain list") from None
    except ValueError as e:
        raise AekitError(f"{where}: {e}") from None
    return domains


@dataclass(frozen=True)
class RunConfig:
    """A run's ``config.json``: the model (``model`` name and its ``config`` fields), how its data was read
    (``data``), its training recipe (``train``) and the aekit version that wrote it."""

    model: str
    config: dict
    data: DataInfo = field(default_factory=DataInfo)
    train: dict = field(default_factory=dict)
    aekit: str | None = None

    @classmethod
    def from_dict(cls, d: dict, where: str | Path = "config.json") -> RunConfig:
        """From a config.json document that ``aekit.runs.files.read_run_config`` has checked."""
        return cls(d["model"], d["config"], DataInfo.from_dict(d.get("data") or {}, where), d.get("train") or {},
                   d.get("aekit"))

    def to_dict(self) -> dict:
        return {"aekit": self.aekit, "model": self.model, "config": self.config, "data": self.data.to_dict(),
                "train": self.train}

    @property
    def domains(self) -> tuple[str, ...]:
        """The identities of a swap run, in decoder order (empty for other runs)."""
        return tuple(d.name for d in self.data.domains)

    @property
    def provenance(self) -> dict:
        """Where the run came from: the aekit version that trained it and, if fine-tuned, the run it started from."""
        return {"aekit": self.aekit, **({"init": self.data.init} if self.data.init else {})}

    def normalizer(self) -> Normalizer:
        """How the run maps raw data into model space."""
        if not self.data.normalizer:
            raise AekitError("the run's config.json has no data normalisation")
        return Normalizer.from_dict(self.data.normalizer)
