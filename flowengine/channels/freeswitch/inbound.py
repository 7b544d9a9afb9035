"""The inbound Event Socket client: one long-lived connection to FreeSWITCH's event_socket (port 8021) for
`bgapi originate … &socket(…)`, which starts API-triggered and outbound flows.

    client = InboundClient("127.0.0.1", 8021, "ClueCon", clock=RealClock())
    await client.start()                                 # connects in the background, reconnects with backoff
    placed = await client.originate("sofia/gateway/gw/+15551234567", "&socket(127.0.0.1:8084 async full)",
                                    variables={"flowengine_token": token}, timeout=30)

Rules kept here:
  * One asyncio.Protocol per connection around EslCodec(CLIENT, INBOUND): the switch speaks first
    (`auth/request`), we answer `auth`, then subscribe to BACKGROUND_JOB. No parsing here.
  * A job's result is matched by the Job-UUID we choose and send with `bgapi` (ids are injected), so the
    BACKGROUND_JOB can never race the reply that would otherwise tell us its id.
  * Faults are values and one log line: a refused password, a dropped connection or garbage from the switch
    fail the jobs in flight (`failed`, the cause says why) and the supervisor reconnects after a backoff that
    doubles up to `backoff_max` (a refused password waits `backoff_max`: retrying sooner cannot help).
  * The supervisor sleeps on the injected clock; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

from ...errors import RemoteProtocolError
from ...runtime.clock import Clock
from ...runtime.ids import RandomIds
from .channel import DISPOSITIONS
from .esl import (
    CLIENT,
    INBOUND,
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    Closed,
    Command,
    CommandReply,
    DisconnectNotice,
    EslCodec,
    EslEvent,
    RudeRejection,
)

log = logging.getLogger("flowengine.freeswitch")

DEFAULT_PORT = 8021


@dataclass(frozen=True)
class JobResult:
    """How a background job ended: `ok` with the API's output, or not (`body` then says why)."""

    ok: bool
    body: str


@dataclass(frozen=True)
class OriginateResult:
    """`status`: answered | busy | no-answer | failed | canceled; `uuid` of the answered call; `cause` as
    FreeSWITCH named it (or why the job never ran)."""

    status: str
    uuid: str | None = None
    cause: str | None = None


