"""The FastAGI server: an asyncio.Protocol per connection that shuttles bytes through AgiCodec(SERVER).

Asterisk connects once per call (`AGI(agi://host:4573/path,args)`), sends its environment, then runs the
commands we write, one at a time. Rules kept here (uvicorn's H11Protocol shape; the byte shuttling, the
listening server and `Gone` are channels/adapter.py's, shared with the outbound Event Socket):
  * Bytes go to the codec as they arrive; writes happen only through `codec.send`. No parsing here.
  * `command()` returns the reply, or `Gone` when the call is over: the channel hung up (a `HANGUP` line,
    or 511), the socket closed, or the peer broke the protocol. Never an exception for those.
  * A command cancelled while it runs (a deadline) leaves its reply pending: the next `command()` waits
    for that reply first, so the codec never sees two commands in flight.
  * After `HANGUP` we close the socket ourselves once no reply is pending: Asterisk keeps the channel
    until we do (shared/wire/README.md). Closing the socket makes AGI() return; the dialplan goes on.
  * Garbage from the peer ends this connection only, with one log line; the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from ...errors import ChannelError
from ..adapter import CodecConnection, Gone, SwitchServer
from .agi import (
    MAX_COMMAND_BYTES,
    SERVER,
    AgiCodec,
    AgiCommand,
    AgiEnvironment,
    AgiHangup,
    AgiReply,
    Closed,
)

log = logging.getLogger("flowengine.fastagi")

DEFAULT_PORT = 4573


HUNG_UP = Gone("hangup", "the channel hung up")


class AgiConnection(CodecConnection):
    """One FastAGI conversation (Asterisk is the TCP client, we are the server)."""

    LABEL = "FastAGI"
    log = log

    def __init__(self, *, max_line: int | None = None, on_made: Callable[["AgiConnection"], None] | None = None):
        super().__init__(on_made)
        self.codec = AgiCodec(SERVER, **({"max_line": max_line} if max_line else {}))
        self._env: asyncio.Future[AgiEnvironment | None] | None = None
        self._hangup = asyncio.Event()
        # -- per-command state
        self._reply: asyncio.Future | None = None  # set from writing a command until its reply arrives
        self._settled: asyncio.Event | None = None  # made on demand: wakes a command queued behind a reply
        self.commands = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._env = asyncio.get_running_loop().create_future()
        super().connection_made(transport)

    # -- events ---------------------------------------------------------------------------------------

    def _handle(self, event: Any) -> None:
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
            self._peer_closed()
        # AgiProgress (`100 result=0 Trying...`): the command runs on

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


class FastAgiServer(SwitchServer):
    """Listens for Asterisk's FastAGI connections; `on_connection` gets each new AgiConnection at once
    (the daemon starts one tracked task per connection)."""

    def __init__(self, on_connection: Callable[[AgiConnection], None], host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, *, max_line: int | None = None, backlog: int = 512):
        super().__init__(on_connection, host, port, backlog=backlog)
        self.max_line = max_line

    def _connection(self) -> AgiConnection:
        return AgiConnection(max_line=self.max_line, on_made=self.on_connection)
