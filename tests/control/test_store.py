"""The store on SQLite and on PostgreSQL: work is claimed once, whatever the number of daemons."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.control.config import StoreConfig
from flowengine.control.store import Conflict, Store



@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def config(request, tmp_path):
    if request.param == "sqlite":
        return StoreConfig(kind="sqlite", sqlite=str(tmp_path / "control.sqlite"))
    dsn = request.getfixturevalue("pg_dsn")
    if dsn is None:
        pytest.skip("no PostgreSQL here (set FLOWENGINE_TEST_PG, or put initdb/pg_ctl on PATH)")
    store = Store.open(StoreConfig(kind="postgresql", dsn=dsn))
    for table in ("fe_callbacks", "fe_campaigns", "fe_contacts", "fe_live_calls"):
        store._conn.execute(f"DELETE FROM {table}")
    store._conn.close()
    return StoreConfig(kind="postgresql", dsn=dsn)


def run(coroutine):
    return asyncio.run(coroutine)


def test_Store_callbacks_are_claimed_once_by_competing_daemons(config):
    async def scenario():
        a, b = Store.open(config), Store.open(config)
        for i in range(20):
            await a.add_callback({"id": f"cb{i:02d}", "flow": "otp", "request": {"to": "1"}, "run_at": 100.0 + i,
                                  "timezone": "UTC", "created_at": 1.0})
        assert await a.claim_callbacks("a", 50.0) == []

        async def claimer(store, owner):
            got = []
            while batch := await store.claim_callbacks(owner, 200.0, limit=3):
                got += [c["id"] for c in batch]
            return got

        got_a, got_b = await asyncio.gather(claimer(a, "a"), claimer(b, "b"))
        assert sorted(got_a + got_b) == [f"cb{i:02d}" for i in range(20)] and not set(got_a) & set(got_b)
        assert (await a.get_callback("cb00"))["status"] == "running"
        with pytest.raises(Conflict):
            await a.update_callback("cb00", {"run_at": 500.0}, 60.0)
        assert await a.update_callback("nope", {"run_at": 500.0}, 60.0) is None
        # either daemon may have claimed everything: recover the work of one that claimed some
        (mine, owner, other), got = ((a, "a", b), got_a) if got_a else ((b, "b", a), got_b)
        await mine.finish_callback(got[0], "completed", "completed", "call-1", 70.0)
        recovered = await other.recover(owner, 300.0, 0.0)
        assert recovered["callbacks"] == len(got) - 1
        assert (await mine.get_callback(got[-1]))["result"] == "interrupted"
        await a.close()
        await b.close()
    run(scenario())


def test_Store_contacts_keep_the_pace_and_are_claimed_once(config):
    async def scenario():
        a, b = Store.open(config), Store.open(config)
        contacts = [(f"+1555000{i:04d}", {"i": str(i)}, i % 7 == 3) for i in range(40)]
        await a.add_campaign({"id": "c1", "name": "n", "spec": {"x": 1}, "status": "running", "created_at": 0.0},
                             contacts)
        first = await a.claim_contact("c1", "a", 0.0, 10.0)
        assert first.kind == "call" and first.contact["number"] == "+15550000000"
        waiting = await b.claim_contact("c1", "b", 5.0, 10.0)
        assert (waiting.kind, waiting.at) == ("wait", 10.0)
        assert (await a.progress("c1"))["dialing"] == 1
        await a.finish_contact("c1", first.contact["seq"], "completed", None)

        async def claimer(store, owner):
            numbers, now = [], 10.0
            while True:
                claim = await store.claim_contact("c1", owner, now, 0.001)
                if claim.kind == "done":
                    return numbers
                if claim.kind == "call":
                    numbers.append(claim.contact["number"])
                    await store.finish_contact("c1", claim.contact["seq"], "completed", None)
                now += 0.001

        got_a, got_b = await asyncio.gather(claimer(a, "a"), claimer(b, "b"))
        dialled = got_a + got_b
        assert len(dialled) == len(set(dialled)) == 40 - 6 - 1
        assert not any(n in dialled for n, _, dnd in contacts if dnd)
        progress = await a.progress("c1")
        assert progress["dnd"] == 6 and progress["done"] == 34 and progress["result:completed"] == 34
        assert (await a.get_campaign("c1"))["status"] == "completed"

        await a.add_campaign({"id": "c2", "name": "n", "spec": {}, "status": "running", "created_at": 0.0},
                             [("+15550009999", {}, False)])
        once = await a.claim_contact("c2", "a", 0.0, 1.0)
        await a.finish_contact("c2", once.contact["seq"], "busy", 99.0)
        assert (await a.claim_contact("c2", "a", 50.0, 1.0)).kind == "wait"
        retry = await a.claim_contact("c2", "a", 99.0, 1.0)
        assert retry.kind == "call" and retry.contact["attempts"] == 2
        await a.release_contact("c2", retry.contact["seq"], 200.0)
        row = (await a.contacts("c2"))[0]
        assert (row["attempts"], row["status"], row["next_at"]) == (1, "retry", 200.0)
        await a.close()
        await b.close()
    run(scenario())


def test_Store_live_calls_expire(config):
    async def scenario():
        store = Store.open(config)
        await store.put_live("k1", "a", {"flow": "otp"}, 100.0)
        await store.put_live("k1", "a", {"flow": "otp", "status": "in-progress"}, 150.0)
        await store.put_live("k2", "b", {"flow": "broadcast"}, 50.0)
        assert [c["call_id"] for c in await store.live_calls(60.0)] == ["k1"]
        assert (await store.live_calls(60.0))[0] == {"flow": "otp", "status": "in-progress", "call_id": "k1", "daemon": "a"}
        await store.drop_live("k1")
        assert await store.live_calls(0.0) == [{"flow": "broadcast", "call_id": "k2", "daemon": "b"}]
        await store.close()
    run(scenario())