class _Session(asyncio.Protocol):
    """One authenticated inbound conversation (the supervisor makes a new one after each loss)."""

    def __init__(self, client: "InboundClient"):
        self.client = client
        self.codec = EslCodec(CLIENT, INBOUND)
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()  # None = authed
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiters: list[tuple[asyncio.Future, Callable[[Any], None] | None]] = []  # replies, oldest first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.codec.receive_data(data)
            while (message := self.codec.next_event()) is not NEED_DATA:
                self._dispatch(message)
        except RemoteProtocolError as exc:  # the supervisor logs why it reconnects
            self._lose(f"protocol error: {exc}")

    def eof_received(self) -> bool:
        self._lose("the switch closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(str(exc) if exc else "the switch closed the connection")

    def _dispatch(self, message: Any) -> None:
        kind = type(message)
        if kind is AuthRequest:
            self.write(Command(f"auth {self.client.password}"), self._authed)
            self.write(Command("event plain BACKGROUND_JOB"), self._subscribed)
        elif kind is CommandReply or kind is ApiResponse:
            waiter, then = self.waiters.pop(0)
            if then is not None:
                then(message)  # at once, in wire order (a refused auth comes before the goodbye)
            if not waiter.done():
                waiter.set_result(message)
        elif kind is EslEvent:
            if message.name == "BACKGROUND_JOB":
                self.client._job_done(message)
        elif kind is RudeRejection:
            self._fail_ready("the switch's ACL refused this address (rude rejection)")
        elif kind is DisconnectNotice or kind is Closed:
            self._lose("the switch said goodbye")

    def write(self, command: Command, then: Callable[[Any], None] | None = None) -> asyncio.Future:
        """Send `command`; the future resolves with its reply (None if the connection is lost first), and
        `then` sees the reply as soon as it is read."""
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        if self.transport is None or self.transport.is_closing() or self.lost.done():
            waiter.set_result(None)
            return waiter
        self.transport.write(self.codec.send(command))
        self.waiters.append((waiter, then))
        return waiter

    def _authed(self, reply: Any) -> None:
        if isinstance(reply, CommandReply) and not reply.ok:
            self._fail_ready(f"FreeSWITCH refused the ESL password ({reply.reply_text})")

    def _subscribed(self, reply: Any) -> None:
        if isinstance(reply, CommandReply) and reply.ok and not self.ready.done():
            self.ready.set_result(None)

    def _fail_ready(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_result(why)
        self._lose(why)

    def _lose(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)
        if not self.ready.done():
            self.ready.set_result(why)
        for waiter, _ in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()
        if self.transport is not None:
            self.transport.close()


class InboundClient:
    """A supervised inbound ESL connection (see the module docstring)."""

    def __init__(self, host: str, port: int, password: str, *, clock: Clock, ids: RandomIds | None = None,
                 connect_timeout: float = 5.0, backoff_min: float = 0.5, backoff_max: float = 30.0):
        self.host, self.port, self.password = host, port, password
        self.clock = clock
        self.ids = ids or RandomIds()
        self.connect_timeout = connect_timeout
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.connects = 0  # sessions authenticated so far (for tests and metrics)
        self._session: _Session | None = None
        self._jobs: dict[str, asyncio.Future[JobResult]] = {}
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Start the supervisor (it connects in the background)."""
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="esl-inbound")

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            self._session.write(Command("exit"))
            self._session._lose("closed")
        self._fail_jobs("the client closed")

    # -- the supervisor ------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self.backoff_min
        loop = asyncio.get_running_loop()
        while True:
            why = None
            try:
                _, session = await asyncio.wait_for(
                    loop.create_connection(lambda: _Session(self), self.host, self.port), self.connect_timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                why = f"cannot connect: {exc or 'timeout'}"
            else:
                self._session = session
                why = await session.ready
                if why is None:
                    self.connects += 1
                    self._ready.set()
                    delay = self.backoff_min
                    log.info("ESL inbound connected to %s:%d", self.host, self.port)
                    why = await session.lost
                    self._ready.clear()
                self._fail_jobs(why)
            refused = "password" in why or "ACL" in why
            wait = self.backoff_max if refused else delay
            log.warning("ESL inbound %s:%d: %s; retrying in %g s", self.host, self.port, why, wait)
            await self.clock.sleep(wait)
            delay = min(self.backoff_max, delay * 2)

    def _fail_jobs(self, why: str) -> None:
        for job, waiter in list(self._jobs.items()):
            if not waiter.done():
                waiter.set_result(JobResult(False, f"-ERR {why}"))
        self._jobs.clear()

    def _job_done(self, event: EslEvent) -> None:
        waiter = self._jobs.pop(event.get("Job-UUID") or "", None)
        if waiter is not None and not waiter.done():
            waiter.set_result(JobResult(not event.body.startswith("-ERR"), event.body))

    # -- commands ------------------------------------------------------------------------------------

    async def bgapi(self, command: str, timeout: float) -> JobResult:
        """Run an API command in the background; its BACKGROUND_JOB result (or why there is none)."""
        session = self._session
        if session is None or not self._ready.is_set():
            return JobResult(False, "-ERR not connected to FreeSWITCH")
        job = self.ids.next("job")
        waiter: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        self._jobs[job] = waiter
        reply = await session.write(Command(f"bgapi {command}", [("Job-UUID", job)]))
        if not isinstance(reply, CommandReply) or not reply.ok:
            self._jobs.pop(job, None)
            return JobResult(False, reply.reply_text if isinstance(reply, CommandReply) else "-ERR connection lost")
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            self._jobs.pop(job, None)
            return JobResult(False, f"-ERR no result within {timeout:g} s")

    async def originate(self, dial_string: str, application: str, *, variables: dict[str, str],
                        timeout: float) -> OriginateResult:
        """`originate {vars}<dial string> <application>`: answered (with the call's uuid) or why not."""
        pairs = ",".join(f"{k}={_quote(v)}" for k, v in variables.items())
        command = f"originate {{{pairs}}}{dial_string} {application}" if pairs else \
            f"originate {dial_string} {application}"
        result = await self.bgapi(command, timeout)
        body = result.body.strip()
        if result.ok and body.startswith("+OK"):
            return OriginateResult("answered", uuid=body[3:].strip() or None)
        cause = body[4:].strip() if body.startswith("-ERR") else body
        return OriginateResult(DISPOSITIONS.get(cause, "failed") if cause != "SUCCESS" else "failed", cause=cause)


def _quote(value: str) -> str:
    """A value inside originate's {…}: quoted when it holds a comma or a space; no quote can end it early."""
    value = "".join(ch for ch in str(value) if ch not in "'{}\r\n")
    return f"'{value}'" if ("," in value or " " in value) else value
