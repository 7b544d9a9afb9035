"""The asyncio side both switch servers share (FastAGI: asterisk/fastagi.py, outbound ESL:
freeswitch/outbound.py): a listening server, and a Protocol per connection that shuttles bytes through a
sans-IO codec (uvicorn's H11Protocol shape).

Rules kept here:
  * Bytes go to the codec as they arrive and events come out in wire order, each handed to the
    subclass's `_handle`; writes happen only through `codec.send`. No parsing here.
  * The end of a connection is a `Gone` value (closed, or protocol), never an exception. Garbage from the
    peer ends this connection only, with one log line; after it, nothing more is read.
  * What a command waits for, and what an event means, is each subclass's: this file knows no switch.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from ..errors import RemoteProtocolError
from .codec import NEED_DATA

__all__ = ["Gone", "CodecConnection", "SwitchServer"]


@dataclass(frozen=True, slots=True)
class Gone:
    """The connection can take no more commands. `reason`: closed | protocol, and on FastAGI also hangup
    (the channel hung up); `detail` for logs."""

    reason: str
    detail: str = ""


class CodecConnection(asyncio.Protocol):
    """One connection a switch opened to us, around a codec. The subclass makes `codec` and its own state
    in its constructor, reads events in `_handle`, and settles every waiter in `_finish`."""

    LABEL: ClassVar[str] = ""
    """The protocol's name in log lines ("FastAGI", "ESL")."""
    log: ClassVar[logging.Logger]

    codec: Any
    reported_by_call: bool = False
    """Set by the daemon once a call runs on this connection: the call's end (with this connection's
    fault) is then logged with the call id, so the connection's own fault line drops to debug."""

    def __init__(self, on_made: Callable[[Any], None] | None = None):
        # -- per-connection state
        self.transport: asyncio.Transport | None = None
        self.peer: str = "?"
        self._on_made = on_made
        self._gone: Gone | None = None
        self._closed = asyncio.Event()

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
        self._on_made = None

    # -- events ---------------------------------------------------------------------------------------

    def _pump(self) -> None:
        try:
            while (event := self.codec.next_event()) is not NEED_DATA:
                self._handle(event)
        except RemoteProtocolError as exc:
            self.log.log(logging.DEBUG if self.reported_by_call else logging.WARNING,
                         "%s %s: protocol error, closing: %s", self.LABEL, self.peer, exc)
            self._finish(Gone("protocol", str(exc)))
            self.close()

    def _peer_closed(self) -> None:
        """The codec read the end of the conversation (its Closed event)."""
        self._finish(Gone("closed", "the switch closed the connection"))
        self.close()

    def _handle(self, event: Any) -> None:
        raise NotImplementedError

    def _finish(self, gone: Gone) -> None:
        raise NotImplementedError

    # -- the API the channel uses ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the socket (what the switch then does with the call: the subclass's module docstring)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class SwitchServer:
    """Listens for a switch's connections; `on_connection` gets each new connection at once (the daemon
    starts one tracked task per connection). The subclass makes the connections (`_connection`)."""

    def __init__(self, on_connection: Callable[[Any], None], host: str, port: int, *, backlog: int = 512):
        self.on_connection = on_connection
        self.host = host
        self.port = port
        self.backlog = backlog
        self._server: asyncio.base_events.Server | None = None

    def _connection(self) -> asyncio.Protocol:
        raise NotImplementedError

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._connection, self.host, self.port, backlog=self.backlog, reuse_address=True,
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
