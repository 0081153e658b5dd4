"""The reconstruct page's API: one picture, reconstructed by every served image run, with MSE and SSIM."""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from aekit.errors import AekitError
from aekit.metrics.reconstruction import mse, ssim
from aekit.serve.images import ServeError, png_url
from aekit.serve.inputs import form_picture, model_image, to_model, to_pixels
from aekit.serve.served import Served


def reconstruct_all(served: Served, image: np.ndarray, drawing: bool) -> list[dict]:
    """For each image run: the picture as it takes it, its reconstruction, and their MSE and SSIM (model space)."""
    results = []
    for name, run in served.runs.items():
        if run.normalizer.kind != "image":
            continue
        try:
            x = to_model(run, model_image(run, image, drawing))
            x_hat = served.call(run.reconstruct, x).clamp(0, 1)
        except (AekitError, ServeError) as e:
            results.append({"run": name, "error": str(e)})
            continue
        results.append({"run": name, "model": run.name, "code_size": getattr(run.model.config, "code_size", None),
                        "input": png_url(to_pixels(run, x)), "output": png_url(to_pixels(run, x_hat)),
                        "mse": mse(x, x_hat), "ssim": ssim(x, x_hat)})
    return results


def routes(served: Served) -> list[Route]:
    async def reconstruct(request):
        image, drawing = await form_picture(request)
        return JSONResponse({"results": await run_in_threadpool(reconstruct_all, served, image, drawing)})

    return [Route("/api/reconstruct", reconstruct, methods=["POST"])]
