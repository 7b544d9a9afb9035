"""The outbound Event Socket server: one asyncio.Protocol per call, shuttling bytes through EslCodec.

FreeSWITCH's `socket` app (`socket 127.0.0.1:8084 async full` in the dialplan) connects once per call and
waits for us to speak. Rules kept here (uvicorn's H11Protocol shape, like channels/asterisk/fastagi.py):
  * Bytes go to the codec as they arrive; writes happen only through `codec.send`. No parsing here.
  * Commands may be pipelined: replies come back in order, each resolving the oldest waiter. Events are
    handed to `on_event` as they are read, in wire order (the channel's bookkeeping relies on that order).
  * `command()` returns the reply, or `Gone` when the connection can take no more commands: closed by the
    switch, or garbage from it (one log line, then we close). Never an exception for those.
  * After the linger notice the channel is gone but the switch still sends the events it has, then waits
    for us to close (shared/wire/README.md): `wait_linger()` lets the call's owner collect them first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ...errors import RemoteProtocolError
from .esl import (
    CLIENT,
    NEED_DATA,
    OUTBOUND,
    ApiResponse,
    ChannelData,
    Closed,
    Command,
    CommandReply,
    DisconnectNotice,
    EslCodec,
    EslEvent,
)

log = logging.getLogger("flowengine.freeswitch")

DEFAULT_PORT = 8084

Reply = CommandReply | ApiResponse | ChannelData


@dataclass(frozen=True, slots=True)
class Gone:
    """The connection can take no more commands. `reason`: closed | protocol; `detail` for logs."""

    reason: str
    detail: str = ""


class EslConnection(asyncio.Protocol):
    """One outbound ESL conversation: FreeSWITCH is the TCP client, we speak first."""

    def __init__(self, *, on_made: Callable[["EslConnection"], None] | None = None,
                 max_head: int | None = None):
        # -- per-connection state
        self.codec = EslCodec(CLIENT, OUTBOUND, **({"max_head": max_head} if max_head else {}))
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.on_event: Callable[[EslEvent], None] | None = None
        self.on_gone: Callable[[Gone], None] | None = None
        self.on_linger: Callable[[], None] | None = None
        self.linger_notice: DisconnectNotice | None = None
        self._on_made = on_made
        self._gone: Gone | None = None
        self._lingered = asyncio.Event()
        self._closed = asyncio.Event()
        # -- per-command state: one waiter per command in flight, oldest first
        self._waiters: deque[asyncio.Future[Reply | Gone]] = deque()

    # -- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
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

    # -- messages -------------------------------------------------------------------------------------

    def _pump(self) -> None:
        try:
            while (message := self.codec.next_event()) is not NEED_DATA:
                kind = type(message)
                if kind is EslEvent:
                    if self.on_event is not None:
                        self.on_event(message)
                elif kind is CommandReply or kind is ApiResponse or kind is ChannelData:
                    waiter = self._waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(message)
                elif kind is DisconnectNotice:
                    if message.disposition == "linger":
                        self.linger_notice = message
                        self._lingered.set()
                        if self.on_linger is not None:
                            self.on_linger()
                    else:
                        self._finish(Gone("closed", "the switch said goodbye"))
                elif kind is Closed:
                    self._finish(Gone("closed", "the switch closed the connection"))
                    self.close()
        except RemoteProtocolError as exc:
            log.warning("ESL %s: protocol error, closing: %s", self.peer, exc)
            self._finish(Gone("protocol", str(exc)))
            self.close()

    def _finish(self, gone: Gone) -> None:
        if self._gone is None:
            self._gone = gone
            if self.on_gone is not None:
                self.on_gone(gone)
        self._lingered.set()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._gone)

    # -- the API the channel uses ----------------------------------------------------------------------

    @property
    def gone(self) -> Gone | None:
        """Why the connection can take no more commands (None while it can)."""
        return self._gone

    def send(self, command: Command) -> asyncio.Future[Reply | Gone]:
        """Write `command` now (pipelined behind any in flight); the future resolves with its reply."""
        waiter: asyncio.Future[Reply | Gone] = asyncio.get_running_loop().create_future()
        if self._gone is not None or self.transport is None or self.transport.is_closing():
            waiter.set_result(self._gone or Gone("closed", "the connection is closed"))
            return waiter
        data = self.codec.send(command)
        self._waiters.append(waiter)
        self.transport.write(data)
        return waiter

    async def command(self, command: Command) -> Reply | Gone:
        """Send `command` and wait for its reply (or Gone). Cancelling the wait leaves the reply to be
        read and dropped, so the replies of later commands still match."""
        return await asyncio.shield(self.send(command))

    def post(self, command: Command, what: str) -> None:
        """Send `command` without waiting; a refusal is logged (its reply still keeps the order)."""
        def check(done: asyncio.Future) -> None:
            reply = done.result()
            if isinstance(reply, (CommandReply, ApiResponse)) and not reply.ok:
                log.warning("ESL %s: %s refused: %s", self.peer, what,
                            reply.reply_text if isinstance(reply, CommandReply) else reply.body.strip())

        self.send(command).add_done_callback(check)

    async def open_session(self, timeout: float) -> ChannelData | None:
        """`connect`, `myevents` and `linger`, pipelined: the controlled channel's CHANNEL_DATA, or None (one
        log line, connection closed) when the switch did not answer within `timeout` or refused."""
        waiters = [self.send(Command(line)) for line in ("connect", "myevents", "linger")]
        try:
            data = await asyncio.wait_for(asyncio.shield(waiters[0]), timeout)
        except asyncio.TimeoutError:
            log.warning("ESL %s: no reply to connect within %g s, closing", self.peer, timeout)
            self.close()
            return None
        if not isinstance(data, ChannelData) or not data.ok:
            if not isinstance(data, Gone):
                log.warning("ESL %s: connect refused, closing", self.peer)
                self.close()
            return None
        for what, waiter in zip(("myevents", "linger"), waiters[1:]):
            reply = await waiter
            if isinstance(reply, Gone):
                return None
            if not reply.ok:
                log.warning("ESL %s: %s refused: %s", self.peer, what, getattr(reply, "reply_text", reply))
        return data

    async def wait_linger(self, timeout: float) -> bool:
        """Wait up to `timeout` for the linger notice (or the end of the connection)."""
        try:
            await asyncio.wait_for(self._lingered.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def close(self) -> None:
        """Close the socket: the switch ends its `socket` app and tears the channel down."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class OutboundServer:
    """Listens for FreeSWITCH's outbound socket connections; `on_connection` gets each new EslConnection at
    once (the daemon starts one tracked task per connection)."""

    def __init__(self, on_connection: Callable[[EslConnection], None], host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, *, max_head: int | None = None, backlog: int = 512):
        self.on_connection = on_connection
        self.host = host
        self.port = port
        self.max_head = max_head
        self.backlog = backlog
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: EslConnection(on_made=self.on_connection, max_head=self.max_head),
            self.host, self.port, backlog=self.backlog, reuse_address=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the port is the real one when 0 was asked for."""
        assert self._server is not None and self._server.sockets
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    async def stop(self) -> None:
        """Stop accepting connections; live ones go on (the drain waits for them)."""
        if self._server is not None:
            self._server.close()
            self._server = None
