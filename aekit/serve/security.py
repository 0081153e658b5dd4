"""What keeps a local server local: a guard in front of the app (pure ASGI middleware).

- Host header: only the bound host, ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port) are answered; anything else
  is a 400. A page on another site that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own name as the
  Host, so it never reaches the app.
- Cross-site requests that change state: a POST whose ``Sec-Fetch-Site`` says it comes from another site, or whose
  ``Origin`` is not this server, is a 403 (a page elsewhere cannot make the user's browser post here).
- Request bodies: over ``max_body`` bytes is a 413, from the Content-Length or while the body streams in.
- Every answer says where its page may load from (Content-Security-Policy: this server, and data:/blob: images), so
  a page cannot reach outside even by mistake.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SAME_SITE = ("same-origin", "none")  # "none": typed in the address bar or opened from a bookmark
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    """A request body past the guard's limit (raised while it streams in, answered with a 413)."""


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port, lower case (``[::1]:8000`` -> ``::1``)."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class Guard:
    """ASGI middleware: refuse requests for other hosts, cross-site POSTs and oversized bodies; add security headers."""

    def __init__(self, app, host: str, max_body: int):
        self.app = app
        self.allowed = {host_name(host), *LOOPBACK_NAMES}
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["method"], headers)
        if refusal:
            return await _answer(send, *refusal)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        try:
            await self.app(scope, self.limited(receive), send_with_headers)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, f"the upload is over {self.max_body:,} bytes")

    def refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) for a request the guard refuses, or None."""
        if host_name(headers.get("host", "")) not in self.allowed:
            return 400, "this server answers only requests addressed to it by its own name (Host header)"
        if method not in SAFE_METHODS:
            if headers.get("sec-fetch-site", "same-origin") not in SAME_SITE or not _same_origin(headers):
                return 403, "cross-site requests are refused"
            length = headers.get("content-length", "0")
            if not length.isdigit() or int(length) > self.max_body:
                return 413, f"the upload is over {self.max_body:,} bytes"
        return None

    def limited(self, receive):
        """``receive`` that raises ``BodyTooLarge`` once the body passes the limit (a body sent without a length)."""
        seen = 0

        async def receive_limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        return receive_limited


def _same_origin(headers: dict[str, str]) -> bool:
    """Whether the request has no Origin (not a browser's cross-origin request) or the Origin is this server."""
    origin = headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == headers.get("host", "").strip().lower()


async def _answer(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *HEADERS]})
    await send({"type": "http.response.body", "body": body})
