"""The daemon's FreeSWITCH listener: outbound Event Socket connections in, inbound ESL for originating.

    [listeners.esl]         host/port the dialplan's `socket <host>:<port> async full` connects to
    [freeswitch]            how flows map onto this FreeSWITCH (dial template, TTS, recordings, media)
    [freeswitch.inbound]    optional: event_socket host/port/password for API-started flows' calls

Each outbound connection becomes one tracked task: `connect`, `myevents`, `linger` (bounded wait), then either
hand the connection to the flow waiting for it (its channel variable `flowengine_token`: an API-started flow's
originated call, or a leg a flow dialled with on_answer states, which the bridge's group confirmation hands
over), or route it like any inbound call through `Daemon.run_call` (route `path` = the channel variable
`flowengine_route`, `number` and `extension` = the destination number). A socket without `async full`, a
silent switch or garbage before CHANNEL_DATA ends that connection with one log line. The listener's
lifecycle, the token pairing and the switch-free parts of a call are daemon/switch.py's (shared with Asterisk).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ..channels.freeswitch.channel import (
    Q850,
    FreeSwitchChannel,
    FreeSwitchOptions,
    Originated,
    TtsProvider,
    capability_warnings,
    dial_string,
)
from ..channels.freeswitch.esl import ChannelData, CommandReply, sendmsg_hangup
from ..channels.freeswitch.inbound import InboundClient
from ..channels.freeswitch.legs import TOKEN_VARIABLE
from ..channels.freeswitch.outbound import EslConnection, OutboundServer
from ..errors import ChannelError
from ..runtime.channel import Channel, DialRequest
from ..runtime.clock import RealClock
from ..runtime.interpreter import CallInfo
from .config import RouteConfig, ServeConfig
from .routing import CallAttributes
from .switch import SwitchCall, SwitchListener

__all__ = ["FreeSwitchListener", "FreeSwitchCall", "TOKEN_VARIABLE", "ROUTE_VARIABLE"]

log = logging.getLogger("flowengine.freeswitch")

ROUTE_VARIABLE = "flowengine_route"
"""Channel variable the dialplan may set before `socket`: the route `path` that picks the flow."""


class FreeSwitchListener(SwitchListener):
    name = "freeswitch"
    LISTENING = "Event Socket (outbound)"
    log = log

    def __init__(self, config: ServeConfig, *, tts: TtsProvider | None = None, inbound: InboundClient | None = None):
        super().__init__(config)
        fs = config.freeswitch
        self.options = FreeSwitchOptions(
            dial_template=fs.dial_template, tts=fs.tts, speak_engine=fs.speak_engine, speak_voice=fs.speak_voice,
            say_language=fs.say_language, http_prefix=fs.http_prefix, recordings_dir=fs.recordings_dir,
            recording_format=fs.recording_format, recording_url=fs.recording_url,
            conference_profile=fs.conference_profile)
        if tts is None and fs.tts == "provider":
            from .asterisk import build_tts

            tts = build_tts(config)
        self.tts = tts
        if inbound is None and fs.inbound is not None:
            inbound = InboundClient(fs.inbound.host, fs.inbound.port, fs.inbound.resolved_password(), clock=RealClock(),
                                    connect_timeout=fs.inbound.connect_timeout, backoff_max=fs.inbound.backoff_max)
        self.inbound = inbound

    capability_check = staticmethod(capability_warnings)

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self, daemon: Any) -> None:
        listen = self.config.listeners.esl
        await self._listen(daemon, OutboundServer(self._accept, listen.host, listen.port))
        if self.inbound is not None:
            await self.inbound.start()

    async def close(self) -> None:
        if self.inbound is not None:
            await self.inbound.close()

    # -- inbound calls (outbound sockets) ----------------------------------------------------------------

    def _accept(self, connection: EslConnection) -> None:
        self.daemon.spawn(self._serve(connection), name=f"esl-{connection.peer}")

    async def _serve(self, connection: EslConnection) -> None:
        data = await connection.open_session(self.config.listeners.esl.connect_timeout)
        if data is None:
            return
        if data.get("Socket-Mode") != "async" or data.get("Control") != "full":
            log.error("ESL %s: the dialplan must run `socket <host>:<port> async full` (got %s %s); hanging up",
                      connection.peer, data.get("Socket-Mode"), data.get("Control"))
            await _hang_up(connection, "NORMAL_TEMPORARY_FAILURE")
            return
        token = data.get(f"variable_{TOKEN_VARIABLE}")
        if token:
            if self._paired(token, (connection, data)):
                return
            log.warning("ESL %s: a call for an unknown or expired originate token; hanging up", connection.peer)
            await _hang_up(connection, "NORMAL_CLEARING")
            return
        await self.daemon.run_call(FreeSwitchCall(self, connection, data))

    # -- API-started calls ---------------------------------------------------------------------------

    def api_call(self, *, to: str = "", from_: str = "") -> "FreeSwitchCall":
        """An IncomingCall with no connection yet: the flow's first dial originates it."""
        return FreeSwitchCall(self, None, None, to=to, from_=from_)

    def socket_address(self) -> str:
        if self.config.freeswitch.socket_address:
            return self.config.freeswitch.socket_address
        return self._reachable()

    async def originate(self, request: DialRequest) -> Originated:
        if self.inbound is None:
            raise ChannelError("API-started flows need [freeswitch.inbound] to place calls")
        if len(request.targets) != 1:
            raise ChannelError("an API-started flow's first dial must have exactly one target on FreeSWITCH")
        if not self.inbound.connected:
            log.warning("cannot originate: the inbound Event Socket is not connected")
            return Originated("failed")
        token, waiter = self.expect("originate")
        target = request.targets[0]
        variables = {TOKEN_VARIABLE: token, "originate_timeout": str(max(1, round(request.timeout)))}
        if request.caller_id:
            variables["origination_caller_id_number"] = request.caller_id
        if request.caller_name:
            variables["origination_caller_id_name"] = request.caller_name
        dial = dial_string(target, self.options.dial_template)
        try:
            placed = await self.inbound.originate(dial, f"&socket({self.socket_address()} async full)",
                                                  variables=variables, timeout=request.timeout + 10)
            if placed.status != "answered":
                log.info("originate to %s: %s (%s)", target, placed.status, placed.cause)
                return Originated(placed.status)
            connection, data = await asyncio.wait_for(asyncio.shield(waiter),
                                                      self.config.freeswitch.originate_answer_timeout)
        except asyncio.TimeoutError:
            log.warning("originated call to %s answered but its socket never connected", target)
            return Originated("failed")
        finally:
            self.forget(token)
        return Originated("answered", connection, data, answered_by=target)


