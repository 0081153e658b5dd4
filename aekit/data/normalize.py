"""Map dataset arrays to the model's float32 [0, 1] channel-first space and back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aekit.data.dataset import IMAGE, TABLE, Dataset
from aekit.errors import AekitError


def _as_bound(value: Any, kind: str, name: str) -> np.ndarray | float:
    """Validate one saved bound: a number for images, a list of numbers for tables."""
    if kind == IMAGE:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise AekitError(f"normalizer '{name}' must be a finite number for images, got {value!r}")
        return float(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AekitError(f"normalizer '{name}' must be a list of numbers") from None
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise AekitError(f"normalizer '{name}' must be a non-empty list of finite numbers")
    return arr


@dataclass
class Normalizer:
    """Affine scaling (x - low) / (high - low) between dataset units and model space."""

    kind: str
    low: np.ndarray | float
    high: np.ndarray | float

    @classmethod
    def fit(cls, ds: Dataset) -> Normalizer:
        """Fixed 0..255 for images; per-column training min/max for tables."""
        if ds.kind == IMAGE:
            return cls(IMAGE, 0.0, 255.0)
        return cls.columns(ds.x_train)

    @classmethod
    def columns(cls, rows: np.ndarray) -> Normalizer:
        """Per-column min-max of table rows (N, D) into [0, 1]; a constant column gets a span of 1."""
        low = rows.min(axis=0).astype(np.float64)
        high = rows.max(axis=0).astype(np.float64)
        return cls(TABLE, low, np.where(high > low, high, low + 1.0))

    def to_dict(self) -> dict:
        """JSON-serialisable form (arrays become lists)."""

        def plain(v: np.ndarray | float) -> list[float] | float:
            return np.asarray(v, dtype=np.float64).tolist() if isinstance(v, np.ndarray) else float(v)

        return {"kind": self.kind, "low": plain(self.low), "high": plain(self.high)}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        """Rebuild from to_dict() output, validating every field."""
        if not isinstance(d, dict) or d.get("kind") not in (IMAGE, TABLE):
            raise AekitError("normalizer settings are invalid: 'kind' must be 'image' or 'table'")
        kind = d["kind"]
        low, high = _as_bound(d.get("low"), kind, "low"), _as_bound(d.get("high"), kind, "high")
        if np.shape(low) != np.shape(high):
            raise AekitError("normalizer 'low' and 'high' have different lengths")
        if not np.all(np.asarray(high) > np.asarray(low)):
            raise AekitError("normalizer 'high' must be greater than 'low' everywhere")
        return cls(kind, low, high)

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        """low and span as float64 arrays."""
        low = np.asarray(self.low, dtype=np.float64)
        return low, np.asarray(self.high, dtype=np.float64) - low

    def transform(self, x: np.ndarray, clip: bool = True) -> np.ndarray:
        """Dataset units -> float32 model space; images become (N, C, H, W). Table values outside the range the
        scaling was fitted on are clipped to it unless ``clip`` is False (anomaly scores: an out-of-range value is
        the anomaly, and clipping would hide it)."""
        low, span = self._scale()
        if self.kind == IMAGE:
            if x.ndim == 3:
                x = x[:, None, :, :]
            elif x.ndim == 4:
                x = x.transpose(0, 3, 1, 2)
            else:
                raise AekitError(f"expected images shaped (N,H,W) or (N,H,W,C), got {x.shape}")
            return ((x.astype(np.float32) - np.float32(low)) / np.float32(span)).astype(np.float32)
        if x.ndim != 2 or x.shape[1] != low.size:
            raise AekitError(f"expected a table shaped (N, {low.size}), got {x.shape}")
        z = (x.astype(np.float64) - low) / span
        return (np.clip(z, 0.0, 1.0) if clip else z).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Model space -> dataset units; images become uint8 (N, H, W[, C])."""
        low, span = self._scale()
        if self.kind == IMAGE:
            if x.ndim != 4:
                raise AekitError(f"expected model-space images shaped (N,C,H,W), got {x.shape}")
            x = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)
            return np.clip(np.rint(x.astype(np.float64) * span + low), 0, 255).astype(np.uint8)
        if x.ndim != 2 or x.shape[1] != low.size:
            raise AekitError(f"expected a model-space table shaped (N, {low.size}), got {x.shape}")
        return (x.astype(np.float64) * span + low).astype(np.float32)
