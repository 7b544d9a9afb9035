"""A long-lived AMI client: login, keepalive, reconnect with backoff, actions with timeouts, events.

    ami = AmiClient("127.0.0.1", 5038, "flowengine", "s3cr3t")
    await ami.start()                                  # connects in the background, forever
    done = await ami.originate(channel="Local/100@flow-agi", application="AGI", data="agi://…")
    unsubscribe = ami.subscribe(on_event, uniqueid="1700000000.1")

Why not panoramisk's Manager: it decodes each TCP chunk with errors='ignore', guesses list completion from
prose, re-sends unanswered actions after a reconnect (an Originate sent twice is two calls), has no
per-action timeout and dispatches through untracked tasks (STYLE.md smells 4-8). This client keeps
panoramisk's good ideas (deterministic ActionIDs, FullyBooted-aware login) on our sans-IO codec.

Rules kept here:
  * Every action gets an ActionID and a timeout; a lost connection fails the actions in flight with
    ChannelClosed, and nothing is ever re-sent behind the caller's back.
  * Reconnects back off exponentially (`backoff_initial` doubling up to `backoff_max`); a refused login
    is logged once per attempt and retried with the same backoff.
  * Event callbacks run synchronously in the reading task; they must not block (they only buffer).
  * All time goes through the injected `sleep` and the loop's timers; all tasks are tracked.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Awaitable, Callable

from ...errors import ChannelClosed, ChannelError, RemoteProtocolError
from .ami import (
    CLIENT,
    NEED_DATA,
    PENDING,
    ActionTracker,
    AmiAction,
    AmiBanner,
    AmiCodec,
    AmiEvent,
    Closed,
    Completion,
)

log = logging.getLogger("flowengine.ami")

DEFAULT_PORT = 5038
EventCallback = Callable[[AmiEvent], None]


class AmiError(ChannelError):
    """An AMI action failed: refused (Response: Error), timed out, or the manager is unreachable."""


class _Connection(asyncio.Protocol):
    """One TCP connection to the manager: codec + ActionTracker; futures resolve per ActionID."""

    def __init__(self, dispatch: EventCallback):
        self.codec = AmiCodec(CLIENT)
        self.tracker = ActionTracker()
        self.dispatch = dispatch
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.waiters: dict[str, asyncio.Future[Completion]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.codec.receive_data(data)
            while (message := self.codec.next_event()) is not NEED_DATA:
                self._handle(message)
        except RemoteProtocolError as exc:
            log.error("AMI protocol error, reconnecting: %s", exc)
            self.close()

    def eof_received(self) -> bool:
        return False

    def _handle(self, message: object) -> None:
        kind = type(message)
        if kind is AmiBanner:
            if not self.banner.done():
                self.banner.set_result(message.version)
            return
        if kind is Closed:
            self.close()
            return
        done = self.tracker.received(message)  # type: ignore[arg-type]
        if isinstance(done, Completion):
            waiter = self.waiters.pop(done.action.action_id or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_result(done)
        elif done is PENDING:
            pass
        elif kind is AmiEvent:
            self.dispatch(message)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_exception(ChannelClosed("the AMI connection was lost"))
                waiter.exception()
        self.waiters.clear()
        if not self.banner.done():
            self.banner.set_exception(ChannelClosed("the AMI connection closed before its banner"))
            self.banner.exception()
        if not self.lost.done():
            self.lost.set_result(None)

    async def action(self, action: AmiAction, timeout: float) -> Completion:
        if self.transport is None or self.transport.is_closing():
            raise ChannelClosed("the AMI connection is closed")
        waiter = asyncio.get_running_loop().create_future()
        action_id = action.action_id or ""
        self.tracker.sent(action)
        self.waiters[action_id] = waiter
        self.transport.write(self.codec.send(action))
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            raise AmiError(f"AMI action {action.name} got no answer within {timeout:g} s") from None
        finally:
            self.waiters.pop(action_id, None)
            self.tracker.forget(action_id)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class AmiClient:
    """See the module docstring. Construct, `await start()`, use, `await close()`."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, username: str = "", secret: str = "", *,
                 events: str = "on", connect_timeout: float = 5.0, action_timeout: float = 10.0,
                 ping_interval: float = 20.0, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, id_prefix: str = "fe"):
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.events = events
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.sleep = sleep
        self.version: str | None = None
        self.logins = 0  # successful logins (a reconnect counts again)
        self._ids = (f"{id_prefix}-{n}" for n in itertools.count(1))
        self._conn: _Connection | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._subscribers: list[EventCallback] = []
        self._by_uniqueid: dict[str, list[EventCallback]] = {}

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see `wait_ready`)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ami-client")

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def close(self) -> None:
        """Log off (best effort) and stop reconnecting."""
        self._closing = True
        conn = self._conn
        if conn is not None and self._ready.is_set():
            try:
                await conn.action(AmiAction("Logoff", action_id=next(self._ids)), min(2.0, self.action_timeout))
            except ChannelError:
                pass
        if conn is not None:
            conn.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        backoff = self.backoff_initial
        while not self._closing:
            try:
                if await self._session():
                    backoff = self.backoff_initial
            except (OSError, ChannelError, asyncio.TimeoutError) as exc:
                log.warning("AMI %s:%s unavailable (%s); retrying in %g s", self.host, self.port,
                            exc or type(exc).__name__, backoff)
            if self._closing:
                break
            await self.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    async def _session(self) -> bool:
        """One connection: connect, login, keep alive until it drops. True when the login worked."""
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self._dispatch), self.host, self.port),
            self.connect_timeout)
        self._conn = conn
        try:
            self.version = await asyncio.wait_for(asyncio.shield(conn.banner), self.connect_timeout)
            login = AmiAction("Login", {"Username": self.username, "Secret": self.secret, "Events": self.events},
                              action_id=next(self._ids))
            done = await conn.action(login, self.action_timeout)
            if not done.ok:
                log.error("AMI %s:%s refused login for %r: %s", self.host, self.port, self.username,
                          done.response.message or done.response.status)
                return False
            self.logins += 1
            self._ready.set()
            log.info("AMI connected to %s:%s (Asterisk Call Manager/%s)", self.host, self.port, self.version)
            await self._keepalive(conn)
            if not self._closing:
                log.warning("AMI connection to %s:%s lost", self.host, self.port)
            return True
        finally:
            self._ready.clear()
            conn.close()
            self._conn = None

    async def _keepalive(self, conn: _Connection) -> None:
        while not conn.lost.done():
            done, _ = await asyncio.wait({conn.lost}, timeout=self.ping_interval)
            if done:
                return
            try:
                await conn.action(AmiAction("Ping", action_id=next(self._ids)), self.action_timeout)
            except ChannelError as exc:
                log.warning("AMI keepalive failed (%s); reconnecting", exc)
                conn.close()
                return

    # -- actions -------------------------------------------------------------------------------------

    async def send(self, name: str, headers: dict | list | None = None, *, timeout: float | None = None) -> Completion:
        """Send one action and wait for its completion (response, list items or follow-up event).
        Raises AmiError / ChannelClosed when the manager is unreachable or silent."""
        conn = self._conn
        if conn is None or not self._ready.is_set():
            raise ChannelClosed(f"not connected to AMI {self.host}:{self.port}")
        return await conn.action(AmiAction(name, headers, action_id=next(self._ids)), timeout or self.action_timeout)

    async def originate(self, *, channel: str, application: str | None = None, data: str | None = None,
                        context: str | None = None, exten: str | None = None, priority: int = 1,
                        caller_id: str | None = None, timeout: float = 30.0,
                        variables: dict[str, str] | None = None, channel_id: str | None = None) -> Completion:
        """An asynchronous Originate; the completion carries the OriginateResponse event."""
        headers: list[tuple[str, str]] = [("Channel", channel)]
        if application:
            headers += [("Application", application), ("Data", data or "")]
        else:
            headers += [("Context", context or "default"), ("Exten", exten or "s"), ("Priority", str(priority))]
        if caller_id:
            headers.append(("CallerID", caller_id))
        headers += [("Timeout", str(round(timeout * 1000))), ("Async", "true")]
        if channel_id:
            headers.append(("ChannelId", channel_id))
        for key, value in (variables or {}).items():
            headers.append(("Variable", f"{key}={value}"))
        return await self.send("Originate", headers, timeout=timeout + self.action_timeout)

    async def hangup(self, channel: str, cause: int = 16) -> Completion:
        return await self.send("Hangup", {"Channel": channel, "Cause": str(cause)})

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> Completion:
        return await self.send("Redirect", {"Channel": channel, "Context": context, "Exten": exten,
                                            "Priority": str(priority)})

    # -- events --------------------------------------------------------------------------------------

    def subscribe(self, callback: EventCallback, *, uniqueid: str | None = None) -> Callable[[], None]:
        """Call `callback` for every event (or only those of the channel `uniqueid`); returns an
        unsubscribe function."""
        if uniqueid is None:
            self._subscribers.append(callback)
            return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None
        self._by_uniqueid.setdefault(uniqueid, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._by_uniqueid.get(uniqueid, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._by_uniqueid.pop(uniqueid, None)

        return unsubscribe

    def _dispatch(self, event: AmiEvent) -> None:
        for callback in list(self._subscribers):
            self._safe(callback, event)
        uniqueid = event.get("Uniqueid")
        if uniqueid is not None:
            for callback in list(self._by_uniqueid.get(uniqueid, ())):
                self._safe(callback, event)

    @staticmethod
    def _safe(callback: EventCallback, event: AmiEvent) -> None:
        try:
            callback(event)
        except Exception:  # one subscriber's bug must not stop AMI for every call
            log.exception("AMI event callback failed on %s", event.name)

