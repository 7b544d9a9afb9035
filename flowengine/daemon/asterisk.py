"""The daemon's Asterisk listener: FastAGI connections in, AMI for originating and type-ahead.

    [listeners.fastagi]  host/port of the FastAGI server the dialplan's AGI(agi://…) connects to
    [asterisk]           how flows map onto this Asterisk (dial template, recordings, originate)
    [asterisk.ami]       optional: Originate for API-started flows, DTMF events for type-ahead

Each FastAGI connection becomes one tracked task: read the environment (bounded wait), then either hand
the connection to the flow waiting for it (its first AGI argument is our one-time token: an API-started
flow's originated call, or a leg a flow dialled with on_answer states, which Dial()'s U() subroutine
hands over), or route it like any inbound call through `Daemon.run_call`. Garbage before the
environment ends that connection with one log line. The listener's lifecycle, the token pairing and the
switch-free parts of a call are daemon/switch.py's (shared with FreeSWITCH).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ..channels.asterisk.agi import AgiCommand, AgiEnvironment
from ..channels.asterisk.amiclient import AmiClient
from ..channels.asterisk.channel import AsteriskChannel, AsteriskOptions, Originated, capability_warnings
from ..channels.asterisk.fastagi import AgiConnection, FastAgiServer
from ..channels.asterisk.tts import EspeakNg, TtsCache, TtsProvider, TtsRouter
from ..channels.asterisk.typeahead import TypeAhead
from ..errors import ChannelError
from ..runtime.channel import Channel, DialRequest
from ..runtime.clock import RealClock
from ..runtime.interpreter import CallInfo
from .config import RouteConfig, ServeConfig
from .routing import CallAttributes
from .switch import SwitchCall, SwitchListener

__all__ = ["AsteriskListener", "AsteriskCall", "build_tts", "ORIGINATE_PREFIX"]

log = logging.getLogger("flowengine.asterisk")

ORIGINATE_PREFIX = "flowengine-originate:"
"""First AGI argument of a call we placed (originated, or dialled with U()): the one-time token that
pairs it with its waiting flow."""

ORIGINATE_REASONS = {4: "answered", 5: "busy", 3: "no-answer", 1: "no-answer", 8: "failed", 0: "failed"}
"""OriginateResponse `Reason` (the last control frame: 4 answer, 5 busy, 3 ringing, 1 hang-up, 8
congestion, 0 failure) to dial outcomes."""


def build_tts(config: ServeConfig) -> TtsRouter:
    """The TTS providers of `[tts]` behind one router."""
    cache = TtsCache(config.path(config.tts.cache_dir), max_bytes=config.tts.cache_max_mb * 1024 * 1024)
    providers: dict[str, TtsProvider] = {}
    for name, provider in config.tts.providers.items():
        providers[name] = EspeakNg(cache, binary=provider.binary, voice=provider.voice,
                                   speed=provider.speed or None, timeout=provider.timeout)
    return TtsRouter(providers, config.tts.default, dict(config.tts.voices))


class AsteriskListener(SwitchListener):
    name = "asterisk"
    LISTENING = "FastAGI"
    TOKEN_PREFIX = ORIGINATE_PREFIX
    log = log

    def __init__(self, config: ServeConfig, *, tts: TtsProvider | None = None, ami: AmiClient | None = None):
        super().__init__(config)
        self.options = AsteriskOptions(
            dial_template=config.asterisk.dial_template, recordings_dir=config.asterisk.recordings_dir,
            recording_format=config.asterisk.recording_format, recording_url=config.asterisk.recording_url,
            leg_context=config.asterisk.leg_context)
        self.tts: TtsProvider = tts or build_tts(config)
        ami_config = config.asterisk.ami
        if ami is None and ami_config is not None:
            ami = AmiClient(ami_config.host, ami_config.port, ami_config.username, ami_config.resolved_secret(),
                            ping_interval=ami_config.ping_interval, action_timeout=ami_config.action_timeout,
                            backoff_max=ami_config.backoff_max)
        self.ami = ami

    capability_check = staticmethod(capability_warnings)

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self, daemon: Any) -> None:
        listen = self.config.listeners.fastagi
        await self._listen(daemon, FastAgiServer(self._accept, listen.host, listen.port))
        if self.ami is not None:
            daemon.metrics.watch_ami(lambda: self.ami is not None and self.ami.connected)
            await self.ami.start()

    async def close(self) -> None:
        if self.ami is not None:
            await self.ami.close()

    # -- AMI (the one-time tokens are SwitchListener's) ---------------------------------------------------

    async def hang_up(self, channel: str) -> None:
        """AMI Hangup of `channel`; a failure is one log line (the channel may be gone already)."""
        if self.ami is None or not self.ami.connected:
            return
        try:
            await self.ami.hangup(channel)
        except ChannelError as exc:
            log.info("AMI hangup of %s: %s", channel, exc)

    # -- inbound -------------------------------------------------------------------------------------

    def _accept(self, connection: AgiConnection) -> None:
        self.daemon.spawn(self._serve(connection), name=f"fastagi-{connection.peer}")

    async def _serve(self, connection: AgiConnection) -> None:
        environment = await connection.environment(self.config.listeners.fastagi.env_timeout)
        if environment is None:
            return
        args = environment.args
        if args and args[0].startswith(ORIGINATE_PREFIX):
            if self._paired(args[0], (connection, environment)):
                return
            log.warning("FastAGI call for an unknown or expired originate token; hanging up")
            connection.send_and_close(AgiCommand("EXEC", "Hangup", "1"))
            return
        await self.daemon.run_call(AsteriskCall(self, connection, environment))

    def typeahead_for(self, environment: AgiEnvironment) -> tuple[TypeAhead | None, Any]:
        uniqueid = environment.get("agi_uniqueid")
        if self.ami is None or not self.config.asterisk.type_ahead or not uniqueid or not self.ami.connected:
            return None, None
        tracker = TypeAhead(uniqueid)
        return tracker, self.ami.subscribe(tracker.on_event, uniqueid=uniqueid)

    # -- API-started calls ---------------------------------------------------------------------------

    def api_call(self, *, to: str = "", from_: str = "") -> "AsteriskCall":
        """An IncomingCall with no connection yet: the flow's first dial originates it."""
        return AsteriskCall(self, None, None, to=to, from_=from_)

    def agi_url(self) -> str:
        if self.config.asterisk.agi_url:
            return self.config.asterisk.agi_url
        return f"agi://{self._reachable()}/flowengine-originate"

    async def originate(self, request: DialRequest) -> Originated:
        if self.ami is None:
            raise ChannelError("API-started flows need [asterisk.ami] to place calls")
        if len(request.targets) != 1:
            raise ChannelError("an API-started flow's first dial must have exactly one target on Asterisk")
        if not self.ami.connected:
            log.warning("cannot originate: AMI is not connected")
            return Originated("failed")
        token, waiter = self.expect("originate")
        target = request.targets[0]
        try:
            done = await self.ami.originate(
                channel=self.config.asterisk.originate_channel.format(target=target), application="AGI",
                data=f"{self.agi_url()},{token}", caller_id=request.caller_id, timeout=request.timeout)
            follow = done.follow_up
            if not done.ok or follow is None or follow.get("Response") != "Success":
                reason = int((follow.get("Reason") if follow else None) or 0)
                status = ORIGINATE_REASONS.get(reason, "failed")
                return Originated(status if status != "answered" else "failed")
            connection, environment = await asyncio.wait_for(
                asyncio.shield(waiter), self.config.asterisk.originate_answer_timeout)
        except asyncio.TimeoutError:
            log.warning("originated call to %s answered but never reached FastAGI", target)
            return Originated("failed")
        except ChannelError as exc:
            log.warning("originate to %s failed: %s", target, exc)
            return Originated("failed")
        finally:
            self.forget(token)
        typeahead, release = self.typeahead_for(environment)
        return Originated("answered", connection, typeahead, target, environment, release)


