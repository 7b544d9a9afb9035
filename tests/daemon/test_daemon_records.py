"""Call records in SQLite: written off the event loop, read back newest first."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from flowengine.daemon.records import COLUMNS, CallRecord, RecordStore
from tests.channels.asterisk.support import run


def record(call_id: str, ended: str, outcome: str = "flow_end") -> CallRecord:
    return CallRecord(call_id=call_id, started_at="2026-11-29T10:00:00.000Z", ended_at=ended, duration=3.5,
                      flow="menu", flow_version=2, trigger="inbound-call", backend="asterisk", caller="+1555",
                      called="100", channel="PJSIP/a-1", outcome=outcome, cause=None, steps=3,
                      path=["welcome", "menu", "bye"], errors=["E_FETCH"])


@run
async def test_RecordStore_writes_and_reads_back(tmp_path):
    store = RecordStore(str(tmp_path / "calls.sqlite"))
    for index in range(3):
        store.add(record(f"c{index}", f"2026-11-29T10:00:0{index}.000Z"))
    recent = None
    for _ in range(200):  # records are committed in batches, within a quarter of a second
        recent = await store.recent(2)
        if len(recent) == 2:
            break
        await asyncio.sleep(0.01)
    assert [r["call_id"] for r in recent] == ["c2", "c1"]
    assert recent[0]["path"] == ["welcome", "menu", "bye"] and recent[0]["errors"] == ["E_FETCH"]
    assert recent[0]["report"] is None
    await store.close()
    with sqlite3.connect(tmp_path / "calls.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM calls").fetchone() == (3,)


def test_RecordStore_unwritable_path_fails_at_start(tmp_path):
    with pytest.raises(sqlite3.Error):
        RecordStore(str(tmp_path / "missing-dir" / "calls.sqlite"))


@run
async def test_RecordStore_adds_the_report_column_to_a_version_1_database(tmp_path):
    path = tmp_path / "calls.sqlite"
    columns = ", ".join(f"{name} TEXT" for name in COLUMNS if name != "report")
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE calls ({columns})")
        db.execute("INSERT INTO calls (call_id, started_at) VALUES ('old', '2026-01-01T00:00:00.000Z')")
        db.execute("PRAGMA user_version=1")
    store = RecordStore(str(path))
    store.add(CallRecord(**{**record("new", "2026-11-29T10:00:01.000Z").__dict__, "report": {"outcome": "voicemail"}}))
    await store.close()
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT call_id, report FROM calls").fetchall())
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert rows == {"old": None, "new": '{"outcome":"voicemail"}'}
