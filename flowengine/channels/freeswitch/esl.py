"""A sans-IO Event Socket (ESL) codec: bytes in, messages out; messages in, bytes out (the h11 way).

    codec = EslCodec(CLIENT, OUTBOUND)          # flowengine's side; SERVER is FreeSWITCH's (the fake uses it)
    writer.write(codec.send(Command("connect")))
    codec.receive_data(chunk)                   # b"" = the peer closed the socket
    while (message := codec.next_event()) is not NEED_DATA:
        ...                                     # ChannelData | CommandReply | ApiResponse | EslEvent | …

Rules kept in this file:
  1. Every legal move is in TRANSITIONS (by state and message type) and REPLIES (which reply answers which
     command kind). Replies come back in command order, so the codec keeps a FIFO of the kinds in flight
     and an unexpected reply is a RemoteProtocolError. Errors are sticky: after one, the codec is in ERROR
     and every later call raises (the buffer, the sentinels and the sticky ERROR are channels/codec.py's).
  2. No I/O and no clock. Framing lives here: a packet is a header block ended by an empty line, then
     exactly Content-Length bytes of body (counted in bytes). Text is decoded once per complete packet as
     UTF-8 (undecodable bytes become U+FFFD, never dropped). A header block longer than `max_head` or a body
     longer than `max_body` is a RemoteProtocolError, so a peer cannot grow the buffer.
  3. Wire facts from mod_event_socket.c / switch_event.c and the FreeSWITCH 1.10 captures in shared/wire/:
     inbound, the switch speaks first (`auth/request`); outbound, we speak first (`connect`) and the reply
     is the raw CHANNEL_DATA event (URL-encoded, no Content-Length) that ends with `Content-Type:
     command/reply`, `Reply-Text: %2BOK%0A`. Wrapper headers (command/reply, disconnect notices) are raw;
     event headers are URL-encoded with FreeSWITCH's unsafe set and an existing %XX is not re-encoded
     (switch_url_encode). A plain event that has a body ends with its own `Content-Length: N`, an empty
     line and the body, so a BACKGROUND_JOB packet carries two Content-Lengths.
  4. The Content-Length inside a plain event frames its body; it is not kept as an event header.
  5. A header may repeat (CHANNEL_HANGUP_COMPLETE repeats Hangup-Cause): `get` returns the first value,
     `get_all` every value; a missing header is None from `get` and KeyError from `[]`, never "".
"""

from __future__ import annotations

import functools
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator
from urllib.parse import quote, unquote

from ...errors import LocalProtocolError, RemoteProtocolError
from ..codec import ERROR, NEED_DATA, Codec, sentinel

__all__ = [
    "CLIENT", "SERVER", "INBOUND", "OUTBOUND", "NEED_DATA", "GREETING", "AUTH", "OPEN", "DISCONNECTED",
    "CLOSED", "ERROR", "EslCodec", "Headers", "Command", "AuthRequest", "CommandReply", "ChannelData",
    "ApiResponse", "EslEvent", "LogData", "DisconnectNotice", "RudeRejection", "Closed", "url_encode",
    "url_decode", "sendmsg", "sendmsg_hangup", "serialize_event", "GOODBYE",
]


CLIENT = "client"  # flowengine: writes commands, reads replies and events
SERVER = "server"  # FreeSWITCH (the fake): reads commands, writes replies and events

INBOUND = "inbound"  # we connect to the switch's event_socket (port 8021): it speaks first
OUTBOUND = "outbound"  # the switch's `socket` app connects to us: we speak first (`connect`)

GREETING = sentinel("GREETING")  # inbound: before auth/request; outbound: before `connect`
AUTH = sentinel("AUTH")  # inbound: auth/request seen, the next command must be auth or userauth
OPEN = sentinel("OPEN")
DISCONNECTED = sentinel("DISCONNECTED")  # the switch said goodbye (or refused us): it closes next
CLOSED = sentinel("CLOSED")

DEFAULT_MAX_HEAD = 256 * 1024
"""Longest header block. An outbound CHANNEL_DATA reply carries every channel variable: 5 KiB on a loopback
call in the captures, tens of KiB with SIP headers and SDP, so this leaves room without letting a peer that
never sends an empty line grow memory."""

