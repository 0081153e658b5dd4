"""The compress page's API: a picture coded by a compression run at each of its quality levels (``aekit.apps.compress``:
the .aek file's size in bytes and its decoded image), each beside the JPEG and the WebP file of about the same size:
the highest quality whose file is no larger (Pillow; every quality is tried, since a file's size does not always grow
with its quality). A run trained on whole images codes the picture as it takes it (at its model's size); a run trained
on patches codes an upload at its own size, in tiles, scaled down first to fit ``MAX_SIDE``."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from aekit.apps.compress import TILES, Codec, coding, compress_images, decompress_bytes, open_codec
from aekit.apps.inputs import in_channels
from aekit.metrics.reconstruction import psnr
from aekit.runs.run import Run
from aekit.serve.images import png_url
from aekit.serve.inputs import form_picture, model_image, read_form
from aekit.serve.served import Served

MAX_SIDE = 128  # a tiled run's picture is scaled down to this side at most (every JPEG and WebP quality is tried)
# Pillow's format, its qualities from the highest, and its options (as benchmarks/compress.py encodes them)
FORMATS = {"jpeg": ("JPEG", range(95, 0, -1), {"optimize": True}),
           "webp": ("WEBP", range(100, -1, -1), {"method": 6})}


def pillow_file(image: np.ndarray, fmt: str, quality: int) -> bytes:
    """uint8 (H, W[, C]) as a ``fmt`` ("jpeg", "webp") file at ``quality``."""
    name, _, options = FORMATS[fmt]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=name, quality=quality, **options)
    return buf.getvalue()


def pillow_sizes(image: np.ndarray, fmt: str) -> dict[int, int]:
    """The file size of ``image`` in ``fmt`` at every quality."""
    return {q: len(pillow_file(image, fmt, q)) for q in FORMATS[fmt][1]}


def at_most(sizes: dict[int, int], limit: int) -> tuple[int, bool]:
    """The highest quality whose file is at most ``limit`` bytes, and True; when none is, the quality of the
    smallest file (the highest of equals) and False."""
    fitting = [q for q, size in sizes.items() if size <= limit]
    if fitting:
        return max(fitting), True
    return min(sizes, key=lambda q: (sizes[q], -q)), False


def _decoded(data: bytes, channels: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return in_channels(np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8), channels)


def _psnr(picture: np.ndarray, decoded: np.ndarray) -> float:
    return psnr(picture[None] / 255.0, decoded[None] / 255.0)


def _pillow_json(picture: np.ndarray, fmt: str, sizes: dict[int, int], limit: int) -> dict:
    quality, fits = at_most(sizes, limit)
    decoded = _decoded(pillow_file(picture, fmt, quality), 1 if picture.ndim == 2 else 3)
    return {"quality": quality, "bytes": sizes[quality], "fits": fits, "image": png_url(decoded),
            "psnr": _psnr(picture, decoded)}


def the_picture(run: Run, image: np.ndarray, drawing: bool, tiles: bool) -> np.ndarray:
    """What the page codes: the picture as the run takes it, or for a tiled run an upload at its own size (in the
    run's colour mode), scaled down to ``MAX_SIDE`` at most."""
    if drawing or not tiles:
        return model_image(run, image, drawing)
    picture = in_channels(image, run.model.config.input_shape[0])
    h, w = picture.shape[:2]
    if max(h, w) > MAX_SIDE:
        scale = MAX_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        picture = np.asarray(Image.fromarray(picture).resize(size, Image.BICUBIC), dtype=np.uint8)
    return picture


def compress_json(served: Served, name: str, image: np.ndarray, drawing: bool) -> dict:
    """The picture, and at each quality level its .aek size and decoded image beside JPEG's and WebP's."""
    run = served.run(name)
    codec: Codec = served.cached(("codec", name), lambda: open_codec(run))  # a 422 unless a compression run
    tiles = coding(run)[0] == TILES
    picture = the_picture(run, image, drawing, tiles)
    sizes = {fmt: pillow_sizes(picture, fmt) for fmt in FORMATS}
    levels = []
    for level in range(codec.model.levels):
        (data,) = served.call(compress_images, codec, [picture], level, tiles=tiles)
        decoded = served.call(decompress_bytes, codec, data)
        levels.append({"level": level, "bytes": len(data), "image": png_url(decoded), "psnr": _psnr(picture, decoded),
                       **{fmt: _pillow_json(picture, fmt, sizes[fmt], len(data)) for fmt in FORMATS}})
    return {"run": name, "coding": "tiles" if tiles else "whole", "height": picture.shape[0],
            "width": picture.shape[1], "input": png_url(picture), "levels": levels}


def routes(served: Served) -> list[Route]:
    async def compress(request):
        form = await read_form(request)
        image, drawing = await form_picture(request, form)
        name = str(form.get("run", ""))
        return JSONResponse(await run_in_threadpool(compress_json, served, name, image, drawing))

    return [Route("/api/compress", compress, methods=["POST"])]
