"""A request's picture: a drawing from the page's canvas or an uploaded image, and how each run takes it."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import torch
from PIL import Image
from starlette.datastructures import UploadFile

from aekit.apps.drawing import prepare_drawing
from aekit.apps.inputs import in_channels
from aekit.runs.run import Run
from aekit.serve.images import MAX_PIXELS, ServeError, decode_image

DRAWING, UPLOAD = "drawing", "upload"
MAX_ROWS = 10_000  # data rows of an uploaded CSV


async def read_form(request, max_files: int = 1):
    """The request's multipart form, limited to ``max_files`` files; a 400 for anything else."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ServeError(415, "send the image as multipart/form-data (the page's form)")
    try:
        return await request.form(max_files=max_files, max_fields=20)
    except ServeError:
        raise
    except Exception as e:  # Starlette's MultiPartException and its parser's errors: a malformed form
        if "too many files" in str(e).lower():
            raise ServeError(413, f"send at most {max_files} files at once") from None
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


def form_files(form, field: str) -> list[UploadFile]:
    """The form's files under ``field``, at least one; a 400 for none."""
    files = [f for f in form.getlist(field) if isinstance(f, UploadFile)]
    if not files:
        raise ServeError(400, "no file: choose one or more files")
    return files


async def upload_images(files: list[UploadFile], max_pixels: int = MAX_PIXELS) -> list[tuple[str, np.ndarray]]:
    """Each uploaded image's name and pixels (uint8 RGB), refused with a 415 when one is no image and with a 413
    once all of them together pass ``max_pixels``."""
    images, total = [], 0
    for i, upload in enumerate(files):
        name = upload.filename or f"upload {i + 1}"
        image = decode_image(await upload.read(), name)
        total += image.shape[0] * image.shape[1]
        if total > max_pixels:
            raise ServeError(413, f"the images hold more than {max_pixels:,} pixels together; send fewer or smaller")
        images.append((name, image))
    return images


async def upload_csv(upload: UploadFile, max_rows: int = MAX_ROWS) -> bytes:
    """An uploaded CSV file's bytes: a 415 unless it is UTF-8 text, a 413 past ``max_rows`` rows."""
    name = upload.filename or "the upload"
    data = await upload.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServeError(415, f"{name} is not a CSV file (not UTF-8 text)") from None
    if "\0" in text:
        raise ServeError(415, f"{name} is not a CSV file (it holds binary data)")
    try:
        rows = sum(1 for row in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in row))
    except csv.Error as e:
        raise ServeError(415, f"{name} is not a CSV file aekit can read ({e})") from None
    if rows > max_rows + 1:  # the header row is not a data row
        raise ServeError(413, f"{name} has {rows:,} rows; the limit is {max_rows:,}")
    return data


def form_choice(form, name: str, choices, default: str | None = None) -> str:
    """One of ``choices`` from the form; a 400 otherwise."""
    value = form.get(name, default)
    if value not in choices:
        raise ServeError(400, f"`{name}` must be one of {', '.join(map(str, choices))}")
    return value


def form_number(form, name: str, low: float, high: float, default: float | None = None, whole: bool = False):
    """A finite number from ``low`` to ``high`` from the form (``whole``: an int); a 400 otherwise."""
    text = form.get(name)
    if (text is None or text == "") and default is not None:
        return default
    try:
        value = int(text) if whole else float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        kind = "whole number" if whole else "number"
        raise ServeError(400, f"`{name}` must be a {kind} from {low} to {high}")
    return value
