"""The outbound Event Socket server: one asyncio.Protocol per call, shuttling bytes through EslCodec.

FreeSWITCH's `socket` app (`socket 127.0.0.1:8084 async full` in the dialplan) connects once per call and
waits for us to speak; closing the socket ends that app and the switch tears the channel down. Rules kept
here (uvicorn's H11Protocol shape; the byte shuttling, the listening server and `Gone` are
channels/adapter.py's, shared with channels/asterisk/fastagi.py):
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
from typing import Any, Callable

from ..adapter import CodecConnection, Gone, SwitchServer
from .esl import (
    CLIENT,
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


class EslConnection(CodecConnection):
    """One outbound ESL conversation: FreeSWITCH is the TCP client, we speak first."""

    LABEL = "ESL"
    log = log

    def __init__(self, *, on_made: Callable[["EslConnection"], None] | None = None,
                 max_head: int | None = None):
        super().__init__(on_made)
        self.codec = EslCodec(CLIENT, OUTBOUND, **({"max_head": max_head} if max_head else {}))
        self.on_event: Callable[[EslEvent], None] | None = None
        self.on_gone: Callable[[Gone], None] | None = None
        self.on_linger: Callable[[], None] | None = None
        self.linger_notice: DisconnectNotice | None = None
        self._lingered = asyncio.Event()
        # -- per-command state: one waiter per command in flight, oldest first
        self._waiters: deque[asyncio.Future[Reply | Gone]] = deque()

    # -- messages -------------------------------------------------------------------------------------

    def _handle(self, message: Any) -> None:
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
            self._peer_closed()

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


class OutboundServer(SwitchServer):
    """Listens for FreeSWITCH's outbound socket connections; `on_connection` gets each new EslConnection at
    once (the daemon starts one tracked task per connection)."""

    def __init__(self, on_connection: Callable[[EslConnection], None], host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, *, max_head: int | None = None, backlog: int = 512):
        super().__init__(on_connection, host, port, backlog=backlog)
        self.max_head = max_head

    def _connection(self) -> EslConnection:
        return EslConnection(on_made=self.on_connection, max_head=self.max_head)