DEFAULT_MAX_BODY = 8 * 1024 * 1024
"""Largest Content-Length accepted: `api show channels` on a busy switch returns megabytes."""

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
"""The 67-byte body of the switch's last disconnect notice (mod_event_socket.c)."""

# -- URL encoding (switch_utils.c) ---------------------------------------------------------------------

_UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""
"""SWITCH_URL_UNSAFE; bytes below 0x20 and above 0x7e are encoded too."""
_NEEDS_ENCODING = re.compile(r"[\x00-\x20\"#%&+:;<=>?@\[\\\]^`{|}\x7f-\U0010ffff]")
_HEX = "0123456789ABCDEF"
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_ENCODED = {b: f"%{_HEX[b >> 4]}{_HEX[b & 15]}" for b in range(256)}
_KEEP = {b: chr(b) for b in range(0x20, 0x7f) if chr(b) not in _UNSAFE}
_SAFE = "".join(_KEEP.values())


@functools.lru_cache(maxsize=8192)
def url_encode(value: str) -> str:
    """A header value as switch_url_encode writes it: unsafe bytes as %XX, an existing %XX kept. Cached:
    most values repeat from one event to the next (the fake switch writes thousands of them)."""
    if not _NEEDS_ENCODING.search(value):
        return value
    if "%" not in value:
        return quote(value, safe=_SAFE)
    raw = value.encode("utf-8")
    out = []
    n = len(raw)
    for i, byte in enumerate(raw):
        if byte == 0x25 and i + 2 < n and chr(raw[i + 1]) in _HEXDIGITS and chr(raw[i + 2]) in _HEXDIGITS:
            out.append("%")
            continue
        out.append(_KEEP.get(byte) or _ENCODED[byte])
    return "".join(out)


def url_decode(value: str) -> str:
    """A URL-encoded header value as text (invalid UTF-8 becomes U+FFFD)."""
    return unquote(value, errors="replace") if "%" in value else value


# -- headers ---------------------------------------------------------------------------------------------


class Headers:
    """Header lines in wire order, with lookups by name (case-insensitive, like switch_event_get_header)."""

    __slots__ = ("items", "_first", "_folded")

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self.items: tuple[tuple[str, str], ...] = tuple(items)
        self._first: dict[str, str] = dict(reversed(self.items))
        self._folded: dict[str, str] | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of `name`, or `default` when the header is absent."""
        value = self._first.get(name)
        if value is not None:
            return value
        if self._folded is None:
            self._folded = {k.lower(): v for k, v in reversed(self.items)}
        return self._folded.get(name.lower(), default)

    def exact(self, name: str) -> str | None:
        """The first value of `name` spelt exactly so (the switch's own spelling): no case folding."""
        return self._first.get(name)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.items if k == name or k.lower() == lowered]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other.items == self.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"Headers({len(self.items)} lines)"


class _HeaderView:
    """Lookup methods shared by the messages that carry headers."""

    __slots__ = ()
    headers: Headers

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def get_all(self, name: str) -> list[str]:
        return self.headers.get_all(name)


# -- messages ------------------------------------------------------------------------------------------


class Message:
    """Base of everything the codec reads or writes."""

    __slots__ = ()


_KIND_OF = {"api": "api", "connect": "connect", "auth": "auth", "userauth": "auth", "exit": "exit"}


