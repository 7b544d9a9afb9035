"""Bearer-token authentication for the daemon's HTTP server, as a pure ASGI middleware.

Every path but `/healthz` needs `Authorization: Bearer <token>`: no or a malformed header → 401, an
unknown token → 401, a read-only token on anything but GET/HEAD → 403. Tokens are compared in
constant time, and neither tokens nor Authorization headers are ever logged (only the token's name).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Awaitable, Callable

__all__ = ["BearerAuth", "OPEN_PATHS"]

log = logging.getLogger("flowengine.control")

OPEN_PATHS = frozenset({"/healthz"})
READ_METHODS = frozenset({"GET", "HEAD"})


class BearerAuth:
    def __init__(self, app: Callable[..., Awaitable[None]], tokens: list[tuple[str, str, str]]):
        """`tokens`: (token, scope read|write, name) per accepted token."""
        self.app = app
        self._tokens = [(t.encode(), scope, name) for t, scope, name in tokens]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        if header is None or not header[:7].lower() == b"bearer " or not header[7:].strip():
            await _deny(send, 401, "unauthorized", "this endpoint needs `Authorization: Bearer <token>`",
                        'Bearer realm="flowengine"')
            return
        presented = header[7:].strip()
        match = next(((s, n) for t, s, n in self._tokens if hmac.compare_digest(t, presented)), None)
        if match is None:
            log.warning("refused %s %s: unknown bearer token", scope["method"], scope["path"])
            await _deny(send, 401, "unauthorized", "the bearer token is not valid",
                        'Bearer realm="flowengine", error="invalid_token"')
            return
        token_scope, name = match
        if token_scope != "write" and scope["method"] not in READ_METHODS:
            log.warning("refused %s %s: token %r is read-only", scope["method"], scope["path"], name)
            await _deny(send, 403, "forbidden", "this token may only read (GET)")
            return
        scope.setdefault("state", {})["principal"] = name
        await self.app(scope, receive, send)


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


async def _deny(send: Any, status: int, code: str, message: str, challenge: str | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if challenge:
        headers.append((b"www-authenticate", challenge.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
