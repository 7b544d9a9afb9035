"""Type-ahead: keys AGI loses between commands come back from AMI's DTMF events."""

from __future__ import annotations

import asyncio

from flowengine.channels.asterisk.amiclient import AmiClient
from flowengine.channels.asterisk.ami import AmiEvent
from flowengine.channels.asterisk.channel import AsteriskChannel
from flowengine.channels.asterisk.fastagi import FastAgiServer
from flowengine.channels.asterisk.typeahead import BUFFER, DISCARD, READ, TypeAhead
from flowengine.runtime.channel import CollectRequest, Prompt
from flowengine.runtime.clock import RealClock
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts

from .support import run


def event(name: str, **headers: str) -> AmiEvent:
    return AmiEvent([("Event", name), ("Uniqueid", "1.1"), *headers.items()])


def dtmf(digit: str) -> AmiEvent:
    return event("DTMFEnd", Digit=digit, Direction="Received")


@run
async def test_TypeAhead_attributes_keys_to_the_command_running():
    tracker = TypeAhead("1.1")
    for policy in (READ, DISCARD, BUFFER):
        tracker.command_sent(policy)
    tracker.on_event(dtmf("0"))  # before any command: idle
    for digit in "123":
        tracker.on_event(event("AGIExecStart"))
        tracker.on_event(dtmf(digit))
        tracker.on_event(event("AGIExecEnd"))
    tracker.on_event(dtmf("4"))  # idle again
    tracker.on_event(event("DTMFEnd", Digit="9", Direction="Sent"))  # our own tones do not count
    assert await tracker.sync()
    assert tracker.take() == "034"  # READ took "1", DISCARD dropped "2"
    tracker.unread("7")
    assert tracker.take() == "7"


@run
async def test_TypeAhead_turns_itself_off_without_agi_events():
    tracker = TypeAhead("1.1", sync_timeout=0.01)
    tracker.command_sent(BUFFER)
    tracker.on_event(dtmf("5"))
    assert not await tracker.sync()
    assert tracker.take() == "" and not tracker.enabled


async def idle_keys_then_collect(with_ami: bool):
    """shared/wire/asterisk-*-dtmf-while-idle: keys pressed after a prompt, before the next read."""
    tts = FakeTts()
    fake = FakeAsterisk(time_scale=0.001, media_duration=tts.duration)
    ami = None
    if with_ami:
        await fake.start_ami()
        ami = AmiClient(*fake.ami_address, "flowengine", "secret")
        await ami.start()
        assert await ami.wait_ready(2)
    pressed = asyncio.Event()
    outcome = {}

    async def serve(connection):
        environment = await connection.environment(5)
        tracker = None
        if ami is not None:
            tracker = TypeAhead(environment["agi_uniqueid"])
            ami.subscribe(tracker.on_event, uniqueid=environment["agi_uniqueid"])
        channel = AsteriskChannel(connection, clock=RealClock(), tts=tts, typeahead=tracker)
        await channel.play("A", Prompt("play", "hello-world"))
        call.press("1234#")  # while no AGI command runs
        await pressed.wait()
        outcome["result"] = await channel.collect("A", CollectRequest(max_digits=6, timeout=8.0,
                                                                      inter_digit_timeout=8.0))
        connection.close()

    server = FastAgiServer(lambda c: asyncio.ensure_future(serve(c)), "127.0.0.1", 0)
    await server.start()
    call = fake.call(server.address, caller=["timeout"])
    original_press = call.press

    def press(keys):
        original_press(keys)
        asyncio.get_running_loop().call_later(0.02, pressed.set)

    call.press = press
    await call.finished
    await server.stop()
    if ami is not None:
        await ami.close()
    await fake.close()
    return outcome["result"]


@run
async def test_keys_pressed_while_idle_reach_the_next_collect_through_ami():
    result = await idle_keys_then_collect(with_ami=True)
    assert (result.digits, result.reason) == ("1234", "finish_key")


@run
async def test_without_ami_idle_keys_are_lost_as_in_the_capture():
    result = await idle_keys_then_collect(with_ami=False)
    assert (result.digits, result.reason) == ("", "timeout")
