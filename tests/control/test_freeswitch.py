"""The control API on FreeSWITCH (inbound ESL originate, outbound socket), against the fake FreeSWITCH:
calls are placed, reported and hung up; redirect is refused as unsupported."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator

import httpx

from flowengine.channels.fake import DialOutcome, World
from flowengine.control.clock import ManualClock
from flowengine.control.service import ControlService
from flowengine.daemon.config import parse_config
from flowengine.daemon.server import Daemon
from flowengine.runtime.ids import SequentialIds
from flowengine.testing.fake_freeswitch import FakeFreeSwitch
from tests.channels.asterisk.support import run

from .support import START, TOKEN, FakeWeb, ir_flow


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, time_scale: float = 0.0
                  ) -> AsyncIterator[tuple[Daemon, ControlService, FakeFreeSwitch, httpx.AsyncClient]]:
    fake = FakeFreeSwitch(time_scale=time_scale)
    host, port = await fake.start_inbound()
    ir_flow(tmp_path / "idle.flow.json", {"bye": {"op": "hangup"}})
    text = (f'[listeners.fastagi]\nenabled = false\n[listeners.esl]\nenabled = true\nport = 0\n[http]\nport = 0\n'
            f'[records]\nsqlite = "calls.sqlite"\n'
            f'[freeswitch.inbound]\nhost = "{host}"\nport = {port}\npassword = "ClueCon"\nbackoff_max = 0.2\n'
            f'[control]\nenabled = true\ndaemon_id = "fs"\n[[control.tokens]]\ntoken = "{TOKEN}"\n'
            f'[store]\nsqlite = "control.sqlite"\n'
            f'[[routes]]\npath = "none"\nflow = "{tmp_path / "idle.flow.json"}"\n')
    config = parse_config(text, str(tmp_path / "flowengine.toml"), base_dir=str(tmp_path))
    daemon = Daemon(config, http=FakeWeb())
    service = ControlService(daemon, clock=ManualClock(START, loops=2), ids=SequentialIds()).install()
    await daemon.start()
    (listener, _) = daemon.listeners
    assert await listener.inbound.wait_connected(5)
    client = httpx.AsyncClient(base_url=f"http://{daemon.http_address[0]}:{daemon.http_address[1]}",
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    try:
        yield daemon, service, fake, client
    finally:
        await client.aclose()
        await daemon.stop(drain_timeout=2)
        await fake.close()


@run
async def test_calls_are_placed_over_inbound_esl(tmp_path):
    async with serving(tmp_path) as (daemon, service, fake, client):
        fake.world = World(dial={"+15557654321": DialOutcome("answer", after=1)})
        response = await client.post("/v1/calls", json={"to": "+15557654321", "from": "+15550000000", "flow": "otp",
                                                        "variables": {"otp": "42", "repeat": 1}})
        assert response.status_code == 201, response.text
        call = response.json()
        assert call["backend"] == "freeswitch"
        status = await asyncio.wait_for(asyncio.shield(service.calls.find(call["call_id"]).done), 10)
        assert status == "completed"
        record = await fake.calls[0].finished
        assert record.variables["origination_caller_id_number"] == "+15550000000"
        assert ("hangup", "NORMAL_CLEARING") in record.apps
        assert any(app == "say" or "42" in arg for app, arg in record.apps)


@run
async def test_redirect_is_refused_on_freeswitch_and_hang_up_works(tmp_path):
    async with serving(tmp_path, time_scale=0.02) as (daemon, service, fake, client):
        fake.world = World(dial={"*": DialOutcome("answer", after=0)}, media={"https://cdn.example.com/long.wav": 60})
        call = (await client.post("/v1/calls", json={"to": "+15557654321", "flow": "broadcast",
                                                     "variables": {"audio": "https://cdn.example.com/long.wav"}})).json()
        handle = service.calls.find(call["call_id"])
        for _ in range(500):
            if handle.answered:
                break
            await asyncio.sleep(0.01)
        refused = await client.post(f"/v1/calls/{call['call_id']}/redirect", json={"flow": "otp"})
        assert refused.status_code == 501 and refused.json()["error"]["code"] == "unsupported"
        assert (await client.delete(f"/v1/calls/{call['call_id']}")).status_code == 202
        assert await asyncio.wait_for(asyncio.shield(handle.done), 10) == "completed"
