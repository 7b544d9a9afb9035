"""A daemon with the control API, wired to the fake Asterisk (FastAGI, AMI and HTTP on port 0), for tests."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from flowengine.control.clock import ManualClock, WallClock
from flowengine.control.service import ControlService
from flowengine.daemon.asterisk import AsteriskListener
from flowengine.daemon.config import parse_config
from flowengine.daemon.server import Daemon
from flowengine.runtime.http import HttpRequest, HttpResponse
from flowengine.runtime.ids import SequentialIds
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts

TOKEN = "test-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"
SECRET = "callback-secret-for-tests"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a Friday


def ir_flow(path: Path, states: dict, **top: Any) -> Path:
    path.write_text(json.dumps({"flowengine": "ir/1", "name": path.stem, "entry": next(iter(states)),
                                "states": states, **top}))
    return path


class FakeWeb:
    """The daemon's HTTP client in tests: answers from `pages` (URL -> body or HttpResponse), 200 "" for
    anything else, and keeps every request (status callbacks, document fetches)."""

    def __init__(self, pages: dict[str, Any] | None = None):
        self.pages = pages or {}
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        page = self.pages.get(request.url, "")
        if isinstance(page, HttpResponse):
            return page
        return HttpResponse(200, page, {"Content-Type": "text/xml" if page.startswith("<") else "text/plain"})

    def callbacks(self, url: str = "https://hooks.example.com/calls") -> list[dict]:
        return [json.loads(r.body) for r in self.requests if r.url == url]


@dataclass
class Served:
    daemon: Daemon
    listener: AsteriskListener
    fake: FakeAsterisk
    service: ControlService
    client: httpx.AsyncClient
    clock: WallClock
    web: FakeWeb

    def url(self, path: str) -> str:
        host, port = self.daemon.http_address
        return f"http://{host}:{port}{path}"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, *, routes: str = "", extra: str = "", control: str = "", store: str = "",
                  clock: WallClock | None = None, fake: FakeAsterisk | None = None, ami: bool = True,
                  daemon_id: str = "daemon-a", time_scale: float = 0.001,
                  web: FakeWeb | None = None, allow_private: bool = True,
                  poll_interval: float = 5) -> AsyncIterator[Served]:
    tts = FakeTts()
    fake = fake or FakeAsterisk(time_scale=time_scale, media_duration=tts.duration)
    ami_section = ""
    if ami:
        host, port = fake.ami_address if fake._server is not None else await fake.start_ami()
        ami_section = f'[asterisk.ami]\nhost = "{host}"\nport = {port}\nusername = "flowengine"\nsecret = "secret"\n'
    routes = routes or f'[[routes]]\npath = "none"\nflow = "{tmp_path / "idle.flow.json"}"\nname = "idle"\n'
    ir_flow(tmp_path / "idle.flow.json", {"bye": {"op": "hangup"}})
    text = (f'[listeners.fastagi]\nport = 0\n[http]\nport = 0\n[records]\nsqlite = "calls.sqlite"\n'
            f'[fetch]\nallow_private = {str(allow_private).lower()}\n{extra}\n{ami_section}\n'
            f'[control]\nenabled = true\ndaemon_id = "{daemon_id}"\ncallback_secret = "{SECRET}"\npoll_interval = {poll_interval}\n'
            f'redirect_timeout = 5\n{control}\n'
            f'[[control.tokens]]\ntoken = "{TOKEN}"\nname = "ops"\n'
            f'[[control.tokens]]\ntoken = "{READ_TOKEN}"\nscope = "read"\n'
            f'[store]\nsqlite = "control.sqlite"\n{store}\n{routes}')
    config = parse_config(text, str(tmp_path / "flowengine.toml"), base_dir=str(tmp_path))
    listener = AsteriskListener(config, tts=tts)
    web = web or FakeWeb()
    daemon = Daemon(config, listeners=[listener], http=web)
    clock = clock or ManualClock(START)
    if isinstance(clock, ManualClock):
        clock.loops = 2  # the callback runner and the campaign pacer
    service = ControlService(daemon, clock=clock, ids=SequentialIds()).install()
    await daemon.start()
    if ami:
        assert await listener.ami.wait_ready(2)
    fake.dialplan["flowengine-redirect"] = (f"agi://127.0.0.1:{listener.address[1]}/flowengine-redirect,"
                                            "flowengine-originate:${EXTEN}")
    client = httpx.AsyncClient(base_url=f"http://{daemon.http_address[0]}:{daemon.http_address[1]}",
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    try:
        yield Served(daemon, listener, fake, service, client, clock, web)
    finally:
        await client.aclose()
        await daemon.stop(drain_timeout=2)
        await fake.close()


async def wait_for(predicate, timeout: float = 5.0, step: float = 0.01) -> None:
    """Poll `predicate` (real time) until it holds: for outcomes that arrive over sockets."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