class FreeSwitchCall(SwitchCall):
    """An IncomingCall on one outbound Event Socket (or, for API-started flows, one to be originated). It is
    also its channel's LegSessions."""

    backend = "freeswitch"
    listener: FreeSwitchListener
    connection: EslConnection | None
    _channel: FreeSwitchChannel | None

    def __init__(self, listener: FreeSwitchListener, connection: EslConnection | None, data: ChannelData | None,
                 *, to: str = "", from_: str = ""):
        super().__init__(listener, connection, to=to, from_=from_)
        self.data = data
        destination = data.get("Caller-Destination-Number") if data else None
        self.attributes = CallAttributes(path=data.get(f"variable_{ROUTE_VARIABLE}") if data else None,
                                         number=destination, extension=destination)

    def call_info(self, *, call_id: str, at: datetime, trigger: str, variables: dict[str, Any]) -> CallInfo:
        data = self.data
        if data is None:
            return self._api_call_info(call_id=call_id, at=at, trigger=trigger, variables=variables)
        return CallInfo(
            trigger=trigger, from_=data.get("Caller-Caller-ID-Number") or "anonymous",
            to=data.get("Caller-Destination-Number") or "", from_name=data.get("Caller-Caller-ID-Name") or None,
            at=at, call_id=call_id, variables=variables,
            extra={"backend": "freeswitch", "channel": data.get("Channel-Name"), "uuid": data.uuid,
                   "context": data.get("Caller-Context"), "destination": data.get("Caller-Destination-Number")},
        )

    def channel(self, route: RouteConfig, clock: RealClock) -> Channel:
        tts = self.listener.tts
        if route.tts and tts is not None and hasattr(tts, "with_default"):
            tts = tts.with_default(route.tts)
        self._channel = FreeSwitchChannel(self.connection, self.data, clock=clock, options=self.listener.options,
                                          tts=tts, originator=_Originator(self), legs=self)
        return self._channel

    # -- LegSessions (expect and forget: SwitchCall's) --------------------------------------------------

    def socket_address(self) -> str:
        return self.listener.socket_address()

    async def refuse(self, cause: int) -> None:
        if self.connection is not None:
            await _hang_up(self.connection, Q850.get(cause, "NORMAL_CLEARING"))

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close_legs()
        connection = self._channel.connection if self._channel is not None else self.connection
        if connection is None:
            return
        if self._channel is not None and self._channel.switch_hung_up:
            await connection.wait_linger(self.listener.config.listeners.esl.linger_timeout)
        connection.close()


class _Originator:
    """The channel's Originator for API-started flows: bgapi originate through the listener."""

    def __init__(self, call: FreeSwitchCall):
        self.call = call

    async def originate(self, request: DialRequest) -> Originated:
        placed = await self.call.listener.originate(request)
        if placed.connection is not None:
            self.call.connection, self.call.data = placed.connection, placed.data
        return placed


async def _hang_up(connection: EslConnection, cause: str) -> None:
    """Hang the call up at once (`call-command: hangup`), then close without waiting for more."""
    try:
        reply = await asyncio.wait_for(connection.command(sendmsg_hangup(cause)), 5.0)
    except asyncio.TimeoutError:
        reply = None
    if isinstance(reply, CommandReply) and not reply.ok:
        log.warning("ESL %s: hangup refused: %s", connection.peer, reply.reply_text)
    connection.close()
