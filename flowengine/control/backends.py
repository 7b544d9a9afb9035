"""What live-call control needs from each switch, beyond running flows: readiness to place calls, the
call's channel name, hang-up and redirect.

    backend = backend_for(listener, control_config)      # AsteriskControl | FreeSwitchControl
    reason = backend.unavailable()                       # None, or why no call can be placed now

Asterisk: placing calls and redirects need AMI. A redirect is an AMI `Redirect` of the live channel to
`[control] redirect_context`, extension = a one-time token; that context runs AGI back into this daemon
with the token (docs/control-api.md has the dialplan), and the FastAGI listener hands the new
connection to whoever waits for the token. Hang-up is an AMI `Hangup`.
FreeSWITCH: calls are placed through the inbound Event Socket; hang-up ends the flow's socket session
(the switch hangs the channel up); redirect is refused as unsupported.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..errors import ChannelError
from .config import ControlConfig

__all__ = ["Backend", "AsteriskControl", "FreeSwitchControl", "backend_for", "Unsupported"]


class Unsupported(Exception):
    """The switch cannot do this live-call operation."""


class Backend(Protocol):
    name: str
    listener: Any
    redirects: bool
    """Whether a live call can be sent to another flow (`expect`/`redirect`/`resume` work)."""

    def unavailable(self) -> str | None: ...

    def channel_name(self, incoming: Any) -> str | None: ...

    async def hangup(self, incoming: Any) -> bool:
        """Hang the call up at the switch; False when that is not possible (the caller then cancels the run)."""
        ...

    def expect(self) -> tuple[str, asyncio.Future]:
        """A token and the future that gets the call's next connection once it comes back with it."""
        ...

    def forget(self, token: str) -> None: ...

    async def redirect(self, incoming: Any, token: str) -> None:
        """Send the live call back to this daemon under `token` (Unsupported, or ChannelError)."""
        ...

    def resume(self, connection: Any, environment: Any) -> Any:
        """An IncomingCall on the connection the redirected call came back on."""
        ...


class AsteriskControl:
    name = "asterisk"
    redirects = True

    def __init__(self, listener: Any, config: ControlConfig):
        self.listener = listener
        self.config = config

    def unavailable(self) -> str | None:
        ami = self.listener.ami
        if ami is None:
            return "placing calls on Asterisk needs [asterisk.ami]"
        if not ami.connected:
            return "the Asterisk manager interface (AMI) is not connected"
        return None

    def channel_name(self, incoming: Any) -> str | None:
        environment = getattr(incoming, "environment", None)
        return environment.get("agi_channel") if environment is not None else None

    async def hangup(self, incoming: Any) -> bool:
        channel = self.channel_name(incoming)
        ami = self.listener.ami
        if channel is None or ami is None or not ami.connected:
            return False
        done = await ami.hangup(channel, 16)
        return done.ok

    def expect(self) -> tuple[str, asyncio.Future]:
        token = self.listener.ids.next("redirect")
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self.listener.pending[token] = waiter
        return token, waiter

    def forget(self, token: str) -> None:
        self.listener.pending.pop(token, None)

    async def redirect(self, incoming: Any, token: str) -> None:
        reason = self.unavailable()
        if reason:
            raise ChannelError(reason)
        channel = self.channel_name(incoming)
        if channel is None:
            raise ChannelError("the call has no Asterisk channel yet")
        done = await self.listener.ami.redirect(channel, self.config.redirect_context, token)
        if not done.ok:
            raise ChannelError(f"Asterisk refused the redirect: {done.response.message or done.response.status}")

    def resume(self, connection: Any, environment: Any) -> Any:
        from ..daemon.asterisk import AsteriskCall

        return AsteriskCall(self.listener, connection, environment)


class FreeSwitchControl:
    name = "freeswitch"
    redirects = False

    def __init__(self, listener: Any, config: ControlConfig):
        self.listener = listener
        self.config = config

    def unavailable(self) -> str | None:
        inbound = self.listener.inbound
        if inbound is None:
            return "placing calls on FreeSWITCH needs [freeswitch.inbound]"
        if not inbound.connected:
            return "the FreeSWITCH inbound Event Socket is not connected"
        return None

    def channel_name(self, incoming: Any) -> str | None:
        data = getattr(incoming, "data", None)
        return data.get("Channel-Name") if data is not None else None

    async def hangup(self, incoming: Any) -> bool:
        return False  # ending the run closes the socket session, and the flow's hang-up ends the channel

    def expect(self) -> tuple[str, asyncio.Future]:
        raise Unsupported("redirecting a live call is not supported on FreeSWITCH yet")

    def forget(self, token: str) -> None:
        return None

    async def redirect(self, incoming: Any, token: str) -> None:
        raise Unsupported("redirecting a live call is not supported on FreeSWITCH yet")

    def resume(self, connection: Any, environment: Any) -> Any:
        raise Unsupported("redirecting a live call is not supported on FreeSWITCH yet")


def backend_for(listener: Any, config: ControlConfig) -> Backend | None:
    """The control adapter of a listener that can place calls, or None."""
    if not hasattr(listener, "api_call"):
        return None
    kinds = {"asterisk": AsteriskControl, "freeswitch": FreeSwitchControl}
    kind = kinds.get(getattr(listener, "name", ""))
    return kind(listener, config) if kind else None
