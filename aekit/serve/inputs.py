"""A request's picture: a drawing from the page's canvas or an uploaded image, and how each run takes it."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image
from starlette.datastructures import UploadFile

from aekit.apps.drawing import prepare_drawing
from aekit.apps.inputs import in_channels
from aekit.runs.run import Run
from aekit.serve.images import ServeError, decode_image

DRAWING, UPLOAD = "drawing", "upload"


async def read_form(request, max_files: int = 1):
    """The request's multipart form, limited to ``max_files`` files; a 400 for anything else."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ServeError(415, "send the image as multipart/form-data (the page's form)")
    try:
        return await request.form(max_files=max_files, max_fields=20)
    except ServeError:
        raise
    except Exception as e:  # Starlette's MultiPartException and its parser's errors: a malformed form
        raise ServeError(400, f"the form could not be read ({e})") from None


async def form_picture(request, form=None) -> tuple[np.ndarray, bool]:
    """The form's ``image`` file as uint8 RGB (H, W, 3), and whether it is a drawing (``source`` = drawing)."""
    form = form if form is not None else await read_form(request)
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise ServeError(400, "no image: draw a digit or choose an image file")
    source = form.get("source", UPLOAD)
    if source not in (DRAWING, UPLOAD):
        raise ServeError(400, f"`source` must be {DRAWING!r} or {UPLOAD!r}")
    data = await upload.read()
    return decode_image(data, upload.filename or "the upload"), source == DRAWING


def model_image(run: Run, image: np.ndarray, drawing: bool) -> np.ndarray:
    """``image`` (uint8 RGB) as run ``run`` takes it, uint8 (h, w[, c]): a drawing prepared as the run's data was
    (``aekit.apps.drawing``), an upload resized to the model's size in its colour mode."""
    shape = tuple(run.model.config.input_shape)
    if len(shape) != 3:
        raise ServeError(422, f"{run.path.name} is a table run; it takes rows, not images")
    if drawing:
        return prepare_drawing(image, shape)
    c, h, w = shape
    im = Image.fromarray(in_channels(image, c))
    return np.asarray(im if im.size == (w, h) else im.resize((w, h), Image.BILINEAR), dtype=np.uint8)


def to_model(run: Run, image: np.ndarray) -> torch.Tensor:
    """One uint8 image (h, w[, c]) as a model-space batch (1, C, H, W)."""
    return torch.from_numpy(run.normalizer.transform(image[None]))


def to_pixels(run: Run, x: torch.Tensor) -> np.ndarray:
    """A model-space batch of one (1, C, H, W) as uint8 (H, W[, C])."""
    return run.normalizer.inverse(x.clamp(0, 1).numpy())[0]


def query_float(request, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite number from the query string; a 400 otherwise."""
    try:
        value = float(request.query_params[name])
    except (KeyError, ValueError):
        raise ServeError(400, f"`{name}` must be a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ServeError(400, f"`{name}` must be a finite number from {low} to {high}")
    return value


def query_int(request, name: str, low: int, high: int, default: int | None = None) -> int:
    """A whole number from ``low`` to ``high`` from the query string; a 400 otherwise."""
    text = request.query_params.get(name)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit() or not low <= int(text) <= high:
        raise ServeError(400, f"`{name}` must be a whole number from {low} to {high}")
    return int(text)
