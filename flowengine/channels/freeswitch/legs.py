"""Held legs on FreeSWITCH: the bridge's group confirmation runs the socket app on the answered leg.

    bridge {group_confirm_key=exec,group_confirm_file='socket 127.0.0.1:8084 async full',
            group_confirm_cancel_timeout=true,flowengine_token=<token>,…}sofia/gateway/default/+15551112222

With `group_confirm_key=exec`, switch_ivr_originate runs `group_confirm_file` as an application on the leg
that answers, in a thread of its own, before it lets that leg win (collect_thread_run); the originate's
timeout stops counting once confirmation starts (`group_confirm_cancel_timeout`). The socket app connects
the leg to the daemon, whose listener pairs it with the waiting dial by the `flowengine_token` variable (as
for originated calls). The answered leg then runs its states on its own outbound socket while leg A waits
in the bridge app, hearing the ringback. Rules kept here:
  * Closing the leg's socket ends the socket app without a hang-up (no `resume`, so the confirm thread
    simply returns): the leg is still up, so it wins and the bridge app connects it to leg A.
  * Ending the hold without a bridge hangs the leg up: the originate then has no winner and the bridge app
    returns. (FreeSWITCH cannot let a confirmed leg live on unbridged.)
  * The bridge's time limit is scheduled on the leg when the hold ends (`sched_hangup`), so it counts the
    bridge and not the leg's own states.
  * Leg A hanging up cancels the originate: FreeSWITCH hangs the held leg up with ORIGINATOR_CANCEL, which
    names leg A as the one that left, whichever socket reports first.
  * A held leg whose socket drops without a hang-up is killed from leg A's socket (`api uuid_kill`): its
    socket app returns as if released, so the bridge app may connect it to leg A until the kill lands.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ...errors import ChannelError
from ...runtime.channel import BridgeResult, DialRequest, DialResult
from ..held import MAIN, HeldLeg, HoldsLegs
from ..switch import bridge_result
from .esl import ChannelData, Command
from .outbound import EslConnection

log = logging.getLogger("flowengine.freeswitch")

TOKEN_VARIABLE = "flowengine_token"
"""Channel variable of a call we placed (originated, or a held leg): pairs its socket with its flow."""


class LegSessions(Protocol):
    """The daemon's side of held legs: where their socket app connects, and their one-time tokens."""

    def socket_address(self) -> str:
        """host:port of the outbound Event Socket server."""
        ...

    def expect(self) -> tuple[str, asyncio.Future[tuple[EslConnection, ChannelData]]]:
        """A one-time token (for `flowengine_token`) and the future its socket resolves."""
        ...

    def forget(self, token: str) -> None:
        """The token is used or no longer wanted: a socket arriving with it is hung up."""
        ...


class EslHolds(HoldsLegs):
    """The bridge app with group confirmation and everything that follows (mixed into FreeSwitchChannel)."""

    legs: LegSessions | None

    async def _dial_held(self, new_leg: str, request: DialRequest, options: list[str], targets: str) -> DialResult:
        if self.legs is None:
            raise ChannelError("a dial with on_answer or bridge: false needs the daemon's Event Socket listener on "
                               "FreeSWITCH: the answered leg's own socket comes back to it")
        token, arrival = self.legs.expect()
        options = options + ["group_confirm_key=exec",
                             f"group_confirm_file='socket {self.legs.socket_address()} async full'",
                             "group_confirm_cancel_timeout=true", f"{TOKEN_VARIABLE}={token}"]
        self._bridges.clear()
        dial = self._spawn(self._execute("bridge", "{" + ",".join(options) + "}" + targets))
        session = await self._arrival(token, arrival, dial)
        if session is not None:
            connection, data = session
            return self._hold(new_leg, request, dial, connection, data)
        result = self._dial_outcome(new_leg, request, dial.result())
        if result.status == "answered":
            raise ChannelError(f"the bridge connected leg {new_leg} without running its socket app: this "
                               "FreeSWITCH ignored group_confirm_key=exec (docs/freeswitch.md)")
        return result

    def _hold(self, new_leg: str, request: DialRequest, dial: asyncio.Task, connection: EslConnection,
              data: ChannelData) -> DialResult:
        sub = type(self)(connection, data, clock=self.clock, options=self.options, tts=self.tts, ids=self.ids)
        sub.answered_leg = True

        def lingered() -> None:  # the leg is gone for good: nothing more to read from its socket
            sub._release()
            connection.close()

        connection.on_linger = lingered
        name = data.get("Channel-Name") or ""
        self._held[new_leg] = HeldLeg(new_leg, sub, dial, request.time_limit, name)
        return DialResult(status="answered", answered_by=self._answered(request, name))

    def _left(self, held: HeldLeg) -> bool:
        return held.parent_left or self.down or held.sub.hangup_cause == "ORIGINATOR_CANCEL"

    def _dropped(self, held: HeldLeg) -> None:
        sub = held.sub
        if sub.hangup_cause is not None or self.connection is None:
            return  # FreeSWITCH hung the leg up: the originate has no winner
        log.warning("the socket of held leg %s (%s) ended without a hang-up: %s; killing it", held.name,
                    held.channel, sub.failure or "the connection closed")
        self.connection.post(Command(f"api uuid_kill {sub.uuid} NORMAL_CLEARING"), "uuid_kill")

    async def _hold_ends(self, held: HeldLeg, bridge: bool) -> None:
        """The socket closes next and the leg wins the bridge (its time limit scheduled now), or the leg is
        hung up."""
        sub = held.sub
        if not bridge:
            await sub._execute("hangup", "NORMAL_CLEARING")
        elif held.time_limit:
            await sub._execute("sched_hangup", f"+{max(1, round(held.time_limit))} ALLOTTED_TIMEOUT")

    async def _hang_up_held(self, held: HeldLeg, cause: str | int | None) -> None:
        if held.released:
            return
        self._let_go(held)
        await held.sub.hangup(MAIN, cause)
        held.sub.close_session()

    async def _bridge_held(self, held: HeldLeg, time_limit: float | None) -> BridgeResult:
        held.time_limit = time_limit or held.time_limit
        await self._end_hold(held, bridge=True)
        self._owed_answer = False  # the bridge answers leg A when it connects the legs
        event = await self._returned(held)
        bridged = self._bridged(event, held.name) if event is not None else None
        if bridged is None:  # leg A left, or the leg was gone before the bridge
            bridged = 0.0, MAIN if self.down or event is None else held.name
        duration, ended_by = bridged
        if ended_by == MAIN:
            self.down = True
        return bridge_result(duration, ended_by)

    def _answered(self, request: DialRequest, name: str) -> str | None:
        """Which target answered, from the answered channel's name."""
        if len(request.targets) == 1:
            return request.targets[0]
        for target in request.targets:
            if name and (self.dial_string(target) == name or name.endswith(target)):
                return target
        return None
