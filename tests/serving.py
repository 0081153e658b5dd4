"""What the ``aekit serve`` tests share (imported as ``serving``: pytest puts tests/ on the path): a server over run
folders in a thread of the test process, plain HTTP requests and multipart forms, and the checks every page's test
makes in the browser."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import threading
import time

import numpy as np
import torch
from PIL import Image


class Base(str):
    """The server's URL, with what the fixture knew when it started it: ``port`` and ``before`` (the run folders'
    files, sizes and times, before it started)."""


def snapshot(folders) -> dict:
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for folder in folders for f in folder.rglob("*")}


@contextlib.contextmanager
def running_server(folders):
    """A server over ``folders`` on a free loopback port, in a thread; yields its ``Base`` URL."""
    from aekit.serve.server import make_server

    threads = torch.get_num_threads()
    before = snapshot(folders)
    uv, sock = make_server(list(folders), port=0)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    url = Base(f"http://127.0.0.1:{sock.getsockname()[1]}/")
    url.before, url.port = before, sock.getsockname()[1]
    try:
        yield url
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()
        torch.set_num_threads(threads)


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def multipart(fields: dict, files) -> tuple[bytes, str]:
    """A multipart form body and its content type; ``files``: {field: (name, bytes)} or [(field, name, bytes)]."""
    boundary = "aekit-test-boundary"
    listed = [(k, name, data) for k, (name, data) in files.items()] if isinstance(files, dict) else files
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
              for k, name, data in listed]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_form(server, path: str, fields: dict, files, headers: dict | None = None):
    body, kind = multipart(fields, files)
    return request(server, "POST", path, body, {"Content-Type": kind, **(headers or {})})


def post_image(server, path: str, image: bytes, name: str = "digit.png", headers: dict | None = None, **fields):
    return post_form(server, path, {"source": "upload", **fields}, {"image": (name, image)}, headers)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def pixels(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def stroke(page, selector: str = "#pad") -> None:
    """A '7' drawn with the mouse: across the top, then down to the bottom left."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 70, y + 60)
    page.mouse.down()
    page.mouse.move(x + 210, y + 60, steps=8)
    page.mouse.move(x + 120, y + 230, steps=12)
    page.mouse.up()


def only_local(page, server) -> None:
    """Chromium asked for nothing but this server's URLs and data:/blob: ones."""
    assert page.requested
    outside = [u for u in page.requested if not u.startswith((server, "data:", "blob:"))]
    assert not outside, outside
