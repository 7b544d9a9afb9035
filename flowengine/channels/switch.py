"""What the Asterisk and FreeSWITCH channels share: the Channel primitives whose logic is the same on both
switches, around hooks for what each switch sends, and the messages that name the switch.

    class AsteriskChannel(AgiHolds, SwitchChannel):
        NOT_ON_LEG = "{what} on leg {leg} is not supported on Asterisk: …"
        async def _answer_main(self) -> Result: …             # ANSWER

Rules kept here (the held-leg machinery itself is channels/held.py's):
  * A primitive on a held leg runs on its sub-channel; on any other leg but A it is refused with a
    ChannelError (NOT_ON_LEG): the switch's dial keeps that leg inside the switch.
  * `answer` while leg A waits in a dial that holds a leg is owed, not sent: the switch answers leg A when
    it connects the legs. `reject`, `hangup` (as `ending`) and `dial` first end the holds on leg A.
  * `bridge` right after a dial reports the bridge the switch's dial made (`_dialled`); with a held leg it
    ends the hold with a bridge (`_bridge_held`); anything else is refused (BRIDGE_AFTER_DIAL).
  * A dial without a leg (an API-started flow's first call) goes through the `originator`, once.
  * Every command, and every message that names the switch, stays in the switch's own channel module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ChannelError
from ..runtime.channel import HANGUP, BridgeResult, DialRequest, DialResult, Result
from .held import MAIN, HeldLeg, HoldsLegs

__all__ = ["SwitchChannel", "DialledLeg", "bridge_result"]


@dataclass
class DialledLeg:
    """What the switch's dial reported about a leg it bridged and ended before returning (for `bridge`)."""

    duration: float = 0.0
    ended_by: str | None = None


def bridge_result(duration: float, ended_by: str | None) -> BridgeResult:
    """A bridge's result: outcome hangup for the leg that ended it (None: the time limit ended it)."""
    result = BridgeResult(duration=duration, ended_by=ended_by)
    if ended_by is not None:
        result.outcome, result.hangup_leg = HANGUP, ended_by
    return result


class SwitchChannel(HoldsLegs):
    """The shared primitives of a switch channel (see the module docstring). The owner sets the messages
    below and provides `_answer_main()`, `_reject_main(reason)`, `_hang_up_main(cause)`,
    `_dial_main(new_leg, request, holds)`, `_take_call(placed)`, and (its HoldsLegs mixin)
    `_bridge_held(held, time_limit)` and `_hang_up_held(held, cause)`."""

    NOT_ON_LEG: ClassVar[str]
    """ChannelError for a primitive on a leg the switch keeps to itself; `{what}` and `{leg}` are filled in."""
    NESTED_HOLD: ClassVar[str]
    """ChannelError for a dial with on_answer (or bridge: false) from a held leg; `{leg}` is filled in."""
    BRIDGE_AFTER_DIAL: ClassVar[str]
    """ChannelError for a `bridge` that does not follow a dial."""
    NO_ORIGINATOR: ClassVar[str]
    """ChannelError for a dial without a leg when the channel cannot place calls."""

    connection: Any
    originator: Any
    _dialled: dict[str, DialledLeg]

    def _require_main(self, leg: str, what: str) -> None:
        if leg != MAIN:
            raise ChannelError(self.NOT_ON_LEG.format(what=what, leg=leg))

    @staticmethod
    def _hung(result: Result) -> Result:
        result.outcome, result.hangup_leg = HANGUP, MAIN
        return result

    # -- call control --------------------------------------------------------------------------------

    async def answer(self, leg: str) -> Result:
        held = self._held.get(leg)
        if held is not None:
            return self._named(held, await held.sub.answer(MAIN))
        self._require_main(leg, "answer")
        if self._holding():
            self._owed_answer = True  # the switch's dial answers leg A when it connects the legs
            return Result()
        return await self._answer_main()

    async def reject(self, leg: str, reason: str) -> Result:
        held = self._held.get(leg)
        if held is not None:
            return self._named(held, await held.sub.reject(MAIN, reason))
        self._require_main(leg, "reject")
        await self._free(ending=True)
        return await self._reject_main(reason)

    async def hangup(self, leg: str, cause: str | int | None = None) -> Result:
        held = self._held.get(leg)
        if held is not None:
            await self._hang_up_held(held, cause)
            return Result()
        if leg != MAIN:
            return Result()  # the switch's dial already ended the dialled leg
        return await self._hang_up_main(cause)

    # -- other parties -------------------------------------------------------------------------------

    async def dial(self, leg: str | None, new_leg: str, request: DialRequest) -> DialResult:
        if leg is None:
            return await self._originate(request)
        holds = bool(request.on_answer or not request.bridge)
        held = self._held.get(leg)
        if held is not None:
            if holds:
                raise ChannelError(self.NESTED_HOLD.format(leg=leg))
            return self._named(held, await held.sub.dial(MAIN, new_leg, request))
        self._require_main(leg, "dial")
        await self._free()
        return await self._dial_main(new_leg, request, holds)

    async def _originate(self, request: DialRequest) -> DialResult:
        """An API-started flow's first call, placed by the originator; its connection becomes leg A's."""
        if self.originator is None:
            raise ChannelError(self.NO_ORIGINATOR)
        if self.connection is not None:
            raise ChannelError("an API-started flow may place only its first call without a leg")
        placed = await self.originator.originate(request)
        if placed.status == "answered" and self._take_call(placed):
            return DialResult(status="answered", answered_by=placed.answered_by)
        return DialResult(status=placed.status if placed.status != "answered" else "failed")

    async def bridge(self, leg: str, peer: str, time_limit: float | None = None) -> BridgeResult:
        held = self._held.get(peer) if leg == MAIN else self._held.get(leg) if peer == MAIN else None
        if held is not None:
            return await self._bridge_held(held, time_limit)
        held = self._held.get(leg)
        if held is not None:
            return self._named(held, await held.sub.bridge(MAIN, peer, time_limit))
        dialled = self._dialled.get(peer) or self._dialled.get(leg)
        if dialled is None:
            raise ChannelError(self.BRIDGE_AFTER_DIAL)
        return bridge_result(dialled.duration, dialled.ended_by)

    # -- provided by the owner --------------------------------------------------------------------------

    async def _reject_main(self, reason: str) -> Result:
        """Reject leg A (its holds are over)."""
        raise NotImplementedError

    async def _hang_up_main(self, cause: str | int | None) -> Result:
        """Hang leg A up, ending its holds first."""
        raise NotImplementedError

    async def _dial_main(self, new_leg: str, request: DialRequest, holds: bool) -> DialResult:
        """Dial from leg A (its holds are over); `holds`: the answered leg is handed to us first."""
        raise NotImplementedError

    def _take_call(self, placed: Any) -> bool:
        """Make an answered originate's connection leg A's; False when it came without one."""
        raise NotImplementedError

    async def _bridge_held(self, held: HeldLeg, time_limit: float | None) -> BridgeResult:
        raise NotImplementedError

    async def _hang_up_held(self, held: HeldLeg, cause: str | int | None) -> None:
        raise NotImplementedError
