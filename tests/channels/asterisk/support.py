"""Helpers for the Asterisk tests: the shared/wire captures (copied under captures/), async runners."""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from pathlib import Path
from typing import Any, Awaitable, Callable

CAPTURES = Path(__file__).parent / "captures"
_AGI_LINE = re.compile(r"^\S+ (<<|>>) '(.*)'$")
_STAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (<<|>>)(?: '(.*)')?\s*$")


def agi_capture(name: str) -> list[tuple[str, str]]:
    """(direction, line) pairs of an AGI capture; '<<' = Asterisk to us, '>>' = us to Asterisk."""
    out = []
    for raw in (CAPTURES / name).read_text().splitlines():
        match = _AGI_LINE.match(raw)
        if match:
            out.append((match.group(1), match.group(2)))
    return out


def agi_bytes(name: str, direction: str = "<<") -> bytes:
    """Every line one side wrote, as the LF-terminated bytes that crossed the socket."""
    return b"".join(line.encode() + b"\n" for d, line in agi_capture(name) if d == direction)


def ami_capture(name: str) -> list[tuple[str, bytes]]:
    """(direction, wire bytes) per AMI message. The log prints LF; the wire is CRLF (manager.c), and the
    banner is one line without an empty line after it."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in (CAPTURES / name).read_text().splitlines():
        match = _STAMP.match(raw)
        if match:
            if match.group(2) is not None:  # the banner, quoted on its stamp line
                blocks.append((match.group(1), [match.group(2)]))
                blocks.append(("", []))
            else:
                blocks.append((match.group(1), []))
            continue
        if blocks:
            blocks[-1][1].append(raw)
    out = []
    for direction, lines in blocks:
        if not direction:
            continue
        if len(lines) == 1 and lines[0].startswith("Asterisk Call Manager/"):
            out.append((direction, lines[0].encode() + b"\r\n"))
            continue
        while lines and lines[-1] == "":
            lines.pop()
        out.append((direction, "".join(line + "\r\n" for line in lines).encode() + b"\r\n"))
    return out


def run(coroutine_function: Callable[..., Awaitable[Any]], timeout: float = 60.0) -> Callable[..., Any]:
    """Decorator: run an async test body in a fresh event loop, with a timeout."""

    @functools.wraps(coroutine_function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        async def bounded() -> Any:
            return await asyncio.wait_for(coroutine_function(*args, **kwargs), timeout)

        return asyncio.run(bounded())

    del wrapper.__wrapped__  # pytest must see a plain function: fixtures come through **kwargs
    wrapper.__signature__ = inspect.signature(coroutine_function)  # …named like the test's own
    return wrapper


def feed_whole(codec, data: bytes) -> list:
    codec.receive_data(data)
    return drain(codec)


def feed_bytewise(codec, data: bytes) -> list:
    events = []
    for index in range(len(data)):
        codec.receive_data(data[index:index + 1])
        events += drain(codec)
    return events


def drain(codec) -> list:
    events = []
    while True:
        event = codec.next_event()
        if type(event).__name__ == "NEED_DATA":
            return events
        events.append(event)


async def drive(body, *, caller=(), world=None, hangup_at=None, options=None, fake=None, typeahead=None,
                path: str = "flow", **call_kwargs):
    """Run `body(channel)` on an AsteriskChannel served to one fake Asterisk call.

    Returns (body's result, the fake call's CallRecord, the channel)."""
    from flowengine.channels.asterisk.channel import AsteriskChannel
    from flowengine.channels.asterisk.fastagi import FastAgiServer
    from flowengine.channels.fake import World
    from flowengine.runtime.clock import RealClock
    from flowengine.runtime.ids import SequentialIds
    from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts

    tts = FakeTts()
    fake = fake or FakeAsterisk(time_scale=0.001)
    fake.media_duration = tts.duration
    out: dict = {}
    tasks: list = []

    async def serve(connection):
        await connection.environment(5)
        channel = AsteriskChannel(connection, clock=RealClock(), tts=tts, options=options, ids=SequentialIds(),
                                  typeahead=typeahead(connection) if typeahead else None)
        out["channel"] = channel
        try:
            out["result"] = await body(channel)
        finally:
            connection.close()

    def accept(connection):
        tasks.append(asyncio.get_running_loop().create_task(serve(connection)))  # kept: its failure fails the test

    server = FastAgiServer(accept, "127.0.0.1", 0)
    await server.start()
    try:
        call = fake.call(server.address, path=path, caller=list(caller), world=world or World(),
                         hangup_at=hangup_at, **call_kwargs)
        record = await call.finished
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        await server.stop()
    return out.get("result"), record, out.get("channel")
