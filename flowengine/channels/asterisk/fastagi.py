"""The FastAGI server: an asyncio.Protocol per connection that shuttles bytes through AgiCodec(SERVER).

Asterisk connects once per call (`AGI(agi://host:4573/path,args)`), sends its environment, then runs the
commands we write, one at a time. Rules kept here (uvicorn's H11Protocol shape):
  * Bytes go to the codec as they arrive; writes happen only through `codec.send`. No parsing here.
  * `command()` returns the reply, or `Gone` when the call is over: the channel hung up (a `HANGUP` line,
    or 511), the socket closed, or the peer broke the protocol. Never an exception for those.
  * A command cancelled while it runs (a deadline) leaves its reply pending: the next `command()` waits
    for that reply first, so the codec never sees two commands in flight.
  * After `HANGUP` we close the socket ourselves once no reply is pending: Asterisk keeps the channel
    until we do (shared/wire/README.md).
  * Garbage from the peer ends this connection only, with one log line; the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

from ...errors import ChannelError, RemoteProtocolError
from .agi import (
    MAX_COMMAND_BYTES,
    NEED_DATA,
    SERVER,
    AgiCodec,
    AgiCommand,
    AgiEnvironment,
    AgiHangup,
    AgiProgress,
    AgiReply,
    Closed,
)

log = logging.getLogger("flowengine.fastagi")

DEFAULT_PORT = 4573


@dataclass(frozen=True, slots=True)
class Gone:
    """The call can take no more commands. `reason`: hangup | closed | protocol; `detail` for logs."""

    reason: str
    detail: str = ""


HUNG_UP = Gone("hangup", "the channel hung up")


class AgiConnection(asyncio.Protocol):
    """One FastAGI conversation (Asterisk is the TCP client, we are the server)."""

    def __init__(self, *, max_line: int | None = None, on_made: Callable[["AgiConnection"], None] | None = None):
        # -- per-connection state
        self.codec = AgiCodec(SERVER, **({"max_line": max_line} if max_line else {}))
        self.transport: asyncio.Transport | None = None
        self.peer: str = "?"
        self._on_made = on_made
        self._env: asyncio.Future[AgiEnvironment | None] | None = None
        self._gone: Gone | None = None
        self._closed = asyncio.Event()
        self._hangup = asyncio.Event()
        # -- per-command state
        self._reply: asyncio.Future | None = None  # set from writing a command until its reply arrives
        self._settled: asyncio.Event | None = None  # made on demand: wakes a command queued behind a reply
        self.commands = 0

    # -- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._env = asyncio.get_running_loop().create_future()
        if self._on_made is not None:
            self._on_made(self)

    def data_received(self, data: bytes) -> None:
        if self._gone is not None and self._gone.reason == "protocol":
            return
        self.codec.receive_data(data)
        self._pump()

    def eof_received(self) -> bool:
        if self._gone is None or self._gone.reason != "protocol":
            self.codec.receive_data(b"")
            self._pump()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(Gone("closed", str(exc) if exc else "the switch closed the connection"))
        self._closed.set()
        self._on_made = None

    # -- events ---------------------------------------------------------------------------------------

    def _pump(self) -> None:
        try:
            while (event := self.codec.next_event()) is not NEED_DATA:
                kind = type(event)
                if kind is AgiReply:
                    self._resolve(event)
                elif kind is AgiHangup:
                    self._hangup.set()
                    if self._reply is None:
                        self.close()
                elif kind is AgiEnvironment:
                    if self._env is not None and not self._env.done():
                        self._env.set_result(event)
                elif kind is Closed:
                    self._finish(Gone("closed", "the switch closed the connection"))
                    self.close()
                elif kind is AgiProgress:
                    continue
        except RemoteProtocolError as exc:
            log.warning("FastAGI %s: protocol error, closing: %s", self.peer, exc)
            self._finish(Gone("protocol", str(exc)))
            self.close()

    def _resolve(self, reply: AgiReply) -> None:
        waiter, self._reply = self._reply, None
        if self._settled is not None:
            self._settled.set()
        if reply.code == 511:
            self._hangup.set()
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)
        if self._hangup.is_set():
            self.close()

    def _finish(self, gone: Gone) -> None:
        if self._gone is None:
            self._gone = gone
        if self._env is not None and not self._env.done():
            self._env.set_result(None)
        waiter, self._reply = self._reply, None
        if self._settled is not None:
            self._settled.set()
        if waiter is not None and not waiter.done():
            waiter.set_result(HUNG_UP if self._hangup.is_set() else self._gone)

    # -- the API the channel uses ----------------------------------------------------------------------

    @property
    def gone(self) -> Gone | None:
        """Why the call can take no more commands (None while it can)."""
        if self._gone is not None:
            return HUNG_UP if self._hangup.is_set() and self._gone.reason == "closed" else self._gone
        return None

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said `HANGUP` (or answered 511)."""
        return self._hangup.is_set()

    @property
    def busy(self) -> bool:
        """True while a command's reply is pending (e.g. after a cancelled command)."""
        return self._reply is not None

    async def environment(self, timeout: float) -> AgiEnvironment | None:
        """The environment header, or None when it did not arrive in time (or was garbage)."""
        assert self._env is not None
        try:
            async with asyncio.timeout(timeout):
                return await self._env
        except TimeoutError:
            log.warning("FastAGI %s: no AGI environment within %g s, closing", self.peer, timeout)
            self._finish(Gone("protocol", "no environment"))
            self.close()
            return None

    async def command(self, command: AgiCommand) -> AgiReply | Gone:
        """Run one command and return its reply, or Gone. Cancelling leaves the reply pending safely:
        `_reply` stays set (a cancelled future) until the reply arrives, and the next command waits."""
        while self._reply is not None:
            if self._settled is None:
                self._settled = asyncio.Event()
            self._settled.clear()
            await self._settled.wait()
        gone = self.gone
        if gone is not None:
            return gone
        if self._hangup.is_set():
            return HUNG_UP
        if len(command.line) >= MAX_COMMAND_BYTES and len(command.line.encode("utf-8")) >= MAX_COMMAND_BYTES:
            raise ChannelError(f"AGI command {command.name} is longer than the {MAX_COMMAND_BYTES} bytes "
                               "Asterisk reads")
        data = self.codec.send(command)
        waiter = asyncio.get_running_loop().create_future()
        self._reply = waiter
        self.commands += 1
        assert self.transport is not None
        self.transport.write(data)
        return await waiter

    async def wait_hangup(self, timeout: float) -> bool:
        """Wait up to `timeout` for a HANGUP line (after a -1 result, which may precede it)."""
        if self._hangup.is_set() or self._gone is not None:
            return self._hangup.is_set() or self._gone is not None
        try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel racing the HANGUP line
            async with asyncio.timeout(timeout):
                await self._hangup.wait()
            return True
        except TimeoutError:
            return self._gone is not None

    def send_and_close(self, command: AgiCommand) -> None:
        """Write one last command without waiting for its reply, then close (refusing a call)."""
        if self.transport is not None and not self.transport.is_closing() and self._gone is None \
                and not self.busy:
            try:
                self.transport.write(self.codec.send(command))
            except Exception as exc:  # a codec refusal here is our bug; the socket still gets closed
                log.error("FastAGI %s: cannot send %s: %s", self.peer, command.name, exc)
        self.close()

    def abandon(self, detail: str) -> None:
        """The call is over for this session although Asterisk has not said so (a held leg whose leg A
        hung up): the command in flight returns HUNG_UP now, later ones at once, and the socket closes."""
        self._hangup.set()
        self._finish(Gone("hangup", detail))
        self.close()

    def close(self) -> None:
        """Close the socket: Asterisk's AGI() returns and the dialplan goes on."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class FastAgiServer:
    """Listens for Asterisk's FastAGI connections; `on_connection` gets each new AgiConnection at once
    (the daemon starts one tracked task per connection)."""

    def __init__(self, on_connection: Callable[[AgiConnection], None], host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, *, max_line: int | None = None, backlog: int = 512):
        self.on_connection = on_connection
        self.host = host
        self.port = port
        self.max_line = max_line
        self.backlog = backlog
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AgiConnection(max_line=self.max_line, on_made=self.on_connection),
            self.host, self.port, backlog=self.backlog, reuse_address=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the port is the real one when 0 was asked for."""
        assert self._server is not None and self._server.sockets
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    async def stop(self) -> None:
        """Stop accepting connections; live ones go on. (Server.wait_closed is not awaited: from Python
        3.12 it also waits for every live connection, which is the drain's job, with its own timeout.)"""
        if self._server is not None:
            self._server.close()
            self._server = None
