"""Running the app: the runs opened, torch's threads capped, the port bound (a port in use is one clear line),
and uvicorn serving on that socket."""

from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path

from aekit.errors import AekitError
from aekit.runs.run import Run
from aekit.serve.served import Served, limit_threads

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; an ``AekitError`` when the port is taken or the host is not
    this machine's."""
    if not 0 <= port <= 65535:
        raise AekitError(f"`port` must be from 0 to 65535, got {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as e:
        raise AekitError(f"cannot serve on {host}: {e.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise AekitError(f"port {port} on {host} is in use (choose another with `port`)") from None
        raise AekitError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def make_server(runs: list[Run | str | Path], host: str = "127.0.0.1", port: int = 8000,
                threads: int | None = None):
    """A uvicorn server for ``runs`` and the socket it will serve on (bound now: ``sock.getsockname()`` says the
    port when ``port`` is 0). ``server.run(sockets=[sock])`` serves until interrupted."""
    import uvicorn

    from aekit.serve.app import build_app

    if not runs:
        raise AekitError("name at least one run to serve")
    limit_threads(threads)
    served = Served(runs)
    sock = bind(host, port)
    config = uvicorn.Config(build_app(served, host), log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(config), sock


def serve(runs: list[Run | str | Path], host: str = "127.0.0.1", port: int = 8000, threads: int | None = None,
          ready=None) -> None:
    """Serve ``runs`` at http://host:port/ until interrupted; ``ready(url)`` is called once it listens."""
    server, sock = make_server(runs, host, port, threads)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    if ready:
        ready(f"http://{shown}:{bound_port}/")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