@dataclass(frozen=True, slots=True, init=False)
class Command(Message, _HeaderView):
    """A command packet: `line` (`sendmsg`, `api status`, …), then optional headers and a body.

    `Command("api uptime")`; `sendmsg(...)` builds the `sendmsg` packets. The body, when any, goes after the
    headers with a Content-Length the codec adds.
    """

    line: str
    headers: Headers
    body: str

    def __init__(self, line: str, headers: Iterable[tuple[str, str]] | Headers = (), body: str = "", *,
                 _parsed: bool = False):
        items = headers if isinstance(headers, Headers) else Headers(headers)
        if not _parsed:
            if not line.strip() or "\n" in line or "\r" in line:
                raise LocalProtocolError(f"invalid ESL command line {line!r}")
            for name, value in items:
                if not name or any(c in name for c in ":\r\n ") or "\n" in value or "\r" in value:
                    raise LocalProtocolError(f"invalid ESL command header {name!r}: {value!r}")
                if name.lower() == "content-length":
                    raise LocalProtocolError("the codec writes Content-Length itself")
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "headers", items)
        object.__setattr__(self, "body", body)

    @property
    def name(self) -> str:
        """The command word, lower-case: `sendmsg`, `api`, `bgapi`, `event`, …"""
        return self.line.split(None, 1)[0].lower()

    @property
    def argument(self) -> str:
        """What follows the command word (`status` in `api status`)."""
        parts = self.line.split(None, 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def kind(self) -> str:
        """Which reply answers it: api | connect | auth | exit | command (see REPLIES)."""
        return _KIND_OF.get(self.name, "command")


def sendmsg(app: str, arg: str | None = None, *, event_uuid: str | None = None, uuid: str | None = None,
            loops: int | None = None, event_lock: bool = False) -> Command:
    """A `sendmsg` packet running dptools `app` (call-command: execute), headers in the order the captured
    client wrote them. An argument holding a line break goes in the body, which the switch reads when
    `execute-app-arg` is absent."""
    headers: list[tuple[str, str]] = [("call-command", "execute"), ("execute-app-name", app)]
    if event_uuid:
        headers.append(("Event-UUID", event_uuid))
    body = ""
    if arg is not None and arg != "":
        if "\n" in arg or "\r" in arg:
            headers.append(("content-type", "text/plain"))
            body = arg
        else:
            headers.append(("execute-app-arg", arg))
    if loops is not None:
        headers.append(("loops", str(loops)))
    if event_lock:
        headers.append(("event-lock", "true"))
    return Command(f"sendmsg {uuid}" if uuid else "sendmsg", headers, body)


def sendmsg_hangup(cause: str = "NORMAL_CLEARING", *, uuid: str | None = None) -> Command:
    """A `sendmsg` packet hanging the channel up (call-command: hangup), run at once rather than queued
    behind the apps in flight."""
    return Command(f"sendmsg {uuid}" if uuid else "sendmsg", (("call-command", "hangup"), ("hangup-cause", cause)))


@dataclass(frozen=True, slots=True)
class AuthRequest(Message):
    """`Content-Type: auth/request`: an inbound connection's first packet."""


@dataclass(frozen=True, slots=True, init=False)
class CommandReply(Message, _HeaderView):
    """`Content-Type: command/reply` with `Reply-Text` (raw, not URL-encoded) and sometimes Job-UUID."""

    headers: Headers

    def __init__(self, reply_text: str | None = None, extra: Iterable[tuple[str, str]] = (), *,
                 headers: Headers | None = None):
        if headers is None:
            if reply_text is None or "\n" in reply_text:
                raise LocalProtocolError(f"invalid Reply-Text {reply_text!r}")
            headers = Headers((("Content-Type", "command/reply"), ("Reply-Text", reply_text), *extra))
        object.__setattr__(self, "headers", headers)

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text") or ""

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")

    @property
    def job_uuid(self) -> str | None:
        return self.headers.get("Job-UUID")


@dataclass(frozen=True, slots=True)
class ChannelData(Message, _HeaderView):
    """The outbound `connect` reply: the controlled channel's CHANNEL_DATA event (every value URL-decoded),
    ending with Content-Type, Reply-Text (`+OK\\n`), Socket-Mode and Control."""

    headers: Headers

    @property
    def uuid(self) -> str | None:
        return self.headers.get("Unique-ID")

    @property
    def ok(self) -> bool:
        return (self.headers.get("Reply-Text") or "").startswith("+OK")


@dataclass(frozen=True, slots=True)
class ApiResponse(Message):
    """`Content-Type: api/response`: the output of `api …` (errors come back here as `-ERR …`)."""

    body: str

    @property
    def ok(self) -> bool:
        return not self.body.startswith("-ERR")


@dataclass(frozen=True, slots=True)
class EslEvent(Message, _HeaderView):
    """An event (`text/event-plain` or `text/event-json`): headers decoded, and the event's own body."""

    headers: Headers
    body: str = ""
    format: str = "plain"

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name") or ""

    @property
    def uuid(self) -> str | None:
        """The channel the event is about (Unique-ID), when it is about one."""
        return self.headers.get("Unique-ID")


@dataclass(frozen=True, slots=True)
class LogData(Message, _HeaderView):
    """`Content-Type: log/data` (after `log <level>`)."""

    headers: Headers
    body: str = ""


@dataclass(frozen=True, slots=True, init=False)
class DisconnectNotice(Message, _HeaderView):
    """`text/disconnect-notice`: `disposition` linger (the channel is gone, events go on until we close) or
    disconnect (the switch closes next)."""

    headers: Headers
    body: str

    def __init__(self, headers: Iterable[tuple[str, str]] | Headers, body: str = ""):
        object.__setattr__(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        object.__setattr__(self, "body", body)

    @classmethod
    def linger(cls, uuid: str, channel_name: str, linger_time: int = -1) -> "DisconnectNotice":
        """What the switch sends when a lingering socket's channel hangs up (header order of the captures)."""
        return cls((("Content-Type", "text/disconnect-notice"), ("Controlled-Session-UUID", uuid),
                    ("Content-Disposition", "linger"), ("Channel-Name", channel_name),
                    ("Linger-Time", str(linger_time)), ("Content-Length", "0")))

    @classmethod
    def goodbye(cls, uuid: str | None = None) -> "DisconnectNotice":
        """The last packet before the switch closes (after `exit`, a refused auth, or a hangup without
        linger on an outbound socket, where it names the controlled session)."""
        head: list[tuple[str, str]] = [("Content-Type", "text/disconnect-notice")]
        if uuid:
            head += [("Controlled-Session-UUID", uuid), ("Content-Disposition", "disconnect")]
        head.append(("Content-Length", str(len(GOODBYE.encode("utf-8")))))
        return cls(head, GOODBYE)

    @property
    def disposition(self) -> str | None:
        return self.headers.get("Content-Disposition")


@dataclass(frozen=True, slots=True)
class RudeRejection(Message):
    """`text/rude-rejection`: the switch's ACL refused the connection; it closes next."""

    body: str = "Access Denied, go away.\n"


@dataclass(frozen=True, slots=True)
class Closed(Message):
    """End of the conversation: the peer closed the socket (received), or we are closing it (sent)."""


# -- the state machine ---------------------------------------------------------------------------------

TRANSITIONS: dict[type, dict[type, type]] = {
    GREETING: {AuthRequest: AUTH, Command: OPEN, RudeRejection: DISCONNECTED, DisconnectNotice: DISCONNECTED,
               Closed: CLOSED},
    AUTH: {Command: OPEN, DisconnectNotice: DISCONNECTED, Closed: CLOSED},
    OPEN: {Command: OPEN, CommandReply: OPEN, ChannelData: OPEN, ApiResponse: OPEN, EslEvent: OPEN,
           LogData: OPEN, DisconnectNotice: OPEN, Closed: CLOSED},
    DISCONNECTED: {DisconnectNotice: DISCONNECTED, Closed: CLOSED},
    CLOSED: {Closed: CLOSED},
}
"""The conversation's legal moves, whichever side makes them. Refinements in EslCodec._advance: the first
command of an outbound conversation is `connect`, of an inbound one `auth`/`userauth`; a `disconnect`
notice (unlike `linger`) and a refused `auth` lead to DISCONNECTED."""

REPLIES: dict[str, frozenset[type]] = {
    "connect": frozenset({ChannelData, CommandReply}),  # CommandReply: a refusal
    "api": frozenset({ApiResponse, CommandReply}),  # CommandReply: `-ERR` where api is not allowed
    "auth": frozenset({CommandReply}),
    "exit": frozenset({CommandReply}),
    "command": frozenset({CommandReply}),
}
"""Which reply answers a command of each kind (Command.kind); replies come back in command order."""

SENDS: dict[str, frozenset[type]] = {
    CLIENT: frozenset({Command, Closed}),
    SERVER: frozenset({AuthRequest, CommandReply, ChannelData, ApiResponse, EslEvent, LogData, DisconnectNotice,
                       RudeRejection, Closed}),
}
"""Which messages each role may send; the other role receives them."""

_REPLY_TYPES = (CommandReply, ChannelData, ApiResponse)
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)


class EslCodec(Codec):
    """One ESL conversation in one role and mode. See the module docstring for the three verbs."""

    PROTOCOL = "ESL"

    def __init__(self, role: str = CLIENT, mode: str = OUTBOUND, *, max_head: int = DEFAULT_MAX_HEAD,
                 max_body: int = DEFAULT_MAX_BODY):
        if role not in SENDS:
            raise ValueError(f"role must be CLIENT or SERVER, not {role!r}")
        if mode not in (INBOUND, OUTBOUND):
            raise ValueError(f"mode must be INBOUND or OUTBOUND, not {mode!r}")
        self.role = role
        self.mode = mode
        self.max_head = max_head
        self.max_body = max_body
        self.state: type = GREETING
        self.pending: deque[str] = deque()  # kinds of the commands whose replies are still due
        self.lingering = False  # a linger notice went by: the channel is gone, events may still come
        self.exited = False  # `exit` was sent
        # -- receive buffer
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already searched for the end of the header block
        self._head: tuple[int, int, int] | None = None  # (end, separator size, body length) once complete
        self._eof = False

    # -- sending -------------------------------------------------------------------------------------

    def send(self, message: Message) -> bytes:
        """The bytes for `message` (b"" for Closed). Raises LocalProtocolError for an illegal move."""
        kind = type(message)
        self._check_sendable(SENDS, kind)
        if kind is Command:
            self._check_command(message)
        if kind in _REPLY_TYPES:
            self._match_reply(message, LocalProtocolError)
        self._advance(message, LocalProtocolError)
        if kind is Command:
            self.pending.append(message.kind)
            if message.kind == "exit":
                self.exited = True
        return _encode(message)

    def _check_command(self, command: Command) -> None:
        if self.exited:
            self._fail(LocalProtocolError(f"can't send {command.name!r} after exit"))
        if self.state is GREETING and self.mode == OUTBOUND and command.kind != "connect":
            self._fail(LocalProtocolError(f"an outbound conversation starts with connect, not {command.name!r}"))
        if self.state is GREETING and self.mode == INBOUND:
            self._fail(LocalProtocolError("an inbound conversation waits for auth/request before any command"))
        if self.state is AUTH and command.kind != "auth":
            self._fail(LocalProtocolError(f"the switch asked for auth; can't send {command.name!r}"))
        words = command.line.split()
        if command.name in ("event", "myevents") and "xml" in (w.lower() for w in words[1:3]):
            self._fail(LocalProtocolError("xml events are not supported; ask for plain or json"))

    # -- receiving -----------------------------------------------------------------------------------

    def next_event(self) -> Message | type:
        """The next message from the received bytes, or NEED_DATA. Raises RemoteProtocolError when the peer
        broke the protocol; any other exception is a bug."""
        self._check_usable()
        if self.state is CLOSED:
            return NEED_DATA
        packet = self._next_packet()
        while packet is not None and not packet[0].strip(b"\r\n") and not packet[1]:
            packet = self._next_packet()  # stray empty lines between packets
        if packet is None:
            if self._eof:
                self._buffer.clear()
                self._scanned = 0
                self._advance(Closed(), RemoteProtocolError)
                return Closed()
            return NEED_DATA
        head, body = packet
        try:
            message = self._parse(head, body)
        except RemoteProtocolError as exc:
            self._fail(exc)
        if type(message) in _REPLY_TYPES:
            self._match_reply(message, RemoteProtocolError)
        elif type(message) is Command:
            if self.exited:
                self._fail(RemoteProtocolError(f"command {message.name!r} after exit"))
            if self.state is GREETING and self.mode == OUTBOUND and message.kind != "connect":
                self._fail(RemoteProtocolError(f"expected connect, got {message.name!r}"))
            if self.state is AUTH and message.kind != "auth":
                self._fail(RemoteProtocolError(f"expected auth, got {message.name!r}"))
        self._advance(message, RemoteProtocolError)
        if type(message) is Command:
            self.pending.append(message.kind)
            self.exited = self.exited or message.kind == "exit"
        return message

    def _next_packet(self) -> tuple[bytes, bytes] | None:
        """(header block, body) of the next complete packet, or None when more bytes are needed."""
        buffer = self._buffer
        if self._head is None:
            start = max(self._scanned - 2, 0)
            end = buffer.find(b"\n\n", start)
            crlf = buffer.find(b"\n\r\n", start, end if end >= 0 else len(buffer))
            skip = 2
            if crlf >= 0:
                end, skip = crlf, 3
            if end < 0:
                self._scanned = len(buffer)
                if len(buffer) > self.max_head:
                    self._fail(RemoteProtocolError(f"ESL header block longer than {self.max_head} bytes"))
                return None
            if end > self.max_head:
                self._fail(RemoteProtocolError(f"ESL header block longer than {self.max_head} bytes"))
            match = _CONTENT_LENGTH.search(buffer, 0, end)
            length = int(match.group(1)) if match else 0
            if length > self.max_body:
                self._fail(RemoteProtocolError(f"ESL body of {length} bytes exceeds {self.max_body}"))
            self._head = (end, skip, length)
        end, skip, length = self._head
        total = end + skip + length
        if len(buffer) < total:
            return None
        head = bytes(buffer[:end])
        body = bytes(buffer[end + skip:total])
        del buffer[:total]
        self._scanned = 0
        self._head = None
        return head, body

    def _parse(self, head: bytes, body: bytes) -> Message:
        text = head.decode("utf-8", errors="replace")
        if self.role == SERVER:
            return _parse_command(text, body)
        if text.startswith("\n") or text.startswith("\r"):
            text = text.lstrip("\r\n")
        if not text:
            self._fail(RemoteProtocolError("empty ESL packet"))
        if self.pending and self.pending[0] == "connect" and not text.startswith("Content-Type:"):
            headers = _parse_headers(text, decode=True)
            if headers.exact("Content-Type") != "command/reply":
                self._fail(RemoteProtocolError("the connect reply is not a command/reply"))
            return ChannelData(headers)
        wrapper = _parse_headers(text, decode=False)
        content_type = wrapper.exact("Content-Type")
        parser = _BY_CONTENT_TYPE.get(content_type or "")
        if parser is None:
            self._fail(RemoteProtocolError(f"unsupported ESL content type {content_type!r}"))
        return parser(wrapper, body)

    # -- state ---------------------------------------------------------------------------------------

    def _match_reply(self, message: Message, error: type) -> None:
        if not self.pending:
            self._fail(error(f"{type(message).__name__} while no command awaits a reply"))
        kind = self.pending[0]
        if type(message) not in REPLIES[kind]:
            self._fail(error(f"{type(message).__name__} can't answer a command of kind {kind!r}"))
        self.pending.popleft()
        if kind in ("auth", "connect") and not message.ok:
            self.state = DISCONNECTED

    def _advance(self, message: Message, error: type) -> None:
        if self.state is DISCONNECTED and type(message) in _REPLY_TYPES:
            return  # the refused auth's reply itself
        next_state = self._next_state(TRANSITIONS, type(message), error)
        if type(message) is DisconnectNotice:
            if message.disposition == "linger":
                self.lingering = True
            else:
                next_state = DISCONNECTED
        self.state = next_state


# -- parsing ---------------------------------------------------------------------------------------------


def _parse_headers(text: str, *, decode: bool) -> Headers:
    """`Name: value` lines (comprehensions: this is the hot path of every event). A line that is not a
    header is a RemoteProtocolError; `Name:` alone is an empty value."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    parts = [line.partition(": ") for line in text.split("\n")]
    if not all([sep and name for name, sep, _ in parts]):
        parts = [_bare_header(name, sep, value) for name, sep, value in parts]
    if decode:
        return Headers([(name, unquote(value, errors="replace") if "%" in value else value)
                        for name, _, value in parts])
    return Headers([(name, value) for name, _, value in parts])


def _bare_header(name: str, sep: str, value: str) -> tuple[str, str, str]:
    if sep and name:
        return name, sep, value
    if name.endswith(":") and len(name) > 1 and ":" not in name[:-1]:
        return name[:-1], ": ", ""
    raise RemoteProtocolError(f"not an ESL header line: {name[:80]!r}")


def _parse_command(text: str, body: bytes) -> Command:
    lines = text.lstrip("\r\n").split("\n")
    line = lines[0].rstrip("\r")
    if not line.strip():
        raise RemoteProtocolError("empty ESL command")
    headers = []
    for raw in lines[1:]:
        raw = raw.rstrip("\r")
        name, sep, value = raw.partition(":")
        if not sep:
            raise RemoteProtocolError(f"not an ESL command header: {raw[:80]!r}")
        if name.strip().lower() == "content-length":
            continue
        headers.append((name.strip(), value.lstrip(" ")))
    return Command(line, headers, body.decode("utf-8", errors="replace"), _parsed=True)


def _plain_event(wrapper: Headers, body: bytes) -> EslEvent:
    head, sep, rest = body.partition(b"\n\n")
    headers = _parse_headers(head.decode("utf-8", errors="replace"), decode=True)
    inner = headers.exact("Content-Length")
    if inner is not None:
        if not inner.isdigit() or int(inner) != len(rest):
            raise RemoteProtocolError(f"event body length {len(rest)} does not match Content-Length {inner}")
        # the serializer writes that line from the body: it frames the body, it is not an event header
        headers = Headers(item for item in headers.items if item[0] != "Content-Length")
        return EslEvent(headers, rest.decode("utf-8", errors="replace"), "plain")
    if rest.strip(b"\n"):
        raise RemoteProtocolError("event has a body but no Content-Length")
    return EslEvent(headers, "", "plain")


def _json_event(wrapper: Headers, body: bytes) -> EslEvent:
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise RemoteProtocolError(f"text/event-json body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RemoteProtocolError("text/event-json body is not a JSON object")
    items = []
    event_body = ""
    for name, value in data.items():
        if name == "_body":
            event_body = str(value)
        elif isinstance(value, list):
            items.extend((name, str(v)) for v in value)
        else:
            items.append((name, "" if value is None else str(value)))
    return EslEvent(Headers(items), event_body, "json")


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


_BY_CONTENT_TYPE = {
    "auth/request": lambda wrapper, body: AuthRequest(),
    "command/reply": lambda wrapper, body: CommandReply(headers=wrapper),
    "api/response": lambda wrapper, body: ApiResponse(_text(body)),
    "text/event-plain": _plain_event,
    "text/event-json": _json_event,
    "log/data": lambda wrapper, body: LogData(wrapper, _text(body)),
    "text/disconnect-notice": lambda wrapper, body: DisconnectNotice(wrapper, _text(body)),
    "text/rude-rejection": lambda wrapper, body: RudeRejection(_text(body)),
}


# -- encoding --------------------------------------------------------------------------------------------


def serialize_event(headers: Headers | Iterable[tuple[str, str]], body: str = "") -> str:
    """An event as switch_event_serialize writes it (the text/event-plain body, and the outbound connect
    reply): URL-encoded values, `_undef_` for an empty one, then `Content-Length: N` and the body if any."""
    lines = [f"{name}: {url_encode(value) if value else '_undef_'}\n" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body.encode('utf-8'))}\n\n{body}")
    else:
        lines.append("\n")
    return "".join(lines)


def _raw_headers(headers: Headers, body: str) -> bytes:
    return ("".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body).encode("utf-8")


def _encode(message: Message) -> bytes:
    kind = type(message)
    if kind is EslEvent:
        if message.format == "json":
            data: dict[str, object] = {}
            for name, value in message.headers:
                if name in data:
                    previous = data[name]
                    data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
                else:
                    data[name] = value
            if message.body:
                data["Content-Length"] = str(len(message.body.encode("utf-8")))
                data["_body"] = message.body
            payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            content_type = "text/event-json"
        else:
            payload = serialize_event(message.headers, message.body).encode("utf-8")
            content_type = "text/event-plain"
        return f"Content-Length: {len(payload)}\nContent-Type: {content_type}\n\n".encode("ascii") + payload
    if kind is Command:
        lines = [message.line + "\n"] + [f"{k}: {v}\n" for k, v in message.headers]
        if message.body:
            lines.append(f"content-length: {len(message.body.encode('utf-8'))}\n\n{message.body}")
        else:
            lines.append("\n")
        return "".join(lines).encode("utf-8")
    if kind is CommandReply or kind is DisconnectNotice or kind is LogData:
        return _raw_headers(message.headers, getattr(message, "body", ""))
    if kind is ChannelData:
        return serialize_event(message.headers).encode("utf-8")
    if kind is ApiResponse:
        body = message.body.encode("utf-8")
        return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode("ascii") + body
    if kind is AuthRequest:
        return b"Content-Type: auth/request\n\n"
    if kind is RudeRejection:
        body = message.body.encode("utf-8")
        return f"Content-Type: text/rude-rejection\nContent-Length: {len(body)}\n\n".encode("ascii") + body
    return b""
