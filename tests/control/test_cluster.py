"""Two daemons on one store (SQLite file or PostgreSQL) share a campaign: every contact is called once
and the campaign's pace holds across both."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.control.clock import ManualClock
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts
from tests.channels.asterisk.support import run

from .support import START, serving, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_section(request):
    if request.param == "sqlite":
        return ""
    dsn = request.getfixturevalue("pg_dsn")
    if dsn is None:
        pytest.skip("no PostgreSQL here (set FLOWENGINE_TEST_PG, or put initdb/pg_ctl on PATH)")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        for table in ("fe_callbacks", "fe_campaigns", "fe_contacts", "fe_live_calls"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    return f'kind = "postgresql"\ndsn = "{dsn}"\n'


@run
async def test_two_daemons_share_a_campaign_without_double_dialling(tmp_path, store_section):
    tts = FakeTts()
    fake = FakeAsterisk(time_scale=0.001, media_duration=tts.duration)
    await fake.start_ami()
    clock_a, clock_b = ManualClock(START), ManualClock(START)
    numbers = [f"+1555124{i:04d}" for i in range(12)]
    async with serving(tmp_path, clock=clock_a, fake=fake, daemon_id="a", store=store_section) as first, \
            serving(tmp_path, clock=clock_b, fake=fake, daemon_id="b", store=store_section) as second:
        created = await first.client.post("/v1/campaigns", json={
            "name": "shared", "contacts": numbers, "calls_per_minute": 120, "variables": {"message": "Hello"}})
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        for _ in range(16):  # 8 s at one call every 0.5 s
            await asyncio.gather(clock_a.advance(0.5), clock_b.advance(0.5))
        await wait_for(lambda: len(fake.originates) == 12)
        called = [o["Channel"].split("@")[0][6:] for o in fake.originates]
        assert sorted(called) == numbers  # each once
        starts = sorted(t - START for service in (first.service, second.service)
                        for c, t in service.campaigns.started if c == campaign_id)
        assert len(starts) == 12
        assert all(b - a >= 0.5 - 1e-9 for a, b in zip(starts, starts[1:]))  # never faster than the pace
        assert starts[-1] <= 6.0
        await wait_for(lambda: all(c.finished.done() for c in fake.originated))
        await wait_for(lambda: not first.service.campaigns.tasks and not second.service.campaigns.tasks)
        await asyncio.gather(clock_a.advance(1), clock_b.advance(1))
        state = (await second.client.get(f"/v1/campaigns/{campaign_id}")).json()
        assert state["status"] == "completed" and state["progress"]["results"] == {"completed": 12}
