"""A sans-IO AMI (Asterisk Manager Interface) codec, and the rules that say when an action is complete.

    codec = AmiCodec(CLIENT)
    codec.receive_data(chunk)                    # b"" = the peer closed the socket
    while (message := codec.next_event()) is not NEED_DATA:
        ...                                      # AmiBanner | AmiResponse | AmiEvent | Closed
    writer.write(codec.send(AmiAction("Ping", action_id="7")))

Rules kept in this file:
  1. The legal moves are the TRANSITIONS table; SENDS says which role sends what. Errors are sticky (the
     buffer, the line reader, the sentinels and the sticky ERROR are channels/codec.py's, shared with AGI).
  2. No I/O. Framing: the server's first line is the banner `Asterisk Call Manager/<version>` with no
     empty line after it; every other message is `Key: Value` lines closed by an empty line. We write
     CRLF; we read CRLF or a bare LF (Asterisk's get_input accepts both). Text is decoded once per
     complete line as UTF-8 (undecodable bytes become U+FFFD), never per TCP chunk.
  3. Header names match case-insensitively; a header may repeat (`Variable:`, `Output:`) and is then
     read with `get_all`. A missing header is None from `get` and KeyError from `[]`, never "".
  4. An action's completion is decided by tables, not by reading prose (panoramisk's "will follow"):
     `EventList: start` opens a list closed by an event with `EventList: Complete`; FOLLOW_UPS names the
     event that carries the real outcome of an asynchronous action (Originate with `Async: true`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ...errors import LocalProtocolError, RemoteProtocolError
from ..codec import ERROR, NEED_DATA, LineCodec, sentinel

__all__ = [
    "CLIENT", "SERVER", "NEED_DATA", "BANNER", "OPEN", "CLOSED", "ERROR", "AmiCodec", "AmiBanner",
    "AmiAction", "AmiActionTooLong", "AmiResponse", "AmiEvent", "Closed", "ActionTracker", "Completion", "PENDING", "FOLLOW_UPS",
]

CLIENT = "client"  # flowengine: reads the banner, responses and events; writes actions
SERVER = "server"  # Asterisk (the fake): writes the banner, responses and events; reads actions

BANNER = sentinel("BANNER")
OPEN = sentinel("OPEN")
CLOSED = sentinel("CLOSED")
PENDING = sentinel("PENDING")

BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_LINE = 64 * 1024
"""Longest header line read. Event values (VarSet, ChanVariable, Cdr fields) can be long, so this is
roomier than AGI's, while still bounding what a peer that never sends LF can make us buffer."""

MAX_ACTION_HEADERS = 128
"""AST_MAX_MANHEADERS: Asterisk refuses longer actions with the message below."""
TOO_MANY_LINES = "Too many lines in message or allocation failure"
MAX_MESSAGE_HEADERS = 4096
"""Longest response or event the client accepts (a CoreShowChannel with many ChanVariables is ~40)."""

_HEADER_NAME = re.compile(r"[^\s:]{1,128}")


# -- messages ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AmiBanner:
    """The server's first line, `Asterisk Call Manager/11.0.0`."""

    version: str

    def line(self) -> str:
        return f"{BANNER_PREFIX}{self.version}"


@dataclass(frozen=True, slots=True)
class AmiActionTooLong:
    """Server role: an action had more than MAX_ACTION_HEADERS lines (Asterisk answers TOO_MANY_LINES)."""

    action_id: str | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """End of the conversation: the peer closed the socket (received), or we are closing it (sent)."""


class AmiMessage:
    """Ordered headers with case-insensitive lookup. Subclasses say which header names the message."""

    __slots__ = ("headers",)
    KIND = ""

    def __init__(self, headers: Iterable[tuple[str, str]], *, _parsed: bool = False):
        items = tuple(headers)
        if not _parsed:
            for name, value in items:
                if not _HEADER_NAME.fullmatch(name):
                    raise LocalProtocolError(f"invalid AMI header name {name!r}")
                if "\r" in value or "\n" in value:
                    raise LocalProtocolError(f"AMI header {name} contains a line break")
        self.headers: tuple[tuple[str, str], ...] = items

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header `name` (any case), or `default`."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of a header that may repeat (Variable, Output, ChanVariable)."""
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash((type(self), self.headers))

    def __repr__(self) -> str:
        shown = " ".join(f"{k}={v!r}" for k, v in self.headers[:6])
        more = f" …+{len(self.headers) - 6}" if len(self.headers) > 6 else ""
        return f"<{type(self).__name__} {shown}{more}>"

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def encode(self) -> bytes:
        return ("".join(f"{k}: {v}\r\n" for k, v in self.headers) + "\r\n").encode("utf-8")


