"""POST /v1/calls and live-call control against the fake Asterisk: originate, status, callbacks,
hang-up, redirect, dtmf and play."""

from __future__ import annotations

import asyncio

from flowengine.channels.fake import DialOutcome, World
from flowengine.control.callbacks import SIGNATURE_HEADER, verify
from tests.channels.asterisk.support import run

from .support import SECRET, ir_flow, serving, wait_for

HOOK = "https://hooks.example.com/calls"


async def finished(served, call_id: str) -> str:
    return await asyncio.wait_for(asyncio.shield(served.service.calls.find(call_id).done), 10)


@run
async def test_originate_a_builtin_flow_and_report_it(tmp_path):
    async with serving(tmp_path) as served:
        response = await served.client.post("/v1/calls", json={
            "to": "+15551230001", "from": "+15559870000", "flow": "otp", "variables": {"otp": "1987", "repeat": 1},
            "timeout": 20, "status_callback": HOOK, "metadata": {"order": "A-17"}})
        assert response.status_code == 201, response.text
        call = response.json()
        assert call["status"] in ("queued", "ringing") and call["flow"] == "otp" and call["to"] == "+15551230001"
        assert response.headers["location"] == f"/v1/calls/{call['call_id']}"
        assert await finished(served, call["call_id"]) == "completed"
        originate = served.fake.originates[0]
        assert originate["Channel"] == "Local/+15551230001@flowengine-outbound"
        assert originate["CallerID"] == "+15559870000" and originate["Timeout"] == "20000"
        record = await served.fake.originated[0].finished
        assert "SAY DIGITS 1987 \"\"" in record.commands or any(c.startswith("SAY DIGITS 1987") for c in record.commands)
        assert record.commands[-1] == "EXEC Hangup 16"
        final = (await served.client.get(f"/v1/calls/{call['call_id']}")).json()
        assert final["status"] == "completed" and final["hangup_by"] == "flow"
        await wait_for(lambda: len(served.web.callbacks(HOOK)) == 3)
        events = served.web.callbacks(HOOK)
        assert [e["event"] for e in events] == ["call.started", "call.answered", "call.completed"]
        done = events[-1]
        assert done["callSid"] == call["call_id"] and done["status"] == "completed"
        assert done["calledNumber"] == "+15551230001" and done["callerNumber"] == "+15559870000"
        assert done["toCountry"] == "US" and done["toCountryCode"] == 1 and done["direction"] == "outbound-api"
        assert done["metadata"] == {"order": "A-17"} and done["hangupBy"] == "flow"
        assert set(done) >= {"apiVersion", "billCountry", "callType", "createdTime", "duration", "endTime",
                             "fromCountry", "fromCountryCode", "serverIp", "startTime", "toCountry"}
        request = [r for r in served.web.requests if r.url == HOOK][-1]
        assert verify(SECRET, request.body.encode(), request.headers[SIGNATURE_HEADER], served.clock.time())
        assert not verify("wrong", request.body.encode(), request.headers[SIGNATURE_HEADER], served.clock.time())
        metrics = (await served.client.get("/metrics")).text
        assert 'flowengine_calls_total{flow="otp",outcome="hangup"} 1.0' in metrics


@run
async def test_busy_number_ends_busy(tmp_path):
    async with serving(tmp_path) as served:
        served.fake.originate_outcomes = {"*": "busy"}
        call = (await served.client.post("/v1/calls", json={"to": "+15551230001", "flow": "otp",
                                                             "variables": {"otp": "1"}})).json()
        assert await finished(served, call["call_id"]) == "busy"
        assert "CallerID" not in served.fake.originates[0]
        assert (await served.client.get(f"/v1/calls/{call['call_id']}")).json()["status"] == "busy"


@run
async def test_a_route_flow_with_its_own_api_entry_places_its_own_call(tmp_path):
    flow = ir_flow(tmp_path / "remind.flow.json", {
        "call": {"op": "dial", "targets": [{"$expr": "var", "src": "call.to"}], "timeout": 15,
                 "edges": {"answered": "say"}},
        "say": {"op": "say", "text": {"$expr": "template", "src": "Reminder for ${who}"}},
    }, entry={"api": "call"}, variables={"who": "nobody"})
    routes = f'[[routes]]\npath = "remind"\nflow = "{flow}"\nname = "remind"\n'
    async with serving(tmp_path, routes=routes) as served:
        call = (await served.client.post("/v1/calls", json={"to": "+15551230005", "flow": "remind",
                                                             "variables": {"who": "Ann"}})).json()
        assert await finished(served, call["call_id"]) == "completed"
        assert served.fake.originates[0]["Timeout"] == "15000"


