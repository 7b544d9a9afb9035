"""ManualClock: time moves only when the test says, sleepers wake in order at their own time."""

from __future__ import annotations

import asyncio

from flowengine.control.clock import ManualClock, sleep_or_wake
from tests.channels.asterisk.support import run


@run
async def test_ManualClock_wakes_each_sleeper_at_its_time():
    clock = ManualClock(100.0, loops=1)
    seen = []

    async def ticker():
        while True:
            await clock.sleep(3)
            seen.append(clock.time())

    task = asyncio.get_running_loop().create_task(ticker())
    await clock.advance(10)
    assert seen == [103.0, 106.0, 109.0] and clock.time() == 110.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@run
async def test_sleep_or_wake_returns_on_the_event_or_the_clock():
    clock = ManualClock(0.0, settle=0.05)  # the waiter does not sleep again: do not wait long for it
    wake = asyncio.Event()
    waiter = asyncio.get_running_loop().create_task(sleep_or_wake(clock, 60, wake))
    await asyncio.sleep(0)
    wake.set()
    await asyncio.wait_for(waiter, 1)
    assert not wake.is_set() and clock.time() == 0.0 and clock.sleepers == 0
    clock.loops = 1  # advance waits for the waiter to be asleep
    waiter = asyncio.get_running_loop().create_task(sleep_or_wake(clock, 60, wake))
    await clock.advance(60)
    await asyncio.wait_for(waiter, 1)