class AmiAction(AmiMessage):
    """A request: `AmiAction("Originate", {"Channel": "Local/100@flow-agi", "Async": "true"}, action_id="4")`.

    Headers given as a dict or pairs; a list value repeats the header (`Variable: a=1`, `Variable: b=2`).
    """

    __slots__ = ()
    KIND = "Action"

    def __init__(self, name: str | None = None, headers: Iterable[tuple[str, str]] | dict | None = None, *,
                 action_id: str | None = None, _parsed: bool = False, _raw: Iterable[tuple[str, str]] = ()):
        if _parsed:
            super().__init__(_raw, _parsed=True)
            return
        pairs: list[tuple[str, str]] = [("Action", name or "")]
        if action_id is not None:
            pairs.append(("ActionID", action_id))
        items = headers.items() if isinstance(headers, dict) else (headers or ())
        for key, value in items:
            for one in value if isinstance(value, (list, tuple)) else (value,):
                pairs.append((key, _text(one)))
        super().__init__(pairs)

    @property
    def name(self) -> str:
        """The action's name, "" when the request had no Action header."""
        return self.get("Action") or ""


class AmiResponse(AmiMessage):
    """`Response: Success | Error | Goodbye` with its headers (ActionID, Message, …)."""

    __slots__ = ()
    KIND = "Response"

    @classmethod
    def build(cls, status: str, *, action_id: str | None = None, message: str | None = None,
              headers: Iterable[tuple[str, str]] = ()) -> "AmiResponse":
        """Asterisk's fixed order (astman_send_response_full): Response, ActionID, [extra], Message."""
        pairs = [("Response", status)]
        if action_id is not None:
            pairs.append(("ActionID", action_id))
        extra = list(headers)
        event_list = [h for h in extra if h[0] == "EventList"]
        pairs.extend(event_list)
        if message is not None:
            pairs.append(("Message", message))
        pairs.extend(h for h in extra if h[0] != "EventList")
        return cls(pairs)

    @property
    def status(self) -> str:
        return self.get("Response") or ""

    @property
    def ok(self) -> bool:
        return self.status.lower() in ("success", "goodbye", "follows")

    @property
    def message(self) -> str:
        return self.get("Message") or ""


class AmiEvent(AmiMessage):
    """`Event: <Name>` with its headers."""

    __slots__ = ()
    KIND = "Event"

    @property
    def name(self) -> str:
        return self.get("Event") or ""


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the state machine ---------------------------------------------------------------------------------

TRANSITIONS: dict[type, dict[type, type]] = {
    BANNER: {AmiBanner: OPEN, AmiAction: BANNER, AmiActionTooLong: BANNER, Closed: CLOSED},
    OPEN: {AmiAction: OPEN, AmiActionTooLong: OPEN, AmiResponse: OPEN, AmiEvent: OPEN, Closed: CLOSED},
    CLOSED: {Closed: CLOSED},
}
"""A client may write its Login before the banner has arrived; nothing else happens before the banner."""

SENDS: dict[str, frozenset[type]] = {
    CLIENT: frozenset({AmiAction, Closed}),
    SERVER: frozenset({AmiBanner, AmiResponse, AmiEvent, Closed}),
}


class AmiCodec(LineCodec):
    """One AMI connection in one role (see the module docstring)."""

    PROTOCOL = "AMI"

    def __init__(self, role: str = CLIENT, *, max_line: int = DEFAULT_MAX_LINE,
                 max_headers: int | None = None):
        if role not in SENDS:
            raise ValueError(f"role must be CLIENT or SERVER, not {role!r}")
        self.role = role
        self.max_line = max_line
        self.max_headers = max_headers or (MAX_ACTION_HEADERS if role == SERVER else MAX_MESSAGE_HEADERS)
        self.state: type = BANNER
        self.version: str | None = None
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False
        self._lines: list[tuple[str, str]] = []
        self._overflow = False  # server role: an action grew past max_headers; answer it, skip the rest

    # -- sending -------------------------------------------------------------------------------------

    def send(self, message: object) -> bytes:
        """The bytes for `message` (b"" for Closed); LocalProtocolError for an illegal move."""
        kind = type(message)
        self._check_sendable(SENDS, kind)
        self._advance(kind, LocalProtocolError)
        if kind is AmiBanner:
            self.version = message.version
            return (message.line() + "\r\n").encode("utf-8")
        if kind is Closed:
            return b""
        return message.encode()

    # -- receiving -----------------------------------------------------------------------------------

    def next_event(self) -> object:
        """The next message, Closed, or NEED_DATA. RemoteProtocolError when the peer broke the protocol."""
        self._check_usable()
        while True:
            if self.state is CLOSED:
                return NEED_DATA
            line = self._next_line()
            if line is None:
                if self._eof:
                    self._advance(Closed, RemoteProtocolError)
                    return Closed()
                return NEED_DATA
            if self.state is BANNER and self.role == CLIENT:
                prefix, sep, version = line.rpartition("/")
                if not sep or not (prefix + "/").endswith("Call Manager/"):
                    self._fail(RemoteProtocolError(f"not an AMI banner: {line[:80]!r}"))
                self.version = version.strip()
                self._advance(AmiBanner, RemoteProtocolError)
                return AmiBanner(self.version)
            message = self._message_line(line)
            if message is not None:
                return message

    def _message_line(self, line: str) -> object | None:
        if line == "":
            if not self._lines:
                return None  # stray blank line between messages
            lines, self._lines = self._lines, []
            overflow, self._overflow = self._overflow, False
            return self._message(lines, overflow)
        if self._overflow:
            return None
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name):
            self._fail(RemoteProtocolError(f"not an AMI header line: {line[:80]!r}"))
        if len(self._lines) >= self.max_headers:
            if self.role == SERVER:
                self._overflow = True  # Asterisk answers such an action with TOO_MANY_LINES
                return None
            self._fail(RemoteProtocolError(f"AMI message longer than {self.max_headers} lines"))
        self._lines.append((name, value[1:] if value.startswith(" ") else value))
        return None

    def _message(self, lines: list[tuple[str, str]], overflow: bool) -> object:
        if self.role == SERVER:
            if overflow:
                self._advance(AmiActionTooLong, RemoteProtocolError)
                return AmiActionTooLong(next((v for k, v in lines if k.lower() == "actionid"), None))
            self._advance(AmiAction, RemoteProtocolError)
            return AmiAction(_parsed=True, _raw=lines)
        first = lines[0][0].lower()
        names = {name.lower() for name, _ in lines}
        if first == "response" or ("response" in names and "event" not in names):
            kind = AmiResponse
        elif "event" in names:
            kind = AmiEvent
        else:
            self._fail(RemoteProtocolError(f"AMI message without Response or Event: {lines[0][0]!r}"))
        self._advance(kind, RemoteProtocolError)
        return kind(lines, _parsed=True)

    # -- state ---------------------------------------------------------------------------------------

    def _advance(self, kind: type, error: type) -> None:
        self.state = self._next_state(TRANSITIONS, kind, error)


