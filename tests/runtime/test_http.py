"""The live HTTP client: the SSRF guard, malformed URLs, the size cap and timeouts, over httpx's mock
transport (no network)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from flowengine.runtime.http import AddressNotAllowed, HttpRequest, HttpxClient, check_url


def client(handler, **options) -> HttpxClient:
    return HttpxClient(client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **options)


@pytest.mark.parametrize("url, message", [
    ("http://[x]/", "not a valid URL"),
    ("https://[::1/r", "not a valid URL"),
    ("ftp://example.com/a.xml", "only http(s) URLs are fetched"),
    ("https:///nohost", "only http(s) URLs are fetched"),
    ("http://127.0.0.1:8080/voice.xml", "127.0.0.1 is a private address"),
])
def test_check_url_refuses_what_it_must(url, message):
    with pytest.raises(AddressNotAllowed, match=re.escape(message)):
        asyncio.run(check_url(url))


def test_private_addresses_when_allowed():
    asyncio.run(check_url("http://127.0.0.1:8080/voice.xml", allow_private=True))


def test_send_turns_every_failure_into_a_response():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 2048)
        return httpx.Response(200, text=f"{request.method} {request.url.query.decode()}")

    async def scenario():
        http = client(handler, allow_private=True, max_bytes=1024)
        try:
            malformed = await http.send(HttpRequest("GET", "https://[::1/x"))
            ok = await http.send(HttpRequest("GET", "http://10.0.0.1/ok", params={"Digits": "1"}))
            slow = await http.send(HttpRequest("GET", "http://10.0.0.1/slow"))
            big = await http.send(HttpRequest("GET", "http://10.0.0.1/big"))
        finally:
            await http.aclose()
        return malformed, ok, slow, big

    malformed, ok, slow, big = asyncio.run(scenario())
    assert (malformed.status, malformed.error) == (0, "not a valid URL: 'https://[::1/x'")
    assert (ok.status, ok.body) == (200, "GET Digits=1")
    assert (slow.status, slow.error) == (0, "timeout")
    assert (big.status, big.error) == (0, "response larger than 1024 bytes")
