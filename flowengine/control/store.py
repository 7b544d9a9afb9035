"""The control plane's shared state: scheduled callbacks, campaigns and their contacts, live calls.

    store = Store.open(StoreConfig(kind="sqlite", sqlite="control.sqlite"))   # or kind="postgresql", dsn=…
    claimed = await store.claim_callbacks(owner="daemon-a", now=clock.time(), limit=10)

SQLite by default (one file, WAL); PostgreSQL when several daemons share the work. The SQL is one text
for both, written with `?` placeholders; a Dialect row says what differs (placeholders, how a write
transaction starts, row locks). Rules kept here:
  * Work is claimed, never just read: a callback goes scheduled → running and a contact pending →
    dialing inside one write transaction whose UPDATE re-checks the old status, so two daemons never
    dial the same callback or contact. PostgreSQL locks the rows it picks (`FOR UPDATE SKIP LOCKED`,
    `FOR UPDATE` on the campaign row that holds the pace); SQLite serialises writers (`BEGIN IMMEDIATE`).
  * The campaign's pace lives in its row (`next_slot`), so the pace is the campaign's, whatever the
    number of daemons dialling it.
  * Times are Unix seconds (UTC) as floats; structured values are JSON text.
  * The event loop never waits on the database: each operation runs on a worker thread, one at a time
    per Store (a lock), on the Store's own connection.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Callable

from .config import StoreConfig

__all__ = ["Store", "Dialect", "SQLITE", "POSTGRESQL", "Conflict", "Claim"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS fe_callbacks (
    id          TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    request     TEXT NOT NULL,
    run_at      DOUBLE PRECISION NOT NULL,
    timezone    TEXT NOT NULL,
    status      TEXT NOT NULL,
    owner       TEXT,
    claimed_at  DOUBLE PRECISION,
    call_id     TEXT,
    result      TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS fe_callbacks_due ON fe_callbacks (status, run_at);
CREATE TABLE IF NOT EXISTS fe_campaigns (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    status      TEXT NOT NULL,
    next_slot   DOUBLE PRECISION NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS fe_contacts (
    campaign_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    number      TEXT NOT NULL,
    fields      TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     DOUBLE PRECISION NOT NULL,
    result      TEXT,
    call_id     TEXT,
    owner       TEXT,
    claimed_at  DOUBLE PRECISION,
    PRIMARY KEY (campaign_id, seq)
);
CREATE INDEX IF NOT EXISTS fe_contacts_due ON fe_contacts (campaign_id, status, next_at);
CREATE TABLE IF NOT EXISTS fe_live_calls (
    call_id     TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    info        TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
)
"""

# Contact statuses: pending and retry need a call, dialing is in flight, done and dnd are final.


@dataclass(frozen=True)
class Dialect:
    name: str
    param: str
    """The driver's placeholder (the SQL here is written with `?`)."""
    begin: str
    """How a transaction that will write starts (SQLite takes the write lock at once)."""
    lock: str
    """Suffix locking the selected row for the transaction."""
    skip_locked: str
    """Suffix locking the selected rows and skipping rows other transactions hold."""


SQLITE = Dialect("sqlite", "?", "BEGIN IMMEDIATE", "", "")
POSTGRESQL = Dialect("postgresql", "%s", "BEGIN", " FOR UPDATE", " FOR UPDATE SKIP LOCKED")


class Conflict(Exception):
    """The row exists but is not in a state that allows the change (e.g. a callback already running)."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Claim:
    """What a campaign's pacer may do now: `call` (the contact), `wait` (until `at`), or `done`."""

    kind: str
    at: float = 0.0
    contact: dict | None = None


