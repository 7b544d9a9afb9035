"""What the daemon's two switch listeners share (daemon/asterisk.py, daemon/freeswitch.py): the listening
server's lifecycle, the one-time tokens that pair a returning session with the flow waiting for it, and
the parts of an incoming call that do not depend on the switch.

Rules kept here:
  * A call we place (an API-started flow's originated call, or a leg dialled with on_answer states) gets
    a one-time token from `expect`, sent to the switch as TOKEN_PREFIX + token. The session that comes
    back with it resolves the waiting future once (`_paired`); an unknown or expired token is the
    listener's to hang up. `forget` drops a token once it is used or no longer wanted.
  * `stop` only stops accepting (live calls go on: the drain waits for them); `close` is the listener's.
  * How a session arrives, what it says, and how a call is refused are each switch's own.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, ClassVar

from ..runtime.ids import RandomIds
from ..runtime.interpreter import CallInfo
from .config import ServeConfig

__all__ = ["SwitchListener", "SwitchCall"]


class SwitchListener:
    """A listener for one switch's sessions (see the module docstring). The subclass starts its server
    with `_listen`, then whatever client it has (AMI, inbound ESL)."""

    name: ClassVar[str]
    LISTENING: ClassVar[str]
    """What listens, in the start-up log line ("FastAGI", "Event Socket (outbound)")."""
    TOKEN_PREFIX: ClassVar[str] = ""
    """Sent before a token's id (Asterisk: the first AGI argument says it is one)."""
    log: ClassVar[logging.Logger]

    def __init__(self, config: ServeConfig):
        self.config = config
        self.ids = RandomIds()
        self.daemon: Any = None
        self.server: Any = None  # FastAgiServer | OutboundServer, once started
        self.pending: dict[str, asyncio.Future] = {}

    # -- lifecycle -----------------------------------------------------------------------------------

    async def _listen(self, daemon: Any, server: Any) -> None:
        self.daemon = daemon
        self.server = server
        await server.start()
        host, port = server.address
        self.log.info("%s listening on %s:%d", self.LISTENING, host, port)

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.address

    def _reachable(self) -> str:
        """host:port at which the switch reaches the listener (a wildcard bind as 127.0.0.1)."""
        host, port = self.address
        return f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    # -- one-time tokens --------------------------------------------------------------------------------

    def expect(self, kind: str) -> tuple[str, asyncio.Future]:
        """A one-time token for a call we place (as the switch is given it) and the future its session
        resolves."""
        token = self.ids.next(kind)
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending[token] = waiter
        return self.TOKEN_PREFIX + token, waiter

    def forget(self, token: str) -> None:
        self.pending.pop(token.removeprefix(self.TOKEN_PREFIX), None)

    def _paired(self, token: str, session: tuple[Any, Any]) -> bool:
        """Hand a returning session to the flow waiting for `token`; False when no flow waits for it
        (unknown or expired)."""
        waiter = self.pending.get(token.removeprefix(self.TOKEN_PREFIX))
        if waiter is None or waiter.done():
            return False
        waiter.set_result(session)
        return True


class SwitchCall:
    """What an IncomingCall shares on either switch: an API-started call's info before its first dial,
    the LegSessions tokens (through the listener), and why the connection failed."""

    backend: ClassVar[str]

    def __init__(self, listener: Any, connection: Any, *, to: str = "", from_: str = ""):
        self.listener = listener
        self._connection: Any = None
        self.connection = connection
        self.to, self.from_ = to, from_
        self._channel: Any = None

    @property
    def connection(self) -> Any:
        return self._connection

    @connection.setter
    def connection(self, connection: Any) -> None:
        # A connection that serves a call has its faults logged once, by the daemon, with the call id.
        if connection is not None:
            connection.reported_by_call = True
        self._connection = connection

    def _api_call_info(self, *, call_id: str, at: datetime, trigger: str, variables: dict[str, Any]) -> CallInfo:
        """The CallInfo of an API-started call with no connection yet: what the API was given."""
        return CallInfo(trigger=trigger, from_=self.from_ or "anonymous", to=self.to, at=at, call_id=call_id,
                        variables=variables, extra={"backend": self.backend})

    # -- LegSessions: the legs the flow dials with on_answer states -------------------------------------

    def expect(self) -> tuple[str, asyncio.Future]:
        return self.listener.expect("leg")

    def forget(self, token: str) -> None:
        self.listener.forget(token)

    @property
    def failure(self) -> str | None:
        if self._channel is not None and self._channel.failure:
            return self._channel.failure
        connection = self._channel.connection if self._channel is not None else self.connection
        gone = connection.gone if connection is not None else None
        return f"protocol error: {gone.detail}" if gone is not None and gone.reason == "protocol" else None
