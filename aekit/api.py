"""The Python API, close to the article's Keras code: build, fit, encode, decode, reconstruct, save, load.

    ae = aekit.build("dense", code_size=32)      # the article's 784-128-32-128-784 model
    ae.fit(x_train, epochs=3)                    # x: uint8 images, or floats (images in [0, 1], or table rows)
    codes = ae.encode(x_test); x_hat = ae.decode(codes)
    ae.save("runs/mine"); ae = aekit.load("runs/mine")
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import torch

from aekit.apps.refine import refine_codes
from aekit.data import Normalizer
from aekit.errors import AekitError
from aekit.metrics.reconstruction import check_finite, reconstruction_metrics
from aekit.models import MODELS, Autoencoder, build_model, model_name
from aekit.models.inference import in_batches
from aekit.runs import files as ckpt
from aekit.runs.run import Run
from aekit.runs.writer import train
from aekit.training.config import TrainConfig
from aekit.training.contract import TrainResult
from aekit.training.devices import pick_device

log = logging.getLogger(__name__)


def normalizer_for_array(x: np.ndarray) -> Normalizer:
    """How a user's array maps into model space: uint8 images → /255 (uint8 rows (N, D), such as flattened images,
    too, as a table: their outputs come back as floats on the 0..255 scale); floats (any shape, read as flattened
    rows) in [0, 1] → unchanged; other floats → per-column min-max of this array."""
    if x.dtype == np.uint8:
        if x.ndim == 2:
            return Normalizer(kind="table", low=np.zeros(x.shape[1]), high=np.full(x.shape[1], 255.0))
        return Normalizer(kind="image", low=0.0, high=255.0)
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise AekitError("input must be a finite numeric array")
    flat = x.reshape(len(x), -1).astype(np.float64)
    if flat.min() >= 0 and flat.max() <= 1:
        return Normalizer(kind="table", low=np.zeros(flat.shape[1]), high=np.ones(flat.shape[1]))
    return Normalizer.columns(flat)


def _check_refine(refine) -> None:
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or refine < 0:
        raise AekitError(f"refine must be a whole number of steps, 0 or more, got {refine!r}")


class Model:
    """An autoencoder ready for use: the network, how raw data maps into its space, and where it runs."""

    def __init__(self, name: str = "dense", net: Autoencoder | None = None, normalizer: Normalizer | None = None,
                 data_info: dict | None = None, device: str | torch.device = "cpu", **config):
        self.name = name
        self.net = net
        self.normalizer = normalizer
        self.data_info = data_info or {}
        self.device = torch.device(device)
        self.history: list[dict] = []
        self.train_options: dict = {}  # the last fit's TrainConfig, recorded by save
        self._pending_config = config  # used when the input shape is only known at the first fit

    @property
    def config(self):
        """The model's config dataclass (None until built)."""
        return None if self.net is None else self.net.config

    # --- data in and out -------------------------------------------------------------------------------------
    def _to_model_space(self, x, fitting: bool = False) -> torch.Tensor:
        """``x`` in model space. Only ``fit`` decides the data scaling: a call before it (encode on an untrained
        model) scales this batch alone and keeps nothing."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0:
            raise AekitError(f"expected a non-empty batch of samples, got an array of shape {x.shape}")
        norm = self.normalizer or normalizer_for_array(x)
        if fitting:
            self.normalizer = norm
        if norm.kind == "image":
            if x.dtype != np.uint8:
                raise AekitError("this model works on uint8 images; pass uint8 pixels")
            xt = norm.transform(x)
        else:
            xt = norm.transform(x.reshape(len(x), -1), clip=False)
            outside = float(((xt < -0.01) | (xt > 1.01)).mean())  # beyond 1% of a column's fitted range
            if outside and not fitting:
                log.warning("%.3g%% of the values lie outside the range the model was fitted on; they are clipped "
                            "to it (the same units as fit's data?)", 100 * outside)
            xt = np.clip(xt, 0.0, 1.0)
        shape = tuple(self.net.config.input_shape) if self.net is not None else None
        if shape is not None and tuple(xt.shape[1:]) != shape:
            if math.prod(xt.shape[1:]) != math.prod(shape):
                raise AekitError(f"samples have shape {tuple(x.shape[1:])}, the model expects {shape}")
            xt = xt.reshape(len(xt), *shape)
        if xt.dtype.kind == "f" and not np.isfinite(xt).all():
            raise AekitError("the samples hold NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(xt, dtype=np.float32))

    def _from_model_space(self, y: torch.Tensor, like_shape: tuple | None = None) -> np.ndarray:
        y = y.detach().cpu().numpy()
        if self.normalizer is None:
            return y
        if self.normalizer.kind == "image":
            return self.normalizer.inverse(y)
        out = self.normalizer.inverse(y.reshape(len(y), -1))
        return out.reshape(len(y), *like_shape) if like_shape else out

    def _batches(self, xt: torch.Tensor, fn, batch_size: int) -> torch.Tensor:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise AekitError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
        self.net.eval()
        return in_batches(fn, xt, batch_size, self.device)

    def _require_built(self) -> None:
        if self.net is None:
            raise AekitError("the model has not been built yet: call fit() first or pass input_shape to build()")

    # --- the Keras-like surface ------------------------------------------------------------------------------
    def fit(self, x, epochs: float = 3, batch_size: int = 32, *, validation_split: float = 0.0,
            verbose: bool | str = "auto", run_dir: str | Path | None = None, **options) -> TrainResult:
        """Train on ``x`` (the input is its own target); options are TrainConfig fields (lr, schedule, seed, ...).
        ``verbose``: a progress bar; "auto" (as in Keras) shows one in a terminal or notebook, not in piped output."""
        auto = isinstance(verbose, str) and verbose == "auto"
        if not auto and not isinstance(verbose, (bool, int)):
            raise AekitError(f"verbose must be True, False or 'auto', got {verbose!r}")
        xt = self._to_model_space(x, fitting=True)
        if self.net is None:
            self.net = self._build(tuple(xt.shape[1:]), options.get("seed"))
        try:
            cfg = TrainConfig(epochs=epochs, batch_size=batch_size, val_fraction=validation_split, **options)
        except (TypeError, ValueError) as e:
            raise AekitError(f"bad training option: {e}") from None
        self.device = pick_device(cfg.device)
        self.data_info = {**self.data_info, "normalizer": self.normalizer.to_dict()}
        self.data_info.setdefault("source", "array")
        # refuses to overwrite an existing run; a failure leaves no half-written run behind
        with ckpt.new_run_dir(run_dir, advice="pass another run_dir") if run_dir is not None else \
                contextlib.nullcontext():
            result = train(self.net, xt, cfg, run_dir, data_info=self.data_info,
                           progress=None if auto else bool(verbose))
        self.history.extend(result.history)
        self.train_options = dataclasses.asdict(cfg)
        self.net.eval()
        return result

    def _build(self, input_shape: tuple[int, ...], seed) -> Autoencoder:
        """The network for inputs of ``input_shape``; a ``seed`` (fit's) seeds its initial weights too, without
        touching the caller's random state."""
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            try:
                return build_model(self.name, {"input_shape": input_shape, **self._pending_config})
            except (TypeError, ValueError) as e:
                raise AekitError(f"bad {self.name} config: {e}") from None

    def encode(self, x, batch_size: int = 1024, refine: int = 0) -> np.ndarray:
        """Codes for raw inputs: an array (N, code_size) (or the model's code shape). ``refine``: steps of
        encoder-side refinement towards a better reconstruction (``aekit.apps.refine``: slower, closer codes)."""
        self._require_built()
        _check_refine(refine)
        xt = self._to_model_space(x)
        if refine:
            return refine_codes(self.net, xt, steps=refine, batch_size=batch_size).cpu().numpy()
        return self._batches(xt, self.net.encode, batch_size).numpy()

    def decode(self, z, batch_size: int = 1024) -> np.ndarray:
        """Raw-unit outputs (uint8 images for image models) for codes ``z``."""
        self._require_built()
        try:
            z = np.asarray(z, dtype=np.float32)
        except (TypeError, ValueError):
            raise AekitError("codes must be a numeric array") from None
        if z.size == 0 or not np.isfinite(z).all():
            raise AekitError(f"codes must be a non-empty array of finite numbers, got shape {z.shape}")
        zt = torch.from_numpy(z)
        with torch.no_grad():  # one code of the model's own shape: (code_size,), or (C, h, w) for a spatial code
            probe = torch.zeros(1, *self.net.config.input_shape, device=self.device)
            want = tuple(self.net.eval().encode(probe).shape[1:])
        if zt.ndim != len(want) + 1 or tuple(zt.shape[1:]) != want:
            raise AekitError(f"codes have shape {tuple(zt.shape)}, the model decodes (N, {', '.join(map(str, want))})")
        return self._from_model_space(self._batches(zt, self.net.decode, batch_size))

    def reconstruct(self, x, batch_size: int = 1024, refine: int = 0) -> np.ndarray:
        """Encode then decode: raw-unit reconstructions with the same shape as ``x`` (``refine``: as ``encode``)."""
        self._require_built()
        _check_refine(refine)
        x = np.asarray(x)
        xt = self._to_model_space(x)
        if refine:
            z = refine_codes(self.net, xt, steps=refine, batch_size=batch_size)
            y = self._batches(z, self.net.decode, batch_size)
        else:
            y = self._batches(xt, lambda b: self.net(b)["x_hat"], batch_size)
        return self._from_model_space(y, like_shape=x.shape[1:])

    def evaluate(self, x, batch_size: int = 1024) -> dict[str, float]:
        """Reconstruction metrics in model space: bce (for sigmoid outputs), mse, psnr, and ssim for images."""
        self._require_built()
        xt = self._to_model_space(x)
        y = self._batches(xt, lambda b: self.net(b)["x_hat"], batch_size)
        metrics = reconstruction_metrics(xt, y, with_bce=self.net.config.output_activation == "sigmoid")
        return check_finite(metrics, "evaluate")

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write a run folder (config.json + model.safetensors); refuses to replace a run unless ``force`` (which
        replaces all of the old run's files), and a folder holding other files in any case."""
        self._require_built()
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise AekitError(f"{path} is a file; save writes a run folder")
        data = {**self.data_info, "normalizer": self.normalizer.to_dict() if self.normalizer else None}
        with ckpt.new_run_dir(path, force, advice="pass force=True to replace it"):
            ckpt.save_model(path, self.net, ckpt.run_config(self.net, data, self.train_options))
        return path

    def __repr__(self) -> str:
        if self.net is None:
            return f"Model({self.name!r}, unbuilt, {self._pending_config})"
        n = sum(p.numel() for p in self.net.parameters())
        return f"Model({model_name(self.net)!r}, {n:,} parameters, {dataclasses.asdict(self.net.config)})"


def build(name: str = "dense", **config) -> Model:
    """A new model by table name; config fields as keywords (input_shape may wait until the first fit)."""
    if name not in MODELS:
        raise AekitError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    unknown = sorted(set(config) - {f.name for f in dataclasses.fields(MODELS[name][0])})
    if unknown:  # now, not at the first fit
        raise AekitError(f"bad {name} config: unknown fields {unknown}")
    if "input_shape" in config:
        try:
            return Model(name, build_model(name, config))
        except (TypeError, ValueError) as e:
            raise AekitError(f"bad {name} config: {e}") from None
    return Model(name, **config)


def load(run: str | Path, device: str = "cpu") -> Model:
    """The ready model of a run folder (never unpickles)."""
    r = Run.open(run, device)
    norm = r.normalizer if r.config.data.normalizer else None
    m = Model(r.name, r.model, norm, r.config.data.to_dict(), r.device)
    m.history = r.history()
    return m
