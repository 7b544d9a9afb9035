"""Campaigns against the fake Asterisk: pace, window, DND, retries, progress, stop."""

from __future__ import annotations

import pytest

from flowengine.control.calls import ControlError
from flowengine.control.pacer import Window, normalise, render
from tests.channels.asterisk.support import run

from .support import START, serving, wait_for

MESSAGE = {"message": "Dear {name}, your balance is {amount} rupees.", "voice": "Matthew"}


def contacts(n: int) -> list[dict]:
    return [{"number": f"+1555123{1000 + i}", "fields": {"name": f"N{i}", "amount": str(100 * i)}} for i in range(n)]


async def campaign(served, **body) -> dict:
    response = await served.client.post("/v1/campaigns", json={"name": "dues", "variables": MESSAGE, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def progress(served, campaign_id: str) -> dict:
    return (await served.client.get(f"/v1/campaigns/{campaign_id}")).json()


def offsets(served, campaign_id: str) -> list[float]:
    return [round(t - START, 3) for c, t in served.service.campaigns.started if c == campaign_id]


@run
async def test_calls_are_paced_per_minute(tmp_path):
    async with serving(tmp_path) as served:
        created = await campaign(served, contacts=contacts(5), calls_per_minute=30)  # one call every 2 s
        assert created["status"] == "running" and created["progress"]["total"] == 5
        for _ in range(12):
            await served.clock.advance(1)
        assert offsets(served, created["id"]) == [0.0, 2.0, 4.0, 6.0, 8.0]
        await wait_for(lambda: len(served.fake.originated) == 5 and all(c.finished.done() for c in served.fake.originated))
        record = served.fake.originated[1].finished.result()
        assert any("Dear N1, your balance is 100 rupees." in text for text, *_ in served.listener.tts.requests)
        assert served.fake.originates[0]["Channel"] == "Local/+15551231000@flowengine-outbound"
        await wait_for(lambda: not served.service.campaigns.tasks)
        await served.clock.advance(2)
        state = await progress(served, created["id"])
        assert state["status"] == "completed"
        assert state["progress"]["done"] == 5 and state["progress"]["results"] == {"completed": 5}
        assert record.commands[-1] == "EXEC Hangup 16"


@run
async def test_nothing_is_dialled_outside_the_window(tmp_path):
    window = {"timezone": "Asia/Kolkata", "from": "14:00", "to": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
    async with serving(tmp_path) as served:  # START is Friday 13:30 in Kolkata
        created = await campaign(served, contacts=contacts(2), calls_per_minute=60, window=window)
        assert created["window_open"] is False and created["next_call_at"] == "2027-01-15T08:30:00Z"
        await served.clock.advance(1799)
        assert served.service.campaigns.started == [] and not served.fake.originates
        await served.clock.advance(1)
        await served.clock.advance(1)
        assert offsets(served, created["id"]) == [1800.0, 1801.0]
        state = await progress(served, created["id"])
        assert state["window_open"] is True


@run
async def test_the_window_closes_and_reopens_on_the_next_working_day(tmp_path):
    window = {"timezone": "Asia/Kolkata", "from": "13:00", "to": "13:31", "days": ["fri", "mon"],
              "end_at": "2027-01-25 00:00:00"}
    async with serving(tmp_path, poll_interval=3600) as served:
        created = await campaign(served, contacts=contacts(3), calls_per_minute=1, window=window)
        await served.clock.advance(120)  # 13:30 → 13:32: one call at 13:30, then the window shuts
        assert offsets(served, created["id"]) == [0.0]
        state = await progress(served, created["id"])
        assert state["next_call_at"] == "2027-01-18T07:30:00Z"  # Monday 13:00 in Kolkata
        await served.clock.advance(3 * 86400 - 120 - 1800)  # Monday 13:00
        await served.clock.advance(61)
        assert offsets(served, created["id"]) == [0.0, 3 * 86400 - 1800, 3 * 86400 - 1800 + 60]


@run
async def test_dnd_numbers_are_never_called(tmp_path):
    async with serving(tmp_path) as served:
        people = contacts(4)
        created = await campaign(served, contacts=people, calls_per_minute=600,
                                 dnd=["+1 555-123-1001", "+15551231003"])
        assert created["progress"]["dnd"] == 2 and created["progress"]["pending"] == 2
        for _ in range(5):
            await served.clock.advance(0.1)
        await wait_for(lambda: len(served.fake.originates) == 2)
        called = sorted(o["Channel"] for o in served.fake.originates)
        assert called == ["Local/+15551231000@flowengine-outbound", "Local/+15551231002@flowengine-outbound"]


@run
async def test_busy_contacts_are_retried_then_given_up(tmp_path):
    async with serving(tmp_path) as served:
        served.fake.originate_outcomes = {"+15551231001": "busy", "*": "answer"}
        created = await campaign(served, contacts=contacts(2), calls_per_minute=60,
                                 retry={"on": ["busy"], "max": 1, "delay": 30})
        await served.clock.advance(2)
        await wait_for(lambda: not served.service.campaigns.tasks and len(served.fake.originates) == 2)
        state = await progress(served, created["id"])
        assert state["progress"]["retrying"] == 1
        await served.clock.advance(28)  # the busy call ended at t=1 or 2: its retry is due at 31 or 32
        assert len(served.fake.originates) == 2
        await served.clock.advance(4)
        await wait_for(lambda: not served.service.campaigns.tasks and len(served.fake.originates) == 3)
        await served.clock.advance(1)
        state = await progress(served, created["id"])
        assert state["status"] == "completed"
        assert state["progress"]["results"] == {"busy": 1, "completed": 1}
        rows = (await served.client.get(f"/v1/campaigns/{created['id']}/contacts")).json()["contacts"]
        assert [(r["number"], r["status"], r["attempts"], r["result"]) for r in rows] == [
            ("+15551231000", "done", 1, "completed"), ("+15551231001", "done", 2, "busy")]
        assert (await served.client.get("/v1/campaigns/nope/contacts")).status_code == 404


@run
async def test_stop_and_bad_campaigns(tmp_path):
    async with serving(tmp_path) as served:
        created = await campaign(served, contacts=contacts(3), calls_per_minute=1)
        stopped = await served.client.post(f"/v1/campaigns/{created['id']}/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        again = await served.client.post(f"/v1/campaigns/{created['id']}/resume")
        assert again.status_code == 409 and again.json()["error"]["code"] == "campaign_state"
        await served.clock.advance(300)
        assert len(served.fake.originates) <= 1
        bad = await served.client.post("/v1/campaigns", json={"name": "x", "contacts": ["+1555"], "calls_per_minute": 0})
        assert bad.status_code == 422
        hours = await served.client.post("/v1/campaigns", json={"name": "x", "contacts": ["+1555"], "calls_per_minute": 5,
                                                                "window": {"from": "18:00", "to": "09:00"}})
        assert hours.status_code == 422 and hours.json()["error"]["code"] == "invalid_window"
        flow = await served.client.post("/v1/campaigns", json={"name": "x", "contacts": ["+1555"], "calls_per_minute": 5,
                                                               "flow": "broadcst"})
        assert flow.status_code == 404 and "did you mean 'broadcast'?" in flow.json()["error"]["message"]
        listed = (await served.client.get("/v1/campaigns")).json()["campaigns"]
        assert [c["id"] for c in listed] == [created["id"]]


def test_Window_open_and_next_open():
    window = Window.from_spec({"timezone": "Europe/Paris", "from": "09:00", "to": "18:00", "days": ["mon", "tue"],
                               "start_at": "2027-01-01 00:00:00"})
    friday_noon = 1_800_000_000.0 + 3 * 3600  # Fri 2027-01-15 12:00 in Paris
    assert not window.is_open(friday_noon)
    monday = window.next_open(friday_noon)
    assert monday == 1_800_000_000.0 + 3 * 86400 + 0 * 3600  # Mon 09:00 Paris = 08:00Z
    assert window.is_open(monday) and not window.is_open(monday - 1)
    closed = Window.from_spec({"end_at": "2027-01-01T00:00:00Z"})
    assert closed.next_open(friday_noon) is None
    with pytest.raises(ControlError):
        Window.from_spec({"start_at": "2027-01-02 00:00", "end_at": "2027-01-01 00:00"})


def test_render_and_normalise():
    assert render({"m": "Hi {name}, {missing}", "n": [1, "{name}"]}, {"name": "Ann"}) == {"m": "Hi Ann, {missing}",
                                                                                          "n": [1, "Ann"]}
    assert normalise("+1 (555) 123-4567") == "+15551234567"
