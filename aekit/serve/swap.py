"""The swap page's API: a picture, its reconstruction by its own domain's decoder, and its swap into the chosen
domain. Every image the page shows or lets one download is written by ``aekit.runs.provenance.save_png``, the path
the command line's outputs take, so it carries aekit's provenance mark; the server writes it into a temporary
folder of its own, keeps the bytes in memory (the last ``KEEP``) and deletes the file."""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aekit.apps.swap import swap_images, swap_run
from aekit.runs.provenance import save_png
from aekit.serve.images import ServeError, data_url, png_url
from aekit.serve.inputs import form_picture, model_image, read_form
from aekit.serve.served import Served

KEEP = 64  # downloads kept in memory, the oldest dropped first


class Downloads:
    """Marked PNGs by token, the last ``KEEP`` of them, made in the server's own temporary folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def save(self, name: str, image: np.ndarray, mark: dict) -> tuple[str, bytes]:
        """``image`` written with ``mark`` by the CLI's save path; its token and bytes."""
        token = secrets.token_urlsafe(12)
        path = save_png(self.folder / f"{token}.png", image, mark)
        data = path.read_bytes()
        path.unlink()
        with self.lock:
            self.files[token] = (name, data)
            while len(self.files) > KEEP:
                self.files.popitem(last=False)
        return token, data

    def get(self, token: str) -> tuple[str, bytes]:
        with self.lock:
            if token not in self.files:
                raise ServeError(404, "no such download (the server keeps the last few only)")
            return self.files[token]


def swap_json(served: Served, downloads: Downloads, name: str, image: np.ndarray, drawing: bool, source: str,
              to: str) -> dict:
    """The picture as the run takes it, decoded by domain ``source`` (its reconstruction) and by ``to`` (the swap)."""
    run = served.run(name)
    swap_run(run)  # a 422 (through AekitError) unless it is a swap run
    x = model_image(run, image, drawing)
    (recon,), recon_mark = served.call(swap_images, run, x[None], source)
    (swapped,), swap_mark = served.call(swap_images, run, x[None], to)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    out = {"run": name, "source": source, "to": to}
    for key, picture, mark, file in (("reconstruction", recon, recon_mark, f"{stem}-{source}-to-{source}.png"),
                                     ("swap", swapped, swap_mark, f"{stem}-{source}-to-{to}.png")):
        token, data = downloads.save(file, picture, {**mark, "source_file": "served upload"})
        out[key] = {"image": data_url(data), "download": f"/api/download/{token}", "file": file}
    out["input"] = png_url(x)
    return out


def routes(served: Served, downloads: Downloads) -> list[Route]:
    async def swap(request):
        form = await read_form(request)
        image, drawing = await form_picture(request, form)
        name, source, to = (str(form.get(k, "")) for k in ("run", "from", "to"))
        return JSONResponse(await run_in_threadpool(swap_json, served, downloads, name, image, drawing, source, to))

    async def download(request):
        name, data = downloads.get(request.path_params["token"])
        return Response(data, media_type="image/png", headers={"content-disposition": f'attachment; filename="{name}"'})

    return [Route("/api/swap", swap, methods=["POST"]), Route("/api/download/{token}", download)]
