"""Held legs on Asterisk: Dial()'s U() option hands the answered leg to a FastAGI session of its own.

    Dial(PJSIP/+15551112222,30,gU(flowengine-leg^flowengine-originate:<token>))
    [flowengine-leg]
    exten => s,1,AGI(agi://127.0.0.1:4573/flowengine-leg,${ARG1})
     same => n,Return()

After the called party answers, Dial() runs that subroutine on it (leg A waits in autoservice, hearing
nothing); the AGI session reaches the daemon, whose listener pairs it with the waiting dial by its
one-time token, as for originated calls. Closing that session ends the subroutine; then Dial() connects
the legs, unless the session set GOSUB_RESULT=CONTINUE, which makes Dial() hang the called leg up and
return (app_dial.c). Rules kept here:
  * The bridge's length is measured on Asterisk's clock (`${STRFTIME(,,%s.%3q)}` when the hold ends and
    when Dial() returns): ANSWEREDTIME counts from leg A's answer, which may be long before the bridge.
  * While leg A waits in Dial() its AGI session says nothing about it. With AMI, leg A's Hangup event
    ends the held leg's session at once (and AMI hangs that leg up); without AMI, Asterisk tells us when
    the held leg's states end and Dial() returns.
  * A held leg that is still busy when it must end without a bridge is hung up through AMI when there
    is AMI (its command would otherwise run to its end first), and so is a leg whose session dropped
    without Asterisk's HANGUP (AGI() would return and Dial() connect it). Without AMI such a leg is
    connected to leg A until one of them hangs up, and leg A's next command waits for that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Protocol

from ...errors import ChannelError
from ...runtime.channel import BridgeResult, DialRequest, DialResult
from ..held import MAIN, HeldLeg, HoldsLegs
from ..switch import bridge_result
from .agi import AgiEnvironment
from .fastagi import AgiConnection

log = logging.getLogger("flowengine.asterisk")

SWITCH_TIME = "STRFTIME(,,%s.%3q)"
"""Asterisk's clock, in seconds with milliseconds (func_strftime's %[n]q)."""


class LegSessions(Protocol):
    """The daemon's side of held legs: their FastAGI sessions, and what only AMI can say or do."""

    def expect(self) -> tuple[str, asyncio.Future[tuple[AgiConnection, AgiEnvironment]]]:
        """A one-time token (the AGI argument) and the future its session resolves."""
        ...

    def forget(self, token: str) -> None:
        """The token is used or no longer wanted: a session arriving with it is hung up."""
        ...

    def on_caller_hangup(self, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call `callback` when leg A hangs up (an AMI Hangup event); the unsubscribe, None without AMI."""
        ...

    def hang_up(self, channel: str) -> None:
        """Hang `channel` up now through AMI, without waiting (nothing without AMI)."""
        ...


class AgiHolds(HoldsLegs):
    """Dial() with U() and everything that follows from it (mixed into AsteriskChannel)."""

    legs: LegSessions | None

    async def _dial_held(self, new_leg: str, request: DialRequest, options: str, destinations: str) -> DialResult:
        if self.legs is None:
            raise ChannelError("a dial with on_answer or bridge: false needs the daemon's FastAGI listener on "
                               "Asterisk: it pairs the answered leg's own AGI session with the dial")
        token, arrival = self.legs.expect()
        options += f"U({self.options.leg_context}^{token})"
        started = self.clock.now()
        dial = self._spawn(self._run("EXEC", "Dial", f"{destinations},{max(1, round(request.timeout))},{options}"))
        session = await self._arrival(token, arrival, dial)
        if session is not None:
            connection, environment = session
            return await self._hold(new_leg, request, dial, connection, environment)
        result = await self._dial_outcome(new_leg, request, dial.result(), started)
        if result.status == "answered":
            raise ChannelError(f"Dial() connected leg {new_leg} without handing it to flowengine: the dialplan "
                               f"needs the [{self.options.leg_context}] context of docs/asterisk.md")
        return result

    async def _hold(self, new_leg: str, request: DialRequest, dial: asyncio.Task, connection: AgiConnection,
                    environment: AgiEnvironment) -> DialResult:
        sub = type(self)(connection, clock=self.clock, tts=self.tts, options=self.options, ids=self.ids)
        sub.answered_leg = True
        held = HeldLeg(new_leg, sub, dial, request.time_limit, environment.get("agi_channel") or "")
        self._held[new_leg] = held
        assert self.legs is not None
        held.unwatch = self.legs.on_caller_hangup(lambda: self._caller_left(held))
        answered_by = request.targets[0] if len(request.targets) == 1 else None
        if answered_by is None:
            peer = await sub._variables("DIALEDPEERNUMBER")
            answered_by = self._answered_by(request.targets, peer[0] if peer else "")
        return DialResult(status="answered", answered_by=answered_by)

    def _caller_left(self, held: HeldLeg) -> None:
        """AMI: leg A hung up while `held` ran its states. Dial() would only notice when they end."""
        if held.released:
            return
        held.parent_left = True
        self.down = True
        if held.sub.connection is not None:
            held.sub.connection.abandon("leg A hung up")
        if held.channel and self.legs is not None:
            self.legs.hang_up(held.channel)

    def _left(self, held: HeldLeg) -> bool:
        return held.parent_left or self.down

    def _dropped(self, held: HeldLeg) -> None:
        connection = held.sub.connection
        if connection is None or connection.hung_up:
            return  # Asterisk said HANGUP: the leg is gone, and Dial() returns without a bridge
        log.warning("the session of held leg %s (%s) ended without a hang-up: %s", held.name, held.channel,
                    held.sub.failure or "the connection closed")
        if held.channel and self.legs is not None:
            self.legs.hang_up(held.channel)

    async def _hold_ends(self, held: HeldLeg, bridge: bool) -> None:
        """The subroutine returns (its session closes next) and Dial() connects the legs, or (CONTINUE)
        hangs the held leg up and returns."""
        sub = held.sub
        if bridge:
            held.bridge_from = await sub._switch_time()
        else:
            if sub.connection is not None and sub.connection.busy and held.channel and self.legs is not None:
                self.legs.hang_up(held.channel)
            await sub._run("SET VARIABLE", "GOSUB_RESULT", "CONTINUE")

    async def _hang_up_held(self, held: HeldLeg, cause: str | int | None) -> None:
        """The flow hangs the held leg up: the subroutine returns with it gone, and Dial() returns."""
        if held.released:
            return
        self._let_go(held)
        connection = held.sub.connection
        if connection is not None and connection.busy and held.channel and self.legs is not None:
            self.legs.hang_up(held.channel)
        await held.sub.hangup(MAIN, cause)

    async def _bridge_held(self, held: HeldLeg, time_limit: float | None) -> BridgeResult:
        await self._end_hold(held, bridge=True)
        self._owed_answer = False  # Dial() answers leg A when it connects the legs
        reply = await self._returned(held)
        caller_left = reply is None or reply.number == -1
        end = await self._switch_time()
        duration = 0.0
        if end is not None and held.bridge_from is not None:
            duration = round(max(0.0, end - held.bridge_from), 3)
        limit = time_limit or held.time_limit
        if caller_left:
            self.down = True
            ended_by: str | None = MAIN
        elif held.bridge_from is None:
            ended_by = held.name  # the held leg was gone before the bridge
        else:
            ended_by = None if limit and duration >= limit - 0.5 else held.name
        return bridge_result(duration, ended_by)

    async def _switch_time(self) -> float | None:
        """Asterisk's clock now (None when the session is gone)."""
        values = await self._variables(SWITCH_TIME)
        return _seconds(values[0]) if values else None


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
