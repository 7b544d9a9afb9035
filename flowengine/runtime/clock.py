"""Clocks: the only place the runtime reads time or sleeps.

`VirtualClock` counts integer milliseconds and never sleeps: the fake channel advances it by each
operation's duration, so a simulation is instant and byte-for-byte repeatable. `RealClock` reads the
monotonic clock and enforces deadlines with asyncio timeouts around channel operations.

A deadline (call lifetime, time budget) cuts the running operation short: on the virtual clock the fake
channel sees `deadline_ms` and returns an `interrupted` result; on the real clock `guard` raises
`DeadlineReached`, which the interpreter treats the same way.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Protocol


class DeadlineReached(Exception):
    """A real-clock deadline passed while a channel operation ran."""


class Clock(Protocol):
    needs_guard: bool

    def now(self) -> float:
        """Seconds since the call started."""
        ...

    def stamp(self) -> float:
        """`now()` rounded to the millisecond, for transcript events."""
        ...

    def wall(self) -> datetime:
        """The wall-clock time now (timezone-aware)."""
        ...

    def set_deadline(self, seconds: float | None) -> None: ...

    async def sleep(self, seconds: float) -> None: ...

    async def guard(self, operation: Awaitable[Any]) -> Any: ...

    async def every(self, interval: float, operation: Awaitable[Any],
                    tick: Callable[[], Awaitable[None]]) -> Any:
        """Run `operation`; while it runs, call `tick` every `interval` seconds (a bridge's heartbeat).
        Each tick runs at its own time on the clock; the operation's result is returned."""
        ...


class VirtualClock:
    """Simulated time in integer milliseconds from a wall-clock start. Never sleeps."""

    needs_guard = False

    def __init__(self, start: datetime | None = None):
        self.start = start or datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
        self.ms = 0
        self.deadline_ms: int | None = None

    def now(self) -> float:
        return self.ms / 1000

    stamp = now  # already whole milliseconds

    def wall(self) -> datetime:
        return self.start + timedelta(milliseconds=self.ms)

    def advance_ms(self, ms: int) -> None:
        self.ms += max(int(ms), 0)

    def set_deadline(self, seconds: float | None) -> None:
        self.deadline_ms = None if seconds is None else round(seconds * 1000)

    async def sleep(self, seconds: float) -> None:
        self.advance_ms(round(seconds * 1000))

    async def guard(self, operation: Awaitable[Any]) -> Any:
        return await operation

    async def every(self, interval: float, operation: Awaitable[Any],
                    tick: Callable[[], Awaitable[None]]) -> Any:
        # The operation completes at once on virtual time; the ticks that fell inside it are then
        # replayed at their own times (the clock is set back for each), so events stay in time order.
        start = self.ms
        result = await operation
        end, step = self.ms, max(round(interval * 1000), 1)
        at = start + step
        while at < end:
            self.ms = at
            await tick()
            at += step
        self.ms = end
        return result


class RealClock:
    """Monotonic time for live calls; `guard` enforces the current deadline."""

    needs_guard = True

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(timezone.utc)
        self._deadline: float | None = None

    def now(self) -> float:
        return time.monotonic() - self._t0

    def stamp(self) -> float:
        return round(self.now(), 3)

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.now())

    def set_deadline(self, seconds: float | None) -> None:
        self._deadline = seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def guard(self, operation: Awaitable[Any]) -> Any:
        if self._deadline is None:
            return await operation
        remaining = self._deadline - self.now()
        if remaining <= 0:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise DeadlineReached()
        # asyncio.timeout cancels the operation in place: no extra task or timer handle per operation.
        try:
            async with asyncio.timeout(remaining) as scope:
                return await operation
        except TimeoutError:
            if scope.expired():
                raise DeadlineReached() from None
            raise

    async def every(self, interval: float, operation: Awaitable[Any],
                    tick: Callable[[], Awaitable[None]]) -> Any:
        async def ticking() -> None:
            while True:
                await asyncio.sleep(interval)
                await tick()

        ticker = asyncio.ensure_future(ticking())
        try:
            return await operation
        finally:
            ticker.cancel()
            await asyncio.wait([ticker])  # lets the ticker finish cancelling; our own cancellation still propagates