@run
async def test_an_inboundxml_url_is_fetched_with_make_call_parameters_once_answered(tmp_path):
    from .support import FakeWeb

    web = FakeWeb({"https://app.example.com/voice.xml": "<Response><Say>Hello from the document</Say></Response>"})
    async with serving(tmp_path, web=web) as served:
        response = await served.client.post("/v1/calls", json={
            "to": "+15551230001", "from": "+15559870000", "url": "https://app.example.com/voice.xml", "method": "GET"})
        assert response.status_code == 201, response.text
        call_id = response.json()["call_id"]
        assert await finished(served, call_id) == "completed"
        fetch = next(r for r in web.requests if r.url == "https://app.example.com/voice.xml")
        assert fetch.method == "GET"
        assert fetch.params["To"] == "+15551230001" and fetch.params["From"] == "+15559870000"
        assert fetch.params["CallSid"] == call_id
        record = await served.fake.originated[0].finished
        assert any(c.startswith("STREAM FILE") for c in record.commands)


@run
async def test_hang_up_a_live_call(tmp_path):
    async with serving(tmp_path) as served:
        call = (await served.client.post("/v1/calls", json={
            "to": "+15551230001", "flow": "broadcast",
            "variables": {"audio": "https://cdn.example.com/long.wav", "repeat": 10}})).json()
        served.fake.media_duration = lambda name: 100.0 if "long" in name else None
        handle = served.service.calls.find(call["call_id"])
        await wait_for(lambda: handle.current == "play")
        listed = (await served.client.get("/v1/calls")).json()["calls"]
        assert [c["call_id"] for c in listed] == [call["call_id"]]
        live = listed[0]
        assert live["status"] == "in-progress" and live["state"] == "play" and live["channel"].startswith("Local/")
        assert [leg["leg"] for leg in live["legs"]] == ["A"] and live["legs"][0]["answered"]
        response = await served.client.delete(f"/v1/calls/{call['call_id']}")
        assert response.status_code == 202
        assert await finished(served, call["call_id"]) == "completed"
        record = await served.fake.originated[0].finished
        assert record.hung_up_by == "ami"
        assert (await served.client.get(f"/v1/calls/{call['call_id']}")).json()["hangup_by"] == "api"
        assert (await served.client.get("/v1/calls")).json()["calls"] == []
        again = await served.client.delete(f"/v1/calls/{call['call_id']}")
        assert again.status_code == 409 and again.json()["error"]["code"] == "call_ended"


@run
async def test_redirect_a_live_call_to_another_flow(tmp_path):
    async with serving(tmp_path) as served:
        served.fake.media_duration = lambda name: 100.0 if "long" in name else None
        call = (await served.client.post("/v1/calls", json={
            "to": "+15551230001", "flow": "broadcast",
            "variables": {"audio": "https://cdn.example.com/long.wav", "repeat": 10}})).json()
        handle = served.service.calls.find(call["call_id"])
        await wait_for(lambda: handle.current == "play")
        response = await served.client.post(f"/v1/calls/{call['call_id']}/redirect", json={
            "flow": "otp", "variables": {"otp": "2468", "repeat": 1}})
        assert response.status_code == 202, response.text
        assert response.json() == {"call_id": call["call_id"], "status": "redirecting", "flow": "otp"}
        assert await finished(served, call["call_id"]) == "completed"
        old = await served.fake.originated[0].finished
        assert old.redirected_to[0] == "flowengine-redirect" and old.redirected_to[1].startswith("redirect_")
        new = await served.fake.redirected[0].finished
        assert any(c.startswith("SAY DIGITS 2468") for c in new.commands)
        assert not any("SAY DIGITS" in c for c in old.commands)
        assert handle.runs == 2 and handle.flow == "otp"
        await asyncio.sleep(0.05)
        metrics = (await served.client.get("/metrics")).text
        assert 'flowengine_calls_total{flow="broadcast",outcome="cancelled"} 1.0' in metrics
        assert 'flowengine_calls_total{flow="otp",outcome="hangup"} 1.0' in metrics


