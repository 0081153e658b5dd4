"""The anomalies page's API: uploaded images (several) or a CSV table, scored by a run as ``aekit anomalies`` scores
them (``aekit.apps.anomaly``: the score the command line uses for the run, 1 - SSIM for images and the squared error
for table rows; a run trained on patches scores each image by its worst tile) and ranked, most anomalous first.

Images are taken as the reconstruct page takes uploads (resized to the model's size in its colour mode; a run trained
on patches takes them at their own size). A CSV is read through the run's own columns, as the command line reads it:
the upload is written into the server's temporary folder for that (never into a run folder) and deleted at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from aekit.apps.anomaly import anomaly_scores, resolve_metric, tile_scores
from aekit.apps.inputs import in_channels
from aekit.apps.patch_runs import patch_size
from aekit.apps.samples import run_samples
from aekit.data.dataset import TABLE
from aekit.errors import AekitError
from aekit.runs.run import Run
from aekit.serve.images import ServeError, png_url
from aekit.serve.inputs import form_files, model_image, read_form, upload_csv, upload_images
from aekit.serve.served import Served

MAX_FILES = 64  # images in one request
THUMB = 112  # the longest side of an image shown in the list


def ranked(names: list[str], scores: np.ndarray, extra: list[dict]) -> list[dict]:
    """Rows most anomalous first, as ``aekit anomalies`` ranks them (ties keep the input order)."""
    order = np.argsort(-scores, kind="stable")
    return [{"rank": r + 1, "name": names[i], "index": int(i), "score": float(scores[i]), **extra[i]}
            for r, i in enumerate(order)]


def _thumbnail(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) <= THUMB:
        return image
    scale = THUMB / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR), dtype=np.uint8)


def image_scores(served: Served, run: Run, images: list[np.ndarray]) -> tuple[np.ndarray, str, list[np.ndarray]]:
    """The images' scores, the score's name and each image as the run took it."""
    shape = tuple(run.model.config.input_shape)
    metric = resolve_metric("auto", shape)
    if patch_size(run):
        pictures = [in_channels(im, shape[0]) for im in images]
        scores = np.array([served.call(tile_scores, run, p, metric).max() for p in pictures])
    else:
        pictures = [model_image(run, im, False) for im in images]
        x = torch.from_numpy(run.normalizer.transform(np.stack(pictures)))
        scores = served.call(anomaly_scores, run.model, x, metric)
    return scores, metric, pictures


def table_scores(served: Served, run: Run, data: bytes, name: str, folder: Path) -> dict:
    """A CSV's rows scored and ranked; the CSV read through the run's columns from a file in ``folder``."""
    with tempfile.TemporaryDirectory(dir=folder) as temp:
        path = Path(temp) / "upload.csv"
        path.write_bytes(data)
        try:
            samples = run_samples(run, str(path))
        except AekitError as e:
            raise ServeError(422, str(e).replace(str(path), name)) from None
    shape = tuple(run.model.config.input_shape)
    x = run.normalizer.transform(samples.x.reshape(len(samples.x), -1), clip=False)
    if tuple(x.shape[1:]) != shape:
        raise ServeError(422, f"{name}: rows have {x.shape[1]} values, {run.path.name} takes {shape[0]}")
    metric = resolve_metric("auto", shape)
    scores = served.call(anomaly_scores, run.model, torch.from_numpy(np.ascontiguousarray(x)), metric)
    labels = samples.labels
    extra = [{} if labels is None else {"label": str(labels[i])} for i in range(len(scores))]
    return {"score": metric, "kind": "rows", "rows": ranked([str(i) for i in samples.ids], scores, extra)}


def anomalies_json(served: Served, name: str, uploads: list[tuple[str, np.ndarray]] | None, csv: bytes | None,
                   csv_name: str, folder: Path) -> dict:
    run = served.run(name)
    if run.domains:
        raise ServeError(422, f"{name} is a swap run; score images with a run of one domain")
    if run.normalizer.kind == TABLE:
        return {"run": name, **table_scores(served, run, csv, csv_name, folder)}
    names, images = [n for n, _ in uploads], [im for _, im in uploads]
    scores, metric, pictures = image_scores(served, run, images)
    extra = [{"image": png_url(_thumbnail(p))} for p in pictures]
    return {"run": name, "score": metric, "kind": "images", "rows": ranked(names, scores, extra)}


def routes(served: Served, folder: Path) -> list[Route]:
    async def anomalies(request):
        form = await read_form(request, max_files=MAX_FILES)
        name = str(form.get("run", ""))
        run, files = served.run(name), form_files(form, "files")
        uploads, csv, csv_name = None, None, ""
        if run.normalizer.kind == TABLE:
            if len(files) != 1 or not (files[0].filename or "").lower().endswith(".csv"):
                raise ServeError(415, f"{name} is a table run: upload one CSV file of its columns")
            csv, csv_name = await upload_csv(files[0]), files[0].filename
        else:
            uploads = await upload_images(files)
        return JSONResponse(await run_in_threadpool(anomalies_json, served, name, uploads, csv, csv_name, folder))

    return [Route("/api/anomalies", anomalies, methods=["POST"])]
