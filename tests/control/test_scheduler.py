"""Scheduled callbacks: create/update/cancel, placed at their time, kept across a restart, dialled
once by one of several daemons sharing the store."""

from __future__ import annotations

import asyncio

from flowengine.control.clock import ManualClock
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts
from tests.channels.asterisk.support import run

from .support import START, serving, wait_for

AGENT = "+15551230100"
CUSTOMER = "+15551230200"
BODY = {"at": "2027-01-15 14:00:00", "timezone": "Asia/Kolkata", "to": AGENT, "from": "+15559870000",
        "variables": {"destination": CUSTOMER}}  # 14:00 IST = 08:30Z, 30 minutes after START


async def status_of(served, callback_id: str) -> dict:
    return (await served.client.get(f"/v1/callbacks/{callback_id}")).json()


@run
async def test_create_update_cancel(tmp_path):
    async with serving(tmp_path, poll_interval=900) as served:
        created = await served.client.post("/v1/callbacks", json=BODY)
        assert created.status_code == 201, created.text
        callback = created.json()
        assert callback["status"] == "scheduled" and callback["at"] == "2027-01-15T08:30:00Z"
        assert callback["flow"] == "callback" and callback["to"] == AGENT
        assert created.headers["location"] == f"/v1/callbacks/{callback['id']}"
        moved = await served.client.patch(f"/v1/callbacks/{callback['id']}", json={"at": "2027-01-15T09:00:00Z",
                                                                                    "variables": {"destination": "+15551230300"}})
        assert moved.status_code == 200, moved.text
        assert moved.json()["at"] == "2027-01-15T09:00:00Z" and moved.json()["variables"] == {"destination": "+15551230300"}
        assert moved.json()["timezone"] == "Asia/Kolkata"
        listed = (await served.client.get("/v1/callbacks", params={"status": "scheduled"})).json()["callbacks"]
        assert [c["id"] for c in listed] == [callback["id"]]
        unknown = await served.client.get("/v1/callbacks", params={"status": "schedule"})
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_request", unknown.text
        cancelled = await served.client.delete(f"/v1/callbacks/{callback['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        late = await served.client.patch(f"/v1/callbacks/{callback['id']}", json={"at": "2027-01-15T10:00:00Z"})
        assert late.status_code == 409 and late.json()["error"]["code"] == "not_scheduled"
        assert (await served.client.delete("/v1/callbacks/nope")).status_code == 404
        past = await served.client.post("/v1/callbacks", json={**BODY, "at": "2027-01-15 13:00:00"})
        assert past.status_code == 422 and past.json()["error"]["code"] == "time_in_past"
        zone = await served.client.post("/v1/callbacks", json={**BODY, "timezone": "Asia/Kolkatta"})
        assert zone.status_code == 422 and zone.json()["error"]["code"] == "invalid_timezone"
        garbled = await served.client.post("/v1/callbacks", json={**BODY, "at": "tomorrow at noon"})
        assert garbled.status_code == 422 and garbled.json()["error"]["code"] == "invalid_time"
        await served.clock.advance(7200)
        assert not served.fake.originates  # cancelled: never dialled


@run
async def test_a_callback_survives_a_daemon_restart(tmp_path):
    clock = ManualClock(START)
    async with serving(tmp_path, clock=clock) as served:
        callback = (await served.client.post("/v1/callbacks", json=BODY)).json()
        await clock.advance(600)
        assert not served.fake.originates
    # the daemon is gone; a new one starts on the same store 20 minutes later
    clock = ManualClock(START + 1200)
    async with serving(tmp_path, clock=clock, daemon_id="daemon-a") as served:
        assert (await status_of(served, callback["id"]))["status"] == "scheduled"
        await clock.advance(599)
        assert not served.fake.originates
        await clock.advance(1)
        await wait_for(lambda: len(served.fake.originates) == 1)
        assert served.fake.originates[0]["Channel"] == f"Local/{AGENT}@flowengine-outbound"
        await wait_for(lambda: served.fake.originated and served.fake.originated[0].finished.done())
        record = served.fake.originated[0].finished.result()
        assert any(c.startswith(f"EXEC Dial PJSIP/{CUSTOMER}") for c in record.commands)
        for _ in range(200):
            state = await status_of(served, callback["id"])
            if state["status"] != "running":
                break
            await asyncio.sleep(0.01)
        assert state["status"] == "completed" and state["result"] == "completed" and state["call_id"]
        assert state["daemon"] == "daemon-a"


@run
async def test_a_callback_in_flight_at_a_crash_is_not_dialled_again(tmp_path):
    clock = ManualClock(START)
    async with serving(tmp_path, clock=clock, time_scale=0.05) as served:
        callback = (await served.client.post("/v1/callbacks", json=BODY)).json()
        await clock.advance(1800)
        await wait_for(lambda: len(served.fake.originates) == 1)
        assert (await status_of(served, callback["id"]))["status"] == "running"
        await served.service.stop()  # the runner dies with the call still ringing
    async with serving(tmp_path, clock=ManualClock(START + 1900)) as served:
        state = await status_of(served, callback["id"])
        assert state["status"] in ("failed", "completed")
        await served.clock.advance(600)
        assert not served.fake.originates


@run
async def test_two_daemons_on_one_store_dial_a_callback_once(tmp_path):
    tts = FakeTts()
    fake = FakeAsterisk(time_scale=0.001, media_duration=tts.duration)
    await fake.start_ami()
    clock_a, clock_b = ManualClock(START), ManualClock(START)
    async with serving(tmp_path, clock=clock_a, fake=fake, daemon_id="a") as first, \
            serving(tmp_path, clock=clock_b, fake=fake, daemon_id="b") as second:
        ids = [(await first.client.post("/v1/callbacks", json={**BODY, "to": f"+1555123010{i}"})).json()["id"]
               for i in range(6)]
        await asyncio.gather(clock_a.advance(1800), clock_b.advance(1800))
        await wait_for(lambda: len(fake.originates) >= 6)
        await asyncio.sleep(0.1)
        assert sorted(o["Channel"] for o in fake.originates) == sorted(
            f"Local/+1555123010{i}@flowengine-outbound" for i in range(6))
        owners = {(await status_of(second, i))["daemon"] for i in ids}
        assert owners <= {"a", "b"}