@run
async def test_dtmf_and_play_reach_leg_A_before_the_next_step(tmp_path):
    async with serving(tmp_path) as served:
        served.fake.media_duration = lambda name: 0.5 if "short" in name else None
        call = (await served.client.post("/v1/calls", json={
            "to": "+15551230001", "flow": "broadcast",
            "variables": {"audio": "https://cdn.example.com/short.wav", "repeat": 50}})).json()
        handle = served.service.calls.find(call["call_id"])
        await wait_for(lambda: handle.current == "play")
        dtmf = await served.client.post(f"/v1/calls/{call['call_id']}/dtmf", json={"digits": "12#"})
        assert dtmf.status_code == 202 and dtmf.json()["status"] == "queued"
        play = await served.client.post(f"/v1/calls/{call['call_id']}/play", json={"text": "Please hold"})
        assert play.status_code == 202
        await wait_for(lambda: not handle.pending)
        await served.client.delete(f"/v1/calls/{call['call_id']}")
        record = await served.fake.originated[0].finished
        assert "EXEC SendDTMF 12#" in record.commands
        say = served.listener.tts.requests
        assert any(text == "Please hold" for text, *_ in say)


@run
async def test_control_of_calls_that_cannot_take_it(tmp_path):
    async with serving(tmp_path, time_scale=0.02) as served:
        missing = await served.client.post("/v1/calls/nope/dtmf", json={"digits": "1"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_call"
        assert (await served.client.get("/v1/calls/nope")).status_code == 404
        served.fake.originate_outcomes = {"*": "no-answer"}
        call = (await served.client.post("/v1/calls", json={"to": "+15551230001", "flow": "otp",
                                                             "variables": {"otp": "1"}, "timeout": 10})).json()
        early = await served.client.post(f"/v1/calls/{call['call_id']}/play", json={"text": "hi"})
        assert early.status_code == 409 and early.json()["error"]["code"] == "not_answered"
        assert await finished(served, call["call_id"]) == "no-answer"


@run
async def test_switch_down_is_a_clear_503_and_other_calls_go_on(tmp_path):
    async with serving(tmp_path, ami=False) as served:
        response = await served.client.post("/v1/calls", json={"to": "+15551230001", "flow": "otp",
                                                                "variables": {"otp": "1"}})
        assert response.status_code == 503
        assert response.json()["error"] == {"code": "switch_unavailable",
                                            "message": "placing calls on Asterisk needs [asterisk.ami]"}
        assert response.headers["retry-after"] == "5"
        bad = await served.client.post("/v1/calls", json={"to": "+15551230001", "flow": "otp",
                                                           "variables": {"otp": "1", "zzz": "12"}})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "undeclared_variable"  # not worth a retry
        world = World(dial={"*": DialOutcome("answer", talk=1)})
        inbound = served.fake.call(served.listener.address, path="none", world=world)
        assert (await inbound.finished).closed_by_server


@run
async def test_over_the_call_limit_a_request_is_refused_at_once(tmp_path):
    async with serving(tmp_path, extra="[daemon]\nmax_calls = 1\n") as served:
        served.fake.media_duration = lambda name: 100.0 if "long" in name else None
        first = (await served.client.post("/v1/calls", json={
            "to": "+15551230001", "flow": "broadcast", "variables": {"audio": "https://cdn.example.com/long.wav"}})).json()
        second = await served.client.post("/v1/calls", json={"to": "+15551230002", "flow": "otp",
                                                              "variables": {"otp": "1"}})
        assert second.status_code == 503 and second.json()["error"]["code"] == "over_capacity"
        assert second.headers["retry-after"] == "1"
        assert [c["call_id"] for c in (await served.client.get("/v1/calls")).json()["calls"]] == [first["call_id"]]
        await served.client.delete(f"/v1/calls/{first['call_id']}")
        assert await finished(served, first["call_id"]) in ("completed", "failed")
        assert len(served.fake.originates) == 1
