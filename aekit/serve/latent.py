"""The latent map page's API: the test set's map, the image decoded at any point of it, the test image nearest a
point, interpolation between two test images, and samples from generative runs."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from aekit.apps.latent_map import LatentMap, latent_map
from aekit.serve.images import ServeError, png_url
from aekit.serve.inputs import query_float, query_int
from aekit.serve.served import Served

MAX_SAMPLES = 64


def the_map(served: Served, name: str) -> LatentMap:
    """The run's map, made on first use and kept in memory."""
    run = served.run(name)
    if run.normalizer.kind != "image":
        raise ServeError(422, f"{name} is a table run; the latent map draws images")
    return served.cached(("map", name), lambda: latent_map(run))


def map_json(m: LatentMap) -> dict:
    labels = None if m.labels is None else [str(v) for v in m.labels.tolist()]
    return {"projection": m.projection, "pca": m.components is not None, "code_width": int(m.codes.shape[1]),
            "points": m.points.tolist(), "labels": labels}


def samples_json(served: Served, name: str, n: int, seed: int) -> dict:
    from aekit.apps.generate import sample_images

    run = served.run(name)
    if not hasattr(run.model, "sample"):
        raise ServeError(422, f"{name} is a {run.name} run with no prior to sample (train a VAE: --model vae)")
    images, mark = served.call(sample_images, run, n, "prior", seed)
    return {"images": [png_url(im) for im in images], "sampler": mark["sampler"], "seed": seed}


def routes(served: Served) -> list[Route]:
    async def map_points(request):
        m = await run_in_threadpool(the_map, served, request.path_params["run"])
        return JSONResponse(map_json(m))

    async def decode(request):
        point = query_float(request, "x"), query_float(request, "y")
        m = await run_in_threadpool(the_map, served, request.path_params["run"])
        image = await run_in_threadpool(served.call, m.decode_at, [point])
        return JSONResponse({"x": point[0], "y": point[1], "image": png_url(image[0])})

    async def nearest(request):
        point = query_float(request, "x"), query_float(request, "y")
        m = await run_in_threadpool(the_map, served, request.path_params["run"])
        i = m.nearest(point)
        return JSONResponse({"index": i, "label": None if m.labels is None else str(m.labels[i]),
                             "x": float(m.points[i, 0]), "y": float(m.points[i, 1]), "image": png_url(m.images[i])})

    async def interpolate(request):
        m = await run_in_threadpool(the_map, served, request.path_params["run"])
        a, b = (query_int(request, k, 0, len(m.codes) - 1) for k in ("a", "b"))
        t = query_float(request, "t", 0.0, 1.0)
        image = await run_in_threadpool(served.call, m.interpolate, a, b, t)
        return JSONResponse({"a": a, "b": b, "t": t, "image": png_url(image)})

    async def samples(request):
        n, seed = query_int(request, "n", 1, MAX_SAMPLES, 16), query_int(request, "seed", 0, 2**32 - 1, 0)
        return JSONResponse(await run_in_threadpool(samples_json, served, request.path_params["run"], n, seed))

    return [Route("/api/map/{run}", map_points), Route("/api/map/{run}/decode", decode),
            Route("/api/map/{run}/nearest", nearest), Route("/api/map/{run}/interpolate", interpolate),
            Route("/api/samples/{run}", samples)]