class AsteriskCall(SwitchCall):
    """An IncomingCall on one FastAGI connection (or, for API-started flows, one to be originated). It is
    also its channel's Originator and LegSessions."""

    backend = "asterisk"
    listener: AsteriskListener
    connection: AgiConnection | None
    _channel: AsteriskChannel | None

    def __init__(self, listener: AsteriskListener, connection: AgiConnection | None,
                 environment: AgiEnvironment | None, *, to: str = "", from_: str = ""):
        super().__init__(listener, connection, to=to, from_=from_)
        self.environment = environment
        self._unsubscribe: Any = None
        self._failure: str | None = None
        env = environment
        script = env.get("agi_network_script") if env else None
        self.attributes = CallAttributes(
            path=script, number=_known(env.get("agi_dnid")) if env else None,
            extension=env.get("agi_extension") if env else None)

    def call_info(self, *, call_id: str, at: datetime, trigger: str, variables: dict[str, Any]) -> CallInfo:
        env = self.environment
        if env is None:
            return self._api_call_info(call_id=call_id, at=at, trigger=trigger, variables=variables)
        caller = _known(env.get("agi_callerid"))
        return CallInfo(
            trigger=trigger, from_=caller or "anonymous", to=_known(env.get("agi_dnid")) or env.get("agi_extension") or "",
            from_name=_known(env.get("agi_calleridname")), at=at, call_id=call_id, variables=variables,
            extra={"backend": "asterisk", "channel": env.get("agi_channel"), "uniqueid": env.get("agi_uniqueid"),
                   "context": env.get("agi_context"), "extension": env.get("agi_extension"),
                   "script": env.get("agi_network_script"), "args": list(env.args)},
        )

    def channel(self, route: RouteConfig, clock: RealClock) -> Channel:
        tts = self.listener.tts
        if route.tts and isinstance(tts, TtsRouter):
            tts = tts.with_default(route.tts)
        typeahead = None
        if self.environment is not None:
            typeahead, self._unsubscribe = self.listener.typeahead_for(self.environment)
        self._channel = AsteriskChannel(self.connection, clock=clock, tts=tts, options=self.listener.options,
                                        typeahead=typeahead, originator=self, legs=self)
        return self._channel

    async def originate(self, request: DialRequest) -> Originated:
        """The channel's Originator for API-started flows: AMI Originate through the listener."""
        placed = await self.listener.originate(request)
        if placed.connection is not None:
            self.connection = placed.connection
            self.environment = placed.environment
            self._unsubscribe = placed.release
        return placed

    # -- LegSessions (expect and forget: SwitchCall's) --------------------------------------------------

    def on_caller_hangup(self, callback) -> Any:
        ami = self.listener.ami
        uniqueid = self.environment.get("agi_uniqueid") if self.environment is not None else None
        if ami is None or not uniqueid:
            return None

        def on_event(event) -> None:
            if event.name == "Hangup":
                callback()

        return ami.subscribe(on_event, uniqueid=uniqueid)

    def hang_up(self, channel: str) -> None:
        self.listener.daemon.spawn(self.listener.hang_up(channel), name=f"ami-hangup-{channel}")

    async def refuse(self, cause: int) -> None:
        if self.connection is not None:
            self.connection.send_and_close(AgiCommand("EXEC", "Hangup", str(cause)))

    async def close(self) -> None:
        """Close the connection and let go of the channel: the call's objects are then freed by
        reference counting instead of piling up as cyclic garbage for the GC's oldest generation."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._failure = self.failure
        if self._channel is not None:
            self._channel.close_legs()
            self.connection = self._channel.connection
            self._channel.originator = None
            self._channel = None
        if self.connection is not None:
            self.connection.close()

    @property
    def failure(self) -> str | None:
        """As SwitchCall's, or as it was when the call closed (close lets go of the channel)."""
        return self._failure if self._failure is not None else super().failure


def _known(value: str | None) -> str | None:
    """Asterisk says "unknown" for values it does not have."""
    return None if value in (None, "", "unknown") else value
