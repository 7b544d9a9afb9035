"""Helpers for the FreeSWITCH tests: the shared/wire ESL captures (copied under captures/), async runners."""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import Any, Awaitable, Callable

from flowengine.channels.freeswitch.esl import CLIENT, INBOUND, NEED_DATA, OPEN, OUTBOUND, SERVER, Command, EslCodec

CAPTURES = Path(__file__).parent / "captures"
OUTBOUND_CAPTURES = ["freeswitch-esl-outbound-5000.log", "freeswitch-esl-outbound-5001.log",
                     "freeswitch-esl-outbound-5002.log", "freeswitch-esl-outbound-dtmf-while-idle.log",
                     "sip-ast2fs-esl-outbound.log"]
INBOUND_CAPTURES = ["freeswitch-esl-inbound-5000.log", "freeswitch-esl-inbound-5001.log",
                    "freeswitch-esl-inbound-5002.log", "sip-fs2ast-esl-inbound.log"]
ALL_CAPTURES = OUTBOUND_CAPTURES + INBOUND_CAPTURES

_STAMP = re.compile(rb"^(\d\d:\d\d:\d\d\.\d{3}) (>>|<<|--)[^\n]*\n", re.M)
_LENGTH = re.compile(rb"^Content-Length: (\d+)$", re.M)


def capture(name: str) -> list[tuple[str, bytes]]:
    """(direction, wire bytes) per packet; '<<' = FreeSWITCH to the client, '>>' = the client to it.

    The log prints each packet after a stamp line, and one extra LF after a packet with a body (its
    Content-Length says where the body really ends)."""
    data = (CAPTURES / name).read_bytes()
    marks = list(_STAMP.finditer(data))
    out = []
    for index, mark in enumerate(marks):
        if mark.group(2) == b"--":
            continue
        end = marks[index + 1].start() if index + 1 < len(marks) else len(data)
        text = data[mark.end():end]
        head, sep, rest = text.partition(b"\n\n")
        length = _LENGTH.search(head)
        if mark.group(2) == b"<<" and length:
            size = int(length.group(1))
            assert rest[size:] in (b"", b"\n"), (name, mark.group(1))
            text = head + sep + rest[:size]
        out.append((mark.group(2).decode(), text))
    return out


def capture_bytes(name: str, direction: str = "<<") -> bytes:
    return b"".join(data for d, data in capture(name) if d == direction)


def mode_of(name: str) -> str:
    return INBOUND if "inbound" in name else OUTBOUND


def replay_client(name: str, feed: Callable[[EslCodec, bytes], list]) -> list:
    """Every message a client codec reads from a capture, its own commands sent in capture order."""
    codec = EslCodec(CLIENT, mode_of(name))
    messages = []
    for direction, data in capture(name):
        if direction == ">>":
            codec.send(parse_command(data))
        else:
            messages += feed(codec, data)
    return messages


def parse_command(data: bytes) -> Command:
    """A client packet of a capture as a Command (read by a server-role codec)."""
    parser = EslCodec(SERVER, OUTBOUND)
    parser.state = OPEN
    parser.receive_data(data)
    command = parser.next_event()
    assert parser.next_event() is NEED_DATA
    return command


def run(coroutine_function: Callable[..., Awaitable[Any]], timeout: float = 20.0) -> Callable[..., Any]:
    """Decorator: run an async test body in a fresh event loop, with a timeout."""

    @functools.wraps(coroutine_function)  # keeps the signature: pytest sees the parameters
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        async def bounded() -> Any:
            return await asyncio.wait_for(coroutine_function(*args, **kwargs), timeout)

        return asyncio.run(bounded())

    return wrapper


def feed_whole(codec: EslCodec, data: bytes) -> list:
    codec.receive_data(data)
    return drain(codec)


def feed_bytewise(codec: EslCodec, data: bytes) -> list:
    messages = []
    for index in range(len(data)):
        codec.receive_data(data[index:index + 1])
        messages += drain(codec)
    return messages


def drain(codec: EslCodec) -> list:
    messages = []
    while (message := codec.next_event()) is not NEED_DATA:
        messages.append(message)
    return messages


async def run_flow(flow, scenario=None, *, options=None, fake_options=None, call_options=None, setup=None,
                   timeout: float = 10.0):
    """`run_on_fake_freeswitch` for the channel tests: returns (transcript, the fake's CallRecord, the channel)."""
    from flowengine.channels.freeswitch.channel import FreeSwitchOptions
    from flowengine.testing.fake_freeswitch import run_on_fake_freeswitch

    channels: list = []
    transcript, record = await run_on_fake_freeswitch(
        flow, scenario, options=options or FreeSwitchOptions(), fake_options=fake_options, call_options=call_options,
        setup=setup, channels=channels, timeout=timeout)
    return transcript, record, channels[0]


def without(events: list[dict], *keys: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in keys} for e in events]
