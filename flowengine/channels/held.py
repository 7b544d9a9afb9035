"""Dialled legs that run their own states (a dial's `on_answer`), each on a second switch session.

Both switches are driven the way whispers and call screening are built by hand: the dialling leg's dial
command asks the switch to hand the answered leg to us before connecting the two (Asterisk: Dial's U()
subroutine runs AGI; FreeSWITCH: the bridge's `group_confirm_key=exec` runs the socket app), and the
leg's own session reaches the daemon carrying a one-time token. Until that *hold* ends, the dialling leg
waits inside the switch's dial and can take no command.

Rules kept here (both switch channels mix HoldsLegs in, through channels/switch.py and their legs.py):
  * A held leg's primitives run on a sub-channel bound to its own session. The sub-channel calls its leg
    "A"; results are renamed to the flow's letter here, or to "A" when leg A's hang-up ended them.
  * A held leg whose session ends (it hung up, or the session dropped) ends its hold. A dropped session
    would let the switch connect the leg to leg A (the subroutine or the socket app just returns), so the
    owner hangs such a leg up on the switch (`_dropped`).
  * A dial that holds waits for the answered leg's session or for its dial command to return, whichever
    comes first; the one-time token is forgotten either way (`_arrival`).
  * A hold ends once (`_end_hold`): the switch is told whether the legs are to be bridged (`_hold_ends`),
    unless the leg's session is gone already (`_dropped`); then the leg's session is closed.
  * The first operation on the dialling leg ends the holds on it: `bridge` with the held leg lets the
    switch's dial connect the two; anything else ends the held leg (`bridge: false`), so the dial
    returns unbridged. `answer` does not end a hold (the switch answers the dialling leg when it connects
    the legs); an answer still owed is sent once the dial has returned without a bridge.
  * Holds exist on leg A only: a held leg cannot hold another (its dial would run inside the switch's
    subroutine or confirm thread).
  * Each dial command runs as a tracked task; `close_legs()` ends what is left when the call ends.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from ..runtime.channel import Result

MAIN = "A"
R = TypeVar("R", bound=Result)


@dataclass(eq=False)
class HeldLeg:
    """A dialled leg whose own session runs its states while leg A waits in the switch's dial."""

    name: str  # the flow's letter
    sub: Any  # the channel bound to the leg's own session (the same class as the owner)
    dial: asyncio.Task  # leg A's dial command, still running in the switch until the hold ends
    time_limit: float | None = None  # the dial's longest bridge
    channel: str = ""  # the switch's name for the leg
    released: bool = False  # the hold is over (bridged, or the leg was ended)
    bridge_from: float | None = None  # switch time at which the hold ended with a bridge
    parent_left: bool = False  # leg A hung up while the leg was held
    unwatch: Callable[[], None] | None = None


def on_leg(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Run a primitive on the session of the leg it names: a held leg's own session, or leg A's once the
    holds on leg A are over."""
    name = method.__name__

    @functools.wraps(method)
    async def run(self: "HoldsLegs", leg: str, *args: Any, **kwargs: Any) -> R:
        held = self._held.get(leg)
        if held is not None:
            return self._named(held, await getattr(held.sub, name)(MAIN, *args, **kwargs))
        if leg == MAIN and self._held:  # (a call that never held a leg pays nothing more)
            await self._free()
        return await method(self, leg, *args, **kwargs)

    return run


class HoldsLegs:
    """What both switch channels share about held legs. The owner provides `legs` (the daemon's side:
    `expect()` a one-time token, `forget(token)`), `_hold_ends(held, bridge)`, `_left(held)` (whether leg
    A's hang-up ended the held leg), `_dropped(held)` and `_answer_main()`."""

    _held: dict[str, HeldLeg]
    _owed_answer: bool
    _tasks: set[asyncio.Task]
    down: bool
    legs: Any

    def _init_legs(self) -> None:
        self._held = {}
        self._owed_answer = False  # leg A was to be answered while it waited in a dial
        self._tasks = set()

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _arrival(self, token: str, arrival: asyncio.Future, dial: asyncio.Task) -> Any:
        """Wait for the answered leg's own session (`arrival`, resolved by the daemon when a session brings
        `token`) or for leg A's `dial` command to return without one; None then. The token is forgotten
        either way, and cancelling the wait cancels the dial command."""
        try:
            await asyncio.wait({arrival, dial}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            dial.cancel()
            raise
        finally:
            self.legs.forget(token)
        if arrival.done() and not arrival.cancelled():
            return arrival.result()
        return None

    def _holding(self) -> bool:
        return any(not held.released or not held.dial.done() for held in self._held.values())

    def _named(self, held: HeldLeg, result: R) -> R:
        """A sub-channel's result with its leg "A" renamed to the flow's letter (or to leg A, gone)."""
        for attr in ("hangup_leg", "ended_by"):
            if getattr(result, attr, None) == MAIN:
                left = self._left(held)
                if left:
                    self.down = True
                elif attr == "hangup_leg" and not held.released:  # the leg's session ended during its hold
                    self._let_go(held)
                    self._dropped(held)
                setattr(result, attr, MAIN if left else held.name)
        return result

    def _let_go(self, held: HeldLeg) -> None:
        """The hold is over: leg A's hang-up no longer concerns it."""
        held.released = True
        if held.unwatch is not None:
            held.unwatch()
            held.unwatch = None

    async def _end_hold(self, held: HeldLeg, bridge: bool) -> None:
        """End the hold, once: a leg whose session is gone is `_dropped`; otherwise the switch is told how
        the hold ends (`_hold_ends`: with a bridge, or without). Then the leg's session is closed."""
        if held.released:
            return
        self._let_go(held)
        if held.sub.down:
            self._dropped(held)
        else:
            await self._hold_ends(held, bridge)
        held.sub.close_session()

    async def _returned(self, held: HeldLeg) -> Any:
        """Leg A's dial command's outcome once it is over (None when it was cancelled)."""
        if not held.dial.done():
            await asyncio.wait({held.dial})
        return None if held.dial.cancelled() else held.dial.result()

    async def _free(self, *, ending: bool = False) -> None:
        """End every hold on leg A and wait for its dial to return, so leg A takes commands again; then
        send the answer leg A is owed, unless it is `ending` (hung up or rejected next)."""
        for held in list(self._held.values()):
            if not held.released:
                await self._end_hold(held, bridge=False)
            await self._returned(held)
        owed, self._owed_answer = self._owed_answer, False
        if owed and not ending and not self.down:
            await self._answer_main()

    def close_legs(self) -> None:
        """The call is over: stop watching, close the held legs' sessions, end leftover dial commands."""
        for held in self._held.values():
            self._let_go(held)
            held.sub.close_legs()
            held.sub.close_session()
        for task in list(self._tasks):
            task.cancel()

    # -- provided by the owner --------------------------------------------------------------------------

    async def _hold_ends(self, held: HeldLeg, bridge: bool) -> None:
        raise NotImplementedError

    def _left(self, held: HeldLeg) -> bool:
        raise NotImplementedError

    def _dropped(self, held: HeldLeg) -> None:
        raise NotImplementedError

    async def _answer_main(self) -> None:
        raise NotImplementedError

    def close_session(self) -> None:
        raise NotImplementedError
