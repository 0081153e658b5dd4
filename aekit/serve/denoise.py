"""The denoise page's API: a picture, noise of a chosen kind and strength added to it (``aekit.training.noise``, the
noise a denoising run is trained on, seeded so that the page's noisy image can be made again), and the noisy picture
cleaned by a denoising run (``aekit.apps.denoise``); PSNR of the noisy and the denoised picture against the clean."""

from __future__ import annotations

import secrets

import numpy as np
import torch
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from aekit.apps.denoise import denoise_array
from aekit.metrics.reconstruction import psnr
from aekit.runs.run import Run
from aekit.serve.images import ServeError, png_url
from aekit.serve.inputs import form_choice, form_number, form_picture, model_image, read_form, to_model, to_pixels
from aekit.serve.served import Served
from aekit.training.config import NOISES
from aekit.training.noise import corrupt

KINDS = tuple(k for k in NOISES if k != "none")  # the kinds ``corrupt`` adds
MAX_SEED = 2**31 - 1


def noisy_pixels(run: Run, clean: np.ndarray, kind: str, strength: float, seed: int) -> np.ndarray:
    """``clean`` (uint8, as the run takes it) corrupted in model space as the run's training corrupts its inputs,
    drawing from a generator seeded with ``seed``; back in pixels (uint8)."""
    x = to_model(run, clean)
    return to_pixels(run, corrupt(x, kind, strength, torch.Generator().manual_seed(seed)))


def _psnr(clean: np.ndarray, other: np.ndarray) -> float:
    return psnr(clean[None] / 255.0, other[None] / 255.0)


def denoise_json(served: Served, name: str, image: np.ndarray, drawing: bool, kind: str, strength: float,
                 seed: int) -> dict:
    """The picture as the run takes it, with noise added, and the noisy picture denoised by the run."""
    run = served.run(name)
    noise = run.config.train.get("noise", "none")
    if noise == "none":
        raise ServeError(422, f"{name} was not trained to denoise (train one with --noise gaussian)")
    clean = model_image(run, image, drawing)
    noisy = noisy_pixels(run, clean, kind, strength, seed)
    denoised = served.call(denoise_array, run.model, run.normalizer, noisy[None])[0]
    return {"run": name, "noise": kind, "strength": strength, "seed": seed, "trained_on": noise,
            "clean": png_url(clean), "noisy": png_url(noisy), "denoised": png_url(denoised),
            "psnr_noisy": _psnr(clean, noisy), "psnr_denoised": _psnr(clean, denoised)}


def routes(served: Served) -> list[Route]:
    async def kinds(request):
        return JSONResponse({"kinds": list(KINDS)})

    async def denoise(request):
        form = await read_form(request)
        image, drawing = await form_picture(request, form)
        kind = form_choice(form, "noise", KINDS)
        strength = form_number(form, "strength", 0.0, 1.0)
        seed = form_number(form, "seed", 0, MAX_SEED, default=secrets.randbelow(MAX_SEED), whole=True)
        name = str(form.get("run", ""))
        return JSONResponse(await run_in_threadpool(denoise_json, served, name, image, drawing, kind, strength, seed))

    return [Route("/api/noises", kinds), Route("/api/denoise", denoise, methods=["POST"])]
