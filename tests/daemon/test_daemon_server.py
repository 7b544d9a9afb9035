"""`flowengine serve` end to end against the fake Asterisk: calls, metrics, records, admission, faults,
hot reload, API-started flows and the graceful drain."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import httpx

from flowengine.channels.fake import DialOutcome, World
from flowengine.daemon.logs import setup_logging
from flowengine.daemon.server import Admission
from tests.channels.asterisk.support import run

from .support import DEMO, ir_flow, serving

DEFAULT_ROUTE = f'[[routes]]\ndefault = true\nflow = "{DEMO}"\nname = "demo"\n'


async def settled(daemon) -> None:
    """Every call task has ended (metrics counted, records queued)."""
    if daemon.tasks:
        await asyncio.wait(set(daemon.tasks), timeout=5)


async def until(condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def get(daemon, path: str) -> httpx.Response:
    host, port = daemon.http_address
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://{host}:{port}{path}")


@run
async def test_calls_are_served_counted_and_recorded(tmp_path):
    async with serving(tmp_path, DEFAULT_ROUTE) as (daemon, listener, fake):
        world = World(dial={"+15551112222": DialOutcome("answer", after=1, talk=5)})
        calls = [fake.call(listener.address, caller=["1"], world=world, dnid="+15559870000") for _ in range(5)]
        records = [await call.finished for call in calls]
        assert all(r.closed_by_server and not r.held for r in records)
        assert all("EXEC Dial PJSIP/+15551112222,20,g" in r.commands for r in records)
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_total{flow="demo",outcome="hangup"} 5.0' in metrics
        assert "flowengine_live_calls 0.0" in metrics and "flowengine_ami_connected 1.0" in metrics
        assert 'flowengine_call_steps_total{flow="demo"} 40.0' in metrics
        health = (await get(daemon, "/healthz")).json()
        assert health == {"status": "ok", "live_calls": 0}
    import sqlite3

    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        rows = db.execute("SELECT flow, outcome, called, path, backend, channel FROM calls").fetchall()
    assert len(rows) == 5
    flow, outcome, called, path, backend, channel = rows[0]
    assert (flow, outcome, called, backend) == ("demo", "hangup", "+15559870000", "asterisk")
    assert json.loads(path)[:4] == ["welcome", "menu", "sales", "sales_dial"] and channel.startswith("Local/")


@run
async def test_admission_refuses_over_max_calls_at_once(tmp_path):
    async with serving(tmp_path, DEFAULT_ROUTE, extra="[daemon]\nmax_calls = 1\n", time_scale=0.01) as (
            daemon, listener, fake):
        first = fake.call(listener.address, caller=["timeout", "timeout"])
        await until(lambda: daemon.live)  # the first call is in its flow
        second = await fake.call(listener.address).finished
        assert second.commands == ["EXEC Hangup 34"] and second.closed_by_server
        await first.finished
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_rejected_total{reason="max_calls"} 1.0' in metrics


def test_Admission_rate():
    now = [0.0]
    admission = Admission(10, 2.0, lambda: now[0])
    assert [admission.admit(0) for _ in range(3)] == [None, None, "rate"]
    now[0] = 0.5
    assert admission.admit(0) is None and admission.admit(0) == "rate"
    assert admission.admit(10) == "max_calls"


@run
async def test_no_route_refuses_with_unallocated_number(tmp_path):
    route = f'[[routes]]\npath = "sales"\nflow = "{DEMO}"\n'
    async with serving(tmp_path, route, ami=False) as (daemon, listener, fake):
        refused = await fake.call(listener.address, path="support").finished
        assert refused.commands == ["EXEC Hangup 1"]
        served = await fake.call(listener.address, path="sales?lang=en", caller=["timeout", "timeout"]).finished
        assert served.commands[0] == "ANSWER"


@run
async def test_garbage_and_dropped_connections_end_only_their_call(tmp_path, caplog):
    async with serving(tmp_path, DEFAULT_ROUTE, ami=False) as (daemon, listener, fake):
        reader, writer = await asyncio.open_connection(*listener.address)
        writer.write(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        good = fake.call(listener.address, caller=["timeout", "timeout"])
        # a call whose switch connection drops in the middle of the menu
        reader, writer = await asyncio.open_connection(*listener.address)
        writer.write(b"agi_network: yes\nagi_channel: PJSIP/x-1\nagi_uniqueid: 9.9\n\n")
        assert await reader.readline() == b"ANSWER\n"
        writer.write(b"200 result=0\n")
        await reader.readline()
        writer.write(b"200 result=banana\nnot agi at all\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        assert (await good.finished).closed_by_server
        await settled(daemon)
    faults = [r.getMessage() for r in caplog.records if "protocol error" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(faults) == 2  # one line per fault: the connection's before a call, the call's (with its id) after
    assert "protocol error, closing: not an AGI environment line" in faults[0]
    assert faults[1].startswith("call ended by the switch connection: protocol error: AGI reply 'not agi at all'")
    import sqlite3

    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        outcomes = sorted(row[0] for row in db.execute("SELECT outcome FROM calls"))
    assert outcomes == ["error", "hangup"]


@run
async def test_a_crashing_call_is_contained(tmp_path, caplog):
    flow = ir_flow(tmp_path / "crash.flow.json", {"hello": {"op": "say", "text": "boom"}})
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{flow}"\n', ami=False) as (
            daemon, listener, fake):

        async def broken(*args, **kwargs):
            raise RuntimeError("synthesiser exploded")

        listener.tts.synthesize = broken  # a bug in a provider, not a ChannelError
        record = await fake.call(listener.address).finished
        assert record.closed_by_server
        assert record.commands == ["ANSWER", "EXEC Hangup 41"]  # hung up with "temporary failure"
        again = await fake.call(listener.address).finished  # the daemon still serves
        assert again.closed_by_server
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_total{flow="crash.flow.json",outcome="crash"} 2.0' in metrics
    assert "call crashed: RuntimeError: synthesiser exploded" in caplog.text


@run
async def test_unsupported_primitive_is_an_error_event_not_a_crash(tmp_path):
    flow = ir_flow(tmp_path / "speech.flow.json", {"ask": {"op": "speech", "timeout": 2}})
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{flow}"\n', ami=False) as (
            daemon, listener, fake):
        await fake.call(listener.address).finished
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
    assert 'flowengine_call_errors_total{code="E_CHANNEL",flow="speech.flow.json"} 1.0' in metrics


@run
async def test_json_logs_carry_the_call_id(tmp_path):
    stream = io.StringIO()
    handler = setup_logging("info", "json", stream)
    try:
        async with serving(tmp_path, DEFAULT_ROUTE, ami=False) as (daemon, listener, fake):
            await fake.call(listener.address, caller=["timeout", "timeout"]).finished
            await settled(daemon)
    finally:
        logging.getLogger("flowengine").handlers.remove(handler)
        logging.getLogger("flowengine").propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    in_call = [line for line in lines if line["msg"].startswith(("call from", "call ended"))]
    assert len(in_call) == 2 and in_call[0]["call_id"] == in_call[1]["call_id"]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)


@run
async def test_hot_reload_while_serving(tmp_path):
    flow = ir_flow(tmp_path / "hello.flow.json", {"hello": {"op": "play", "url": "one"}})
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{flow}"\n', ami=False) as (
            daemon, listener, fake):
        assert (await fake.call(listener.address).finished).commands[1] == 'STREAM FILE one ""'
        ir_flow(flow, {"hello": {"op": "play", "url": "two"}})
        import os

        os.utime(flow, ns=(0, flow.stat().st_mtime_ns + 5_000_000_000))
        await until(lambda: daemon.registry.get(str(flow)).version == 2)
        assert (await fake.call(listener.address).finished).commands[1] == 'STREAM FILE two ""'
        flow.write_text("{broken")
        os.utime(flow, ns=(0, flow.stat().st_mtime_ns + 10_000_000_000))
        await until(lambda: daemon.registry.get(str(flow)).stamp[0] == flow.stat().st_mtime_ns)
        assert (await fake.call(listener.address).finished).commands[1] == 'STREAM FILE two ""'


@run
async def test_graceful_drain_lets_live_calls_finish(tmp_path):
    async with serving(tmp_path, DEFAULT_ROUTE, ami=False, time_scale=0.005) as (daemon, listener, fake):
        address = listener.address
        live = fake.call(address, caller=["timeout", "timeout"])
        await until(lambda: daemon.live)
        stopping = asyncio.ensure_future(daemon.stop(drain_timeout=5))
        await until(lambda: daemon.draining)
        try:
            await asyncio.open_connection(*address)
            refused = False
        except OSError:
            refused = True
        assert refused  # no new calls while draining
        record = await live.finished
        await stopping
        assert record.commands[-1] == "EXEC Hangup 16" and record.closed_by_server  # the flow ran to its end


@run
async def test_drain_timeout_cancels_and_records(tmp_path):
    async with serving(tmp_path, DEFAULT_ROUTE, ami=False, time_scale=0.05) as (daemon, listener, fake):
        live = fake.call(listener.address, caller=["timeout", "timeout"])
        await until(lambda: daemon.live)
        await daemon.stop(drain_timeout=0.05)
        record = await live.finished
        assert record.closed_by_server
    import sqlite3

    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        assert db.execute("SELECT outcome, cause FROM calls").fetchall() == [("cancelled", "drain timeout")]


@run
async def test_api_started_flow_originates_through_ami(tmp_path):
    flow = ir_flow(tmp_path / "outbound.flow.json", {
        "call": {"op": "dial", "targets": ["+15551234567"], "timeout": 20, "caller_id": "+15550001111",
                 "edges": {"answered": "greet"}},
        "greet": {"op": "say", "text": "This is a reminder", "next": "bye"},
        "bye": {"op": "hangup"},
    }, entry={"api": "call"})
    async with serving(tmp_path, f'[[routes]]\npath = "outbound"\nflow = "{flow}"\nname = "outbound"\n') as (
            daemon, listener, fake):
        call_id = await daemon.start_flow("outbound", variables={"x": 1})
        await until(lambda: fake.originated)
        originate = fake.originates[0]
        assert originate["Channel"] == "Local/+15551234567@flowengine-outbound"
        assert originate["Application"] == "AGI" and originate["CallerID"] == "+15550001111"
        assert originate["Data"].startswith(f"agi://127.0.0.1:{listener.address[1]}/flowengine-originate,")
        record = await fake.originated[0].finished
        assert [c.split()[0] for c in record.commands] == ["STREAM", "EXEC"]  # answered by the callee
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_total{flow="outbound",outcome="hangup"} 1.0' in metrics
        fake.originate_outcomes = {"*": "busy"}
        await daemon.start_flow("outbound")
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_total{flow="outbound",outcome="flow_end"} 1.0' in metrics
        assert call_id


WHISPER = {
    "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "edges": {"answered": "bye"}},
    "w": {"op": "say", "text": "You have a call from the sales line"},
    "bye": {"op": "hangup"},
}


@run
async def test_a_dialled_legs_states_run_on_its_own_session_paired_by_token(tmp_path):
    flow = ir_flow(tmp_path / "whisper.flow.json", WHISPER)
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{flow}"\n') as (daemon, listener, fake):
        fake.dialplan["flowengine-leg"] = f"agi://127.0.0.1:{listener.address[1]}/flowengine-leg,${{ARG1}}"
        world = World(dial={"+15551112222": DialOutcome("answer", after=0.5, talk=5)})
        record = await fake.call(listener.address, world=world).finished
        dial = next(c for c in record.commands if c.startswith("EXEC Dial"))
        assert "U(flowengine-leg^flowengine-originate:leg_" in dial
        leg = fake.timeline[1]
        assert leg.environment.args[0] == dial.split("^", 1)[1].rstrip(")")
        assert leg.record.commands[0].startswith("STREAM FILE") and leg.record.closed_by_server
        # leg A hangs up while leg B hears the whisper: AMI says so, and the daemon hangs leg B up
        record = await fake.call(listener.address, world=world, hangup_at=1.0).finished
        assert record.hung_up_by == "caller" and fake.timeline[3].record.hung_up_by == "ami"
        await settled(daemon)
        metrics = (await get(daemon, "/metrics")).text
        assert 'flowengine_calls_total{flow="whisper.flow.json",outcome="hangup"} 1.0' in metrics
        assert 'flowengine_calls_total{flow="whisper.flow.json",outcome="caller_hangup"} 1.0' in metrics
        assert not listener.pending  # every token was used once, then forgotten


@run
async def test_a_leg_session_whose_dial_no_longer_waits_is_hung_up(tmp_path):
    async with serving(tmp_path, DEFAULT_ROUTE, ami=False) as (daemon, listener, fake):
        record = await fake.call(listener.address, path="flowengine-leg",
                                 args=("flowengine-originate:leg_expired",)).finished
        assert record.commands == ["EXEC Hangup 1"] and record.closed_by_server


@run
async def test_an_ivr_call_is_recorded_with_its_ivr_report(tmp_path):
    menu = Path(DEMO).parent / "nested-menus.ivr.yaml"
    async with serving(tmp_path, f'[[routes]]\ndefault = true\nflow = "{menu}"\n', ami=False) as (
            daemon, listener, fake):
        await fake.call(listener.address, caller=["2", "1", "hangup"]).finished
        await settled(daemon)
    import sqlite3

    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        (call_id, report), = db.execute("SELECT call_id, report FROM calls").fetchall()
    report = json.loads(report)
    assert report["ivr"] == "acme-nested" and report["call_id"] == call_id
    assert report["path"] == ["main:start", "main:2", "orders:start", "orders:1", "invoices:start"]
    assert report["inputs"] == ["2", "1"] and report["outcome"] == "abandoned"
