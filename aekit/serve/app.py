"""The Starlette app: the pages (static files of the package), the JSON API, and the guard in front of both."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from aekit.errors import AekitError
from aekit.serve import anomalies, compress, denoise, latent, reconstruct, swap
from aekit.serve.images import ServeError
from aekit.serve.security import Guard
from aekit.serve.served import Served

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PAGES = ("reconstruct", "denoise", "compress", "map", "swap", "anomalies")
MAX_BODY = 8 * 1024 * 1024  # bytes of one request


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _serve_error(request, exc: ServeError):
    return _error(exc.status, str(exc))


async def _aekit_error(request, exc: AekitError):  # the library refused the input: one line for the page
    return _error(422, str(exc))


async def _http_error(request, exc: HTTPException):
    return _error(exc.status_code, exc.detail)


async def _internal_error(request, exc: Exception):
    log.exception("internal error answering %s", request.url.path)
    return _error(500, f"internal error: {type(exc).__name__}")


def _page(name: str):
    async def page(request):
        return FileResponse(STATIC / f"{name}.html")

    return page


def build_app(served: Served, host: str = "127.0.0.1", max_body: int = MAX_BODY) -> Starlette:
    """The app for ``served``, answering requests addressed to ``host`` (and the loopback names)."""
    temp = tempfile.TemporaryDirectory(prefix="aekit-serve-")  # the server's own: swap downloads, uploaded CSVs
    downloads = swap.Downloads(Path(temp.name))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            temp.cleanup()

    async def runs(request):
        return JSONResponse({"runs": served.describe()})

    routes = [Route("/", _page("index")), *[Route(f"/{name}", _page(name)) for name in PAGES],
              Route("/api/runs", runs), *reconstruct.routes(served), *latent.routes(served),
              *swap.routes(served, downloads), *denoise.routes(served), *compress.routes(served),
              *anomalies.routes(served, Path(temp.name)), Mount("/static", StaticFiles(directory=STATIC), name="static")]
    handlers = {ServeError: _serve_error, AekitError: _aekit_error, HTTPException: _http_error,
                Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[Middleware(Guard, host=host, max_body=max_body)])
    app.state.served = served
    return app
