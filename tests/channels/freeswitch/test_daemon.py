"""`flowengine serve` with the Event Socket listener, end to end against the fake FreeSWITCH: routing,
records, admission, refusals, faults that stay in their call, API-started flows over inbound ESL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import AsyncIterator

from flowengine.channels.fake import DialOutcome, World
from flowengine.daemon.config import parse_config
from flowengine.daemon.freeswitch import FreeSwitchListener
from flowengine.daemon.server import Daemon
from flowengine.testing.fake_freeswitch import FakeFreeSwitch

from .support import run

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "flows" / "demo-menu.flow.json"
DEFAULT_ROUTE = f'[[routes]]\ndefault = true\nflow = "{DEMO}"\nname = "demo"\n'


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, routes: str = DEFAULT_ROUTE, *, extra: str = "", inbound: bool = False,
                  password: str = "ClueCon", time_scale: float = 0.0
                  ) -> AsyncIterator[tuple[Daemon, FreeSwitchListener, FakeFreeSwitch]]:
    fake = FakeFreeSwitch(time_scale=time_scale)
    section = ""
    if inbound:
        host, port = await fake.start_inbound()
        section = f'[freeswitch.inbound]\nhost = "{host}"\nport = {port}\npassword = "{password}"\nbackoff_max = 0.2\n'
    text = (f'[listeners.fastagi]\nenabled = false\n[listeners.esl]\nenabled = true\nport = 0\nlinger_timeout = 2\n'
            f'[http]\nport = 0\n[records]\nsqlite = "calls.sqlite"\n[flows]\nreload_interval = 0.05\n'
            f'{extra}\n{section}\n{routes}')
    config = parse_config(text, str(tmp_path / "flowengine.toml"), base_dir=str(tmp_path))
    daemon = Daemon(config)
    await daemon.start()
    (listener,) = daemon.listeners
    try:
        yield daemon, listener, fake
    finally:
        await daemon.stop(drain_timeout=2)
        await fake.close()


def records(tmp_path: Path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        return db.execute("SELECT flow, outcome, caller, called, backend, channel, path, cause FROM calls").fetchall()


@run
async def test_calls_over_the_event_socket_are_served_and_recorded(tmp_path):
    async with serving(tmp_path) as (daemon, listener, fake):
        assert isinstance(listener, FreeSwitchListener)
        world = World(dial={"+15551112222": DialOutcome("answer", after=1, talk=5)})
        calls = [fake.call(listener.address, caller=["1"], world=world, caller_id="+15551230000",
                           destination="+15559870000") for _ in range(5)]
        finished = [await call.finished for call in calls]
        assert all(r.hung_up_by == "flow" and r.closed_by == "client" for r in finished)
        assert all(("bridge", "{leg_timeout=20,ignore_early_media=true}sofia/gateway/default/+15551112222") in r.apps
                   for r in finished)
    rows = records(tmp_path)
    assert len(rows) == 5
    flow, outcome, caller, called, backend, channel, path, cause = rows[0]
    assert (flow, outcome, caller, called, backend) == ("demo", "hangup", "+15551230000", "+15559870000", "freeswitch")
    assert channel.startswith("sofia/internal/") and json.loads(path)[:4] == ["welcome", "menu", "sales", "sales_dial"]


@run
async def test_routes_by_flowengine_route_variable_then_destination_number(tmp_path):
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps({"flowengine": "ir/1", "name": "m", "entry": "s",
                                "states": {"s": {"op": "say", "text": "menu"}}}))
    routes = (f'[[routes]]\npath = "sales"\nflow = "{DEMO}"\nname = "by-path"\n'
              f'[[routes]]\nnumber = "_4XXX"\nflow = "{menu}"\nname = "by-number"\n')
    async with serving(tmp_path, routes) as (daemon, listener, fake):
        first = await fake.call(listener.address, caller=["timeout", "timeout"],
                                dialplan_variables={"flowengine_route": "sales"}).finished
        second = await fake.call(listener.address, destination="4000").finished
        refused = await fake.call(listener.address, destination="911").finished
    assert first.apps[1][0] == "speak" and "Welcome to Acme" in first.apps[1][1]
    assert second.apps[1] == ("speak", "flite|kal|menu")
    assert refused.apps == [] and refused.hangup_cause == "UNALLOCATED_NUMBER" and refused.hung_up_by == "flow"


@run
async def test_admission_refuses_over_max_calls_with_a_hangup_at_once(tmp_path):
    async with serving(tmp_path, extra="[daemon]\nmax_calls = 1\n", time_scale=0.01) as (daemon, listener, fake):
        first = fake.call(listener.address, caller=["timeout", "timeout"])
        while not first.record.apps:
            await asyncio.sleep(0.01)  # the first call is in its menu
        second = await fake.call(listener.address).finished
        assert second.apps == [] and second.hangup_cause == "NORMAL_CIRCUIT_CONGESTION"
        await first.finished


@run
async def test_a_socket_without_async_full_is_refused_with_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.ERROR, "flowengine.freeswitch")
    async with serving(tmp_path) as (daemon, listener, fake):
        record = await fake.call(listener.address, mode="async").finished
    assert record.apps == [] and record.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert [r.getMessage() for r in caplog.records if "async full" in r.getMessage()] != []
    assert records(tmp_path) == []


@run
async def test_faults_stay_in_their_call(tmp_path, caplog):
    """Garbage on one socket, a dropped socket, a refused sendmsg and an app failing: each of those calls
    ends with a cause and one log line; the calls beside them run to their end."""
    caplog.set_level(logging.WARNING)
    async with serving(tmp_path, time_scale=0.01) as (daemon, listener, fake):
        healthy = [fake.call(listener.address, caller=["7", "timeout"]) for _ in range(3)]
        garbage = fake.call(listener.address, caller=["timeout", "timeout"])
        dropped = fake.call(listener.address, caller=["timeout", "timeout"])
        refused = fake.call(listener.address, refuse_sendmsg="-ERR memory error")
        while len(garbage.record.apps) < 2 or len(dropped.record.apps) < 2:
            await asyncio.sleep(0.01)
        garbage.send_garbage(b"\x00\xff not ESL\n\n")
        dropped.stop()
        for call in healthy + [garbage, dropped, refused]:
            await call.finished
        await asyncio.sleep(0.05)
    rows = {row[7] or row[1] for row in records(tmp_path)}
    outcomes = sorted(row[1] for row in records(tmp_path))
    assert outcomes.count("hangup") == 3  # the healthy calls: an invalid key, silence, goodbye
    assert any(cause and cause.startswith("protocol error") for cause in rows)
    faults = [r for r in caplog.records if "protocol error" in r.getMessage()]
    assert len(faults) == 1 and faults[0].name == "flowengine.daemon"  # the call's line, with its call id


@run
async def test_api_started_flow_originates_over_inbound_esl(tmp_path):
    flow = tmp_path / "callback.json"
    flow.write_text(json.dumps({"flowengine": "ir/1", "name": "callback", "entry": {"api": "call"},
                                "states": {"call": {"op": "dial", "targets": ["+15557654321"], "timeout": 15,
                                                    "caller_id": "+15550000000", "edges": {"answered": "hello"}},
                                           "hello": {"op": "say", "text": "Your table is ready", "next": "bye"},
                                           "bye": {"op": "hangup"}}}))
    routes = f'[[routes]]\npath = "callback"\nflow = "{flow}"\nname = "callback"\n'
    async with serving(tmp_path, routes, inbound=True) as (daemon, listener, fake):
        fake.world = World(dial={"+15557654321": DialOutcome("answer", after=1)})
        assert await listener.inbound.wait_connected(5)
        call_id = await daemon.start_flow("callback", to="+15557654321")
        while not fake.calls:
            await asyncio.sleep(0.01)
        record = await fake.calls[0].finished
        while daemon.live:
            await asyncio.sleep(0.01)
    assert record.apps == [("speak", "flite|kal|Your table is ready"), ("hangup", "NORMAL_CLEARING")]
    assert record.variables["origination_caller_id_number"] == "+15550000000"
    (row,) = records(tmp_path)
    assert row[:2] == ("callback", "hangup") and call_id


@run
async def test_api_started_flow_with_a_wrong_inbound_password_fails_its_dial(tmp_path, caplog):
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    flow = tmp_path / "callback.json"
    flow.write_text(json.dumps({"flowengine": "ir/1", "name": "cb", "entry": {"api": "call"},
                                "states": {"call": {"op": "dial", "targets": ["+1555"],
                                                    "edges": {"failed": "note"}},
                                           "note": {"op": "log", "message": "could not call"}}}))
    routes = f'[[routes]]\npath = "cb"\nflow = "{flow}"\nname = "cb"\n'
    async with serving(tmp_path, routes, inbound=True, password="wrong") as (daemon, listener, fake):
        fake.password = "right"
        while not any("refused the ESL password" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)
        await daemon.start_flow("cb", to="+1555")
        while daemon.tasks:
            await asyncio.sleep(0.01)
        assert fake.calls == []
        outbound = await fake.call(listener.address, caller=["1"], world=World(dial={"*": DialOutcome("busy")})).finished
        assert outbound.hung_up_by == "flow"  # outbound sockets are served all the while


@run
async def test_a_dialled_legs_states_run_on_its_own_socket_paired_by_token(tmp_path):
    flow = tmp_path / "whisper.json"
    flow.write_text(json.dumps({"flowengine": "ir/1", "name": "whisper", "entry": "d", "states": {
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "edges": {"answered": "bye"}},
        "w": {"op": "say", "text": "You have a call from the sales line"},
        "bye": {"op": "hangup"}}}))
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{flow}"\nname = "whisper"\n') as (
            daemon, listener, fake):
        world = World(dial={"+15551112222": DialOutcome("answer", after=0.5, talk=5)})
        record = await fake.call(listener.address, world=world).finished
        bridge = next(arg for app, arg in record.apps if app == "bridge")
        host, port = listener.address
        assert f"group_confirm_file='socket {host}:{port} async full'" in bridge and "flowengine_token=leg_" in bridge
        leg = fake.calls[1]
        assert leg.vars.get("flowengine_token") in bridge and leg.record.apps[0][0] == "speak"
        assert leg.record.closed_by == "client"
        world = World(dial=world.dial, hangup_at=1.0)  # leg A hangs up during the whisper
        record = await fake.call(listener.address, world=world).finished
        assert record.hung_up_by == "caller" and fake.calls[3].hangup_cause == "ORIGINATOR_CANCEL"
        assert not listener.pending  # every token was used once, then forgotten
    outcomes = sorted(row[1] for row in records(tmp_path))
    assert outcomes == ["caller_hangup", "hangup"]


@run
async def test_a_leg_socket_whose_dial_no_longer_waits_is_hung_up(tmp_path):
    async with serving(tmp_path) as (daemon, listener, fake):
        record = await fake.call(listener.address, variables={"flowengine_token": "leg_expired"}).finished
        assert record.hung_up_by == "flow" and record.hangup_cause == "NORMAL_CLEARING" and not record.apps
