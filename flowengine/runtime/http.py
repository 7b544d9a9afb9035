"""HTTP for flows: document fetches, webhooks and callbacks, behind one small interface.

`HttpClient.send(request)` never raises for network trouble: a timeout or a connection error is a
response with `status == 0` and `error` set, because to a call flow that is an ordinary outcome.
`HttpxClient` is the live implementation: timeouts, a response size cap, no redirects to private
addresses, and a guard against private/loopback/link-local destinations unless explicitly allowed.
The fake channel's world provides the simulated implementation.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    params: dict[str, Any] | None = None  # query (GET/DELETE) or form fields (POST/PUT/PATCH)
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    @property
    def params_in_query(self) -> bool:
        return self.method in ("GET", "DELETE", "HEAD")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int  # 0 = timeout or network error
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # "timeout" | "error" | a short description

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        for key, value in self.headers.items():
            if key.lower() == "content-type":
                return value
        return ""

    def json(self) -> Any:
        """The body decoded as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None


class HttpClient(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...


class AddressNotAllowed(Exception):
    pass


def _is_private(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False  # let the request fail normally
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            return True
    return False


async def check_url(url: str, *, allow_private: bool = False) -> None:
    """The SSRF guard: AddressNotAllowed unless `url` is http(s) to a public address (or private ones
    are allowed). Also used for URLs an API caller passes in, before anything fetches them."""
    try:
        parts = urlsplit(url)
        host = parts.hostname  # parses a bracketed IPv6 host: ValueError when it is not one
    except ValueError:
        raise AddressNotAllowed(f"not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise AddressNotAllowed(f"only http(s) URLs are fetched, not {url!r}")
    if not allow_private:
        private = await asyncio.get_running_loop().run_in_executor(None, _is_private, host)
        if private:
            raise AddressNotAllowed(f"{host} is a private address (set allow_private to permit)")


class HttpxClient:
    """Live HTTP with httpx: timeouts, size cap, SSRF guard (private addresses refused by default)."""

    def __init__(self, *, allow_private: bool = False, max_bytes: int = MAX_RESPONSE_BYTES,
                 user_agent: str = "flowengine/0.1", client: httpx.AsyncClient | None = None):
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self._client = client or httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": user_agent})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check_url(self, url: str) -> None:
        await check_url(url, allow_private=self.allow_private)

    async def send(self, request: HttpRequest) -> HttpResponse:
        try:
            await self.check_url(request.url)
        except AddressNotAllowed as exc:
            return HttpResponse(0, error=str(exc))
        kwargs: dict[str, Any] = {"headers": request.headers, "timeout": request.timeout}
        if request.params:
            if request.params_in_query:
                kwargs["params"] = request.params
            else:
                kwargs["data"] = request.params
        if request.body is not None:
            kwargs["content"] = request.body.encode()
        try:
            async with self._client.stream(request.method, request.url, **kwargs) as response:
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        return HttpResponse(0, error=f"response larger than {self.max_bytes} bytes")
                    chunks.append(chunk)
                body = b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
                return HttpResponse(response.status_code, body, dict(response.headers))
        except httpx.TimeoutException:
            return HttpResponse(0, error="timeout")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return HttpResponse(0, error=f"error: {exc.__class__.__name__}")
