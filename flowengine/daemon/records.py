"""Call records: one row per call (start, end, flow, outcome, path of states) in SQLite.

Rules kept here:
  * The event loop never waits on the disk: `add()` only queues the record; one writer thread owns the
    connection and commits in batches (what arrives within a quarter of a second). `close()` drains
    the queue (the daemon calls it last).
  * The database is opened in WAL mode so readers (the control API, `sqlite3` by hand) never block the
    writer. The schema is created if missing and carries a version in `PRAGMA user_version`.
  * A write failure is logged, never raised into a call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallRecord", "RecordStore"]

log = logging.getLogger("flowengine.records")

SCHEMA_VERSION = 2  # 2: the `report` column
SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id      TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    ended_at     TEXT NOT NULL,
    duration     REAL NOT NULL,
    flow         TEXT NOT NULL,
    flow_version INTEGER NOT NULL,
    trigger      TEXT NOT NULL,
    backend      TEXT NOT NULL,
    caller       TEXT,
    called       TEXT,
    channel      TEXT,
    outcome      TEXT NOT NULL,
    cause        TEXT,
    steps        INTEGER NOT NULL,
    path         TEXT NOT NULL,
    errors       TEXT NOT NULL,
    report       TEXT
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at);
"""
COLUMNS = ("call_id", "started_at", "ended_at", "duration", "flow", "flow_version", "trigger", "backend",
           "caller", "called", "channel", "outcome", "cause", "steps", "path", "errors", "report")


@dataclass
class CallRecord:
    call_id: str
    started_at: str
    ended_at: str
    duration: float
    flow: str
    flow_version: int
    trigger: str
    backend: str
    caller: str | None
    called: str | None
    channel: str | None
    outcome: str  # the run's end reason (flow_end, caller_hangup, hangup, error, …) or crash / drain_timeout
    cause: str | None  # why, when the outcome alone does not say (a protocol error, an exception)
    steps: int
    path: list[str] = field(default_factory=list)  # state ids in the order they ran
    errors: list[str] = field(default_factory=list)  # error event codes
    report: dict[str, Any] | None = None  # an IVR flow's per-call record (formats/ivr/report.py), as JSON

    def row(self) -> tuple:
        """The values in COLUMNS order (lists as compact JSON)."""
        return (self.call_id, self.started_at, self.ended_at, self.duration, self.flow, self.flow_version,
                self.trigger, self.backend, self.caller, self.called, self.channel, self.outcome, self.cause,
                self.steps, json.dumps(self.path, separators=(",", ":")),
                json.dumps(self.errors, separators=(",", ":")),
                None if self.report is None else json.dumps(self.report, separators=(",", ":"), ensure_ascii=False))


_STOP = object()
BATCH_WINDOW = 0.25  # seconds a record may wait for others to share its commit
BATCH_ROWS = 500


class RecordStore:
    def __init__(self, path: str):
        self.path = path
        self._queue: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._writer, name="flowengine-records", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _writer(self) -> None:
        try:
            connection = self._connect()
            connection.executescript(SCHEMA)
            known = {row[1] for row in connection.execute("PRAGMA table_info(calls)")}
            if "report" not in known:  # a version-1 database: the column is added, old rows keep NULL
                connection.execute("ALTER TABLE calls ADD COLUMN report TEXT")
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            connection.commit()
        except sqlite3.Error as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        insert = f"INSERT OR REPLACE INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        stop = False
        while not stop:
            batch = self._next_batch()
            rows = []
            for item in batch:
                if item is _STOP:
                    stop = True
                else:
                    rows.append(item.row())
            if rows:
                try:
                    connection.executemany(insert, rows)
                    connection.commit()
                except sqlite3.Error as exc:
                    log.error("could not write %d call record(s) to %s: %s", len(rows), self.path, exc)
        connection.close()

    def _next_batch(self) -> list:
        """What to write in one transaction: the next record and those that follow within BATCH_WINDOW
        (at most BATCH_ROWS). A commit per busy moment, not per call: under load this is most of the
        writer's CPU. The stop marker ends the wait at once."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + BATCH_WINDOW
        while len(batch) < BATCH_ROWS and batch[-1] is not _STOP:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def add(self, record: CallRecord) -> None:
        """Queue a record (returns at once)."""
        self._queue.put(record)

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join, 10)

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest records, newest first (read on a worker thread with its own connection)."""
        return await asyncio.to_thread(self._recent, limit)

    def _recent(self, limit: int) -> list[dict[str, Any]]:
        connection = self._connect()
        try:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM calls ORDER BY ended_at DESC LIMIT ?", (limit,)).fetchall()
            out = []
            for row in rows:
                item = dict(row)
                item["path"] = json.loads(item["path"])
                item["errors"] = json.loads(item["errors"])
                item["report"] = json.loads(item["report"]) if item["report"] else None
                out.append(item)
            return out
        finally:
            connection.close()