# -- completion of actions ---------------------------------------------------------------------------------

FOLLOW_UPS: dict[str, str] = {
    "originate": "OriginateResponse",
}
"""Actions (lower-case) whose real outcome is a later event carrying their ActionID, when sent with
`Async: true`; their Response only says the request was queued."""


@dataclass
class Completion:
    """A finished action: its response, the list items or follow-up event that came with it."""

    action: AmiAction
    response: AmiResponse
    events: list[AmiEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.response.ok

    @property
    def follow_up(self) -> AmiEvent | None:
        """The event that carried an asynchronous action's outcome (OriginateResponse), if any."""
        name = FOLLOW_UPS.get(self.action.name.lower())
        return next((e for e in self.events if e.name == name), None) if name else None


@dataclass
class _Pending:
    action: AmiAction
    response: AmiResponse | None = None
    events: list[AmiEvent] = field(default_factory=list)
    waits_for: str | None = None  # "list" or the name of the follow-up event


class ActionTracker:
    """Correlates responses and events with the actions sent, by ActionID. Pure: no I/O, no clock."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, action: AmiAction) -> None:
        action_id = action.action_id
        if not action_id:
            raise LocalProtocolError("a tracked AMI action needs an ActionID")
        if action_id in self._pending:
            raise LocalProtocolError(f"ActionID {action_id!r} is already in flight")
        self._pending[action_id] = _Pending(action)

    def forget(self, action_id: str) -> None:
        self._pending.pop(action_id, None)

    def pending_ids(self) -> list[str]:
        return list(self._pending)

    def received(self, message: AmiResponse | AmiEvent) -> Completion | type | None:
        """A Completion when `message` finishes an action; PENDING when it belongs to an unfinished one;
        None when it is for no tracked action (an unsolicited event)."""
        action_id = message.action_id
        entry = self._pending.get(action_id) if action_id else None
        if entry is None:
            return None
        if type(message) is AmiResponse:
            if entry.response is not None:
                return None  # a second response for the same id: not ours to interpret
            entry.response = message
            if message.ok:
                if (message.get("EventList") or "").lower() == "start":
                    entry.waits_for = "list"
                elif (follow := FOLLOW_UPS.get(entry.action.name.lower())) and \
                        (entry.action.get("Async") or "").lower() in ("true", "yes", "1"):
                    entry.waits_for = follow
            if entry.waits_for is None or any(self._closes(entry, e) for e in entry.events):
                return self._done(action_id)
            return PENDING
        entry.events.append(message)
        if entry.response is None:
            return PENDING  # an event ahead of its response: keep it until the response arrives
        return self._done(action_id) if self._closes(entry, message) else PENDING

    @staticmethod
    def _closes(entry: _Pending, event: AmiEvent) -> bool:
        if entry.waits_for == "list":
            return (event.get("EventList") or "").lower() == "complete"
        return entry.waits_for is not None and event.name == entry.waits_for

    def _done(self, action_id: str) -> Completion:
        entry = self._pending.pop(action_id)
        assert entry.response is not None
        return Completion(entry.action, entry.response, entry.events)