class Store:
    """See the module docstring. Build with `Store.open(config)`; `await close()` at the end."""

    def __init__(self, connection: Any, dialect: Dialect):
        self._conn = connection
        self.dialect = dialect
        self._lock = threading.Lock()
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)

    @classmethod
    def open(cls, config: StoreConfig, path: Callable[[str], str] = lambda p: p) -> "Store":
        if config.kind == "postgresql":
            import psycopg

            return cls(psycopg.connect(config.resolved_dsn(), autocommit=True), POSTGRESQL)
        connection = sqlite3.connect(path(config.sqlite), timeout=10, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return cls(connection, SQLITE)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- plumbing ------------------------------------------------------------------------------------

    async def _run(self, fn: Callable[["_Tx"], Any]) -> Any:
        return await asyncio.to_thread(self._transaction, fn)

    def _transaction(self, fn: Callable[["_Tx"], Any]) -> Any:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute(self.dialect.begin)
            try:
                result = fn(_Tx(cursor, self.dialect))
            except Exception:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            return result

    # -- scheduled callbacks -------------------------------------------------------------------------

    async def add_callback(self, record: dict) -> None:
        def add(tx: _Tx) -> None:
            tx.execute("INSERT INTO fe_callbacks (id, flow, request, run_at, timezone, status, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?)",
                       record["id"], record["flow"], json.dumps(record["request"]), record["run_at"],
                       record["timezone"], record["created_at"], record["created_at"])
        await self._run(add)

    async def get_callback(self, callback_id: str) -> dict | None:
        return await self._run(lambda tx: _callback(tx.one("SELECT * FROM fe_callbacks WHERE id = ?", callback_id)))

    async def list_callbacks(self, status: str | None = None, limit: int = 100) -> list[dict]:
        def select(tx: _Tx) -> list[dict]:
            if status:
                rows = tx.all("SELECT * FROM fe_callbacks WHERE status = ? ORDER BY run_at LIMIT ?", status, limit)
            else:
                rows = tx.all("SELECT * FROM fe_callbacks ORDER BY run_at LIMIT ?", limit)
            return [_callback(row) for row in rows]
        return await self._run(select)

    async def update_callback(self, callback_id: str, changes: dict, now: float) -> dict | None:
        """Change a scheduled callback (flow, request, run_at, timezone, or status=cancelled). None when
        there is no such callback; Conflict when it is no longer scheduled."""
        def update(tx: _Tx) -> dict | None:
            row = tx.one(f"SELECT * FROM fe_callbacks WHERE id = ?{tx.dialect.lock}", callback_id)
            if row is None:
                return None
            if row["status"] != "scheduled":
                raise Conflict(row["status"])
            values = {k: json.dumps(v) if k == "request" else v for k, v in changes.items()}
            assignments = ", ".join(f"{k} = ?" for k in values)
            tx.execute(f"UPDATE fe_callbacks SET {assignments}, updated_at = ? WHERE id = ? AND status = 'scheduled'",
                       *values.values(), now, callback_id)
            return _callback(tx.one("SELECT * FROM fe_callbacks WHERE id = ?", callback_id))
        return await self._run(update)

    async def claim_callbacks(self, owner: str, now: float, limit: int = 10) -> list[dict]:
        """Due callbacks, moved to `running` for `owner` (at most `limit`)."""
        def claim(tx: _Tx) -> list[dict]:
            rows = tx.all("SELECT id FROM fe_callbacks WHERE status = 'scheduled' AND run_at <= ? "
                          f"ORDER BY run_at LIMIT ?{tx.dialect.skip_locked}", now, limit)
            claimed = []
            for row in rows:
                if tx.execute("UPDATE fe_callbacks SET status = 'running', owner = ?, claimed_at = ?, updated_at = ? "
                              "WHERE id = ? AND status = 'scheduled'", owner, now, now, row["id"]) == 1:
                    claimed.append(_callback(tx.one("SELECT * FROM fe_callbacks WHERE id = ?", row["id"])))
            return claimed
        return await self._run(claim)

    async def next_callback_at(self) -> float | None:
        row = await self._run(lambda tx: tx.one("SELECT MIN(run_at) AS at FROM fe_callbacks WHERE status = 'scheduled'"))
        return row["at"] if row else None

    async def finish_callback(self, callback_id: str, status: str, result: str, call_id: str | None,
                              now: float) -> None:
        await self._run(lambda tx: tx.execute(
            "UPDATE fe_callbacks SET status = ?, result = ?, call_id = COALESCE(?, call_id), updated_at = ? "
            "WHERE id = ?", status, result, call_id, now, callback_id))

    async def set_callback_call(self, callback_id: str, call_id: str) -> None:
        await self._run(lambda tx: tx.execute("UPDATE fe_callbacks SET call_id = ? WHERE id = ?", call_id, callback_id))

    # -- campaigns -----------------------------------------------------------------------------------

    async def add_campaign(self, campaign: dict, contacts: list[tuple[str, dict, bool]]) -> None:
        """`contacts`: (number, fields, on the DND list) in dialling order; DND contacts are final at once."""
        def add(tx: _Tx) -> None:
            now = campaign["created_at"]
            tx.execute("INSERT INTO fe_campaigns (id, name, spec, status, next_slot, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", campaign["id"], campaign["name"], json.dumps(campaign["spec"]),
                       campaign["status"], now, now, now)
            rows = [(campaign["id"], seq, number, json.dumps(fields), "dnd" if dnd else "pending", 0, now,
                     "dnd" if dnd else None) for seq, (number, fields, dnd) in enumerate(contacts)]
            tx.executemany("INSERT INTO fe_contacts (campaign_id, seq, number, fields, status, attempts, next_at, result)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        await self._run(add)

    async def get_campaign(self, campaign_id: str) -> dict | None:
        return await self._run(lambda tx: _campaign(tx.one("SELECT * FROM fe_campaigns WHERE id = ?", campaign_id)))

    async def list_campaigns(self, statuses: tuple[str, ...] | None = None) -> list[dict]:
        def select(tx: _Tx) -> list[dict]:
            if statuses:
                marks = ", ".join("?" * len(statuses))
                rows = tx.all(f"SELECT * FROM fe_campaigns WHERE status IN ({marks}) ORDER BY created_at", *statuses)
            else:
                rows = tx.all("SELECT * FROM fe_campaigns ORDER BY created_at")
            return [_campaign(row) for row in rows]
        return await self._run(select)

    async def set_campaign_status(self, campaign_id: str, status: str, allowed_from: tuple[str, ...],
                                  now: float) -> dict | None:
        def update(tx: _Tx) -> dict | None:
            row = tx.one(f"SELECT status FROM fe_campaigns WHERE id = ?{tx.dialect.lock}", campaign_id)
            if row is None:
                return None
            if row["status"] not in allowed_from:
                raise Conflict(row["status"])
            tx.execute("UPDATE fe_campaigns SET status = ?, updated_at = ? WHERE id = ?", status, now, campaign_id)
            return _campaign(tx.one("SELECT * FROM fe_campaigns WHERE id = ?", campaign_id))
        return await self._run(update)

    async def progress(self, campaign_id: str) -> dict[str, int]:
        """Contacts by status (pending, retry, dialing, done, dnd) and final results (completed, busy, …)."""
        def count(tx: _Tx) -> dict[str, int]:
            out: dict[str, int] = {}
            for row in tx.all("SELECT status, result, COUNT(*) AS n FROM fe_contacts WHERE campaign_id = ? "
                              "GROUP BY status, result", campaign_id):
                out[row["status"]] = out.get(row["status"], 0) + row["n"]
                if row["status"] == "done" and row["result"]:
                    key = f"result:{row['result']}"
                    out[key] = out.get(key, 0) + row["n"]
            return out
        return await self._run(count)

    async def contacts(self, campaign_id: str, limit: int = 1000) -> list[dict]:
        return await self._run(lambda tx: [_contact(r) for r in tx.all(
            "SELECT * FROM fe_contacts WHERE campaign_id = ? ORDER BY seq LIMIT ?", campaign_id, limit)])

    async def claim_contact(self, campaign_id: str, owner: str, now: float, interval: float) -> Claim:
        """Take the campaign's next call slot and its next due contact, or say when to look again.

        The slot keeps the pace: the next one is `interval` after this one; a pacer that comes a little
        late catches up, one that comes after a long pause (a closed window) starts a fresh cadence."""
        def claim(tx: _Tx) -> Claim:
            campaign = tx.one(f"SELECT status, next_slot FROM fe_campaigns WHERE id = ?{tx.dialect.lock}", campaign_id)
            if campaign is None or campaign["status"] != "running":
                return Claim("done")
            slot = campaign["next_slot"]
            if slot > now:
                return Claim("wait", at=slot)
            contact = tx.one("SELECT * FROM fe_contacts WHERE campaign_id = ? AND status IN ('pending', 'retry') "
                             f"AND next_at <= ? ORDER BY next_at, seq LIMIT 1{tx.dialect.skip_locked}", campaign_id, now)
            if contact is None:
                pending = tx.one("SELECT MIN(next_at) AS at, COUNT(*) AS n FROM fe_contacts WHERE campaign_id = ? AND "
                                 "status IN ('pending', 'retry', 'dialing')", campaign_id)
                if not pending or not pending["n"]:
                    tx.execute("UPDATE fe_campaigns SET status = 'completed', updated_at = ? WHERE id = ? "
                               "AND status = 'running'", now, campaign_id)
                    return Claim("done")
                return Claim("wait", at=pending["at"] if pending["at"] and pending["at"] > now else now + interval)
            if tx.execute("UPDATE fe_contacts SET status = 'dialing', attempts = attempts + 1, owner = ?, claimed_at = ? "
                          "WHERE campaign_id = ? AND seq = ? AND status IN ('pending', 'retry')",
                          owner, now, campaign_id, contact["seq"]) != 1:
                return Claim("wait", at=now)
            base = slot if now - slot < interval else now
            tx.execute("UPDATE fe_campaigns SET next_slot = ?, updated_at = ? WHERE id = ?", base + interval, now,
                       campaign_id)
            contact = dict(contact, status="dialing", attempts=contact["attempts"] + 1)
            return Claim("call", contact=_contact(contact))
        return await self._run(claim)

    async def set_contact_call(self, campaign_id: str, seq: int, call_id: str) -> None:
        await self._run(lambda tx: tx.execute("UPDATE fe_contacts SET call_id = ? WHERE campaign_id = ? AND seq = ?",
                                              call_id, campaign_id, seq))

    async def finish_contact(self, campaign_id: str, seq: int, result: str, retry_at: float | None) -> None:
        """A contact's call ended with `result`; `retry_at` puts it back in line for another attempt."""
        if retry_at is not None:
            await self._run(lambda tx: tx.execute(
                "UPDATE fe_contacts SET status = 'retry', result = ?, next_at = ?, owner = NULL "
                "WHERE campaign_id = ? AND seq = ? AND status = 'dialing'", result, retry_at, campaign_id, seq))
        else:
            await self._run(lambda tx: tx.execute(
                "UPDATE fe_contacts SET status = 'done', result = ? WHERE campaign_id = ? AND seq = ? "
                "AND status = 'dialing'", result, campaign_id, seq))

    async def release_contact(self, campaign_id: str, seq: int, at: float) -> None:
        """A claimed contact the switch could not take: back in line at `at`, the attempt not counted."""
        await self._run(lambda tx: tx.execute(
            "UPDATE fe_contacts SET status = CASE WHEN attempts > 1 THEN 'retry' ELSE 'pending' END, "
            "attempts = attempts - 1, next_at = ?, owner = NULL WHERE campaign_id = ? AND seq = ? AND status = 'dialing'",
            at, campaign_id, seq))

    # -- recovery after a restart ----------------------------------------------------------------------

    async def recover(self, owner: str, now: float, stale_before: float) -> dict[str, int]:
        """Work this daemon (or any daemon, before `stale_before`) had in flight when it stopped ends as
        `interrupted`: it may have dialled, so it is never dialled again (no double calls)."""
        def recover(tx: _Tx) -> dict[str, int]:
            callbacks = tx.execute("UPDATE fe_callbacks SET status = 'failed', result = 'interrupted', updated_at = ? "
                                   "WHERE status = 'running' AND (owner = ? OR claimed_at < ?)", now, owner, stale_before)
            contacts = tx.execute("UPDATE fe_contacts SET status = 'done', result = 'interrupted' WHERE "
                                  "status = 'dialing' AND (owner = ? OR claimed_at < ?)", owner, stale_before)
            live = tx.execute("DELETE FROM fe_live_calls WHERE owner = ? OR expires_at < ?", owner, now)
            return {"callbacks": callbacks, "contacts": contacts, "live_calls": live}
        return await self._run(recover)

    # -- live calls (every daemon's, for GET /v1/calls) ------------------------------------------------

    async def put_live(self, call_id: str, owner: str, info: dict, expires_at: float) -> None:
        def put(tx: _Tx) -> None:
            if tx.execute("UPDATE fe_live_calls SET owner = ?, info = ?, expires_at = ? WHERE call_id = ?",
                          owner, json.dumps(info), expires_at, call_id) == 0:
                tx.execute("INSERT INTO fe_live_calls (call_id, owner, info, expires_at) VALUES (?, ?, ?, ?)",
                           call_id, owner, json.dumps(info), expires_at)
        await self._run(put)

    async def drop_live(self, call_id: str) -> None:
        await self._run(lambda tx: tx.execute("DELETE FROM fe_live_calls WHERE call_id = ?", call_id))

    async def live_calls(self, now: float) -> list[dict]:
        rows = await self._run(lambda tx: tx.all(
            "SELECT * FROM fe_live_calls WHERE expires_at >= ? ORDER BY call_id", now))
        return [{**json.loads(row["info"]), "call_id": row["call_id"], "daemon": row["owner"]} for row in rows]


class _Tx:
    """One transaction's cursor: `?` SQL in, dict rows out."""

    def __init__(self, cursor: Any, dialect: Dialect):
        self.cursor = cursor
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect.param == "?" else sql.replace("?", self.dialect.param)

    def execute(self, sql: str, *params: Any) -> int:
        self.cursor.execute(self._sql(sql), params)
        return self.cursor.rowcount

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def all(self, sql: str, *params: Any) -> list[dict]:
        self.cursor.execute(self._sql(sql), params)
        names = [d[0] for d in self.cursor.description]
        return [dict(zip(names, row)) for row in self.cursor.fetchall()]

    def one(self, sql: str, *params: Any) -> dict | None:
        rows = self.all(sql, *params)
        return rows[0] if rows else None


def _callback(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {**row, "request": json.loads(row["request"])}


def _campaign(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {**row, "spec": json.loads(row["spec"])}


def _contact(row: dict) -> dict:
    return {**row, "fields": json.loads(row["fields"]) if isinstance(row["fields"], str) else row["fields"]}
