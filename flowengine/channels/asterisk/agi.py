"""A sans-IO FastAGI codec: bytes in, events out; events in, bytes out (the h11 way).

    codec = AgiCodec(SERVER)                     # flowengine's side; CLIENT is Asterisk's (the fake uses it)
    codec.receive_data(chunk)                    # b"" = the peer closed the socket
    while (event := codec.next_event()) is not NEED_DATA:
        ...                                      # AgiEnvironment | AgiReply | AgiProgress | AgiHangup | Closed
    writer.write(codec.send(AgiCommand("GET DATA", "beep", "8000", "6")))

Rules kept in this file:
  1. Every state transition of the conversation is in TRANSITIONS; which role may send which event is in
     SENDS. An illegal move raises LocalProtocolError (our bug) or RemoteProtocolError (the peer's), and
     after any error the codec is in ERROR and every later call raises (errors are sticky; the buffer,
     the sentinels and the sticky ERROR are the shared plumbing of channels/codec.py).
  2. No I/O and no clock. Framing lives in the codec, never in a read loop: lines end in LF (a CR before
     it is tolerated); text is decoded once per complete line (UTF-8; undecodable bytes become U+FFFD,
     never dropped); a line longer than `max_line` is a RemoteProtocolError, so a peer cannot grow the
     buffer (LineCodec's line reader, shared with AMI).
  3. Wire facts from res_agi.c and the Asterisk 22 captures in shared/wire/: the environment block ends
     with an empty line and values may be empty (`agi_accountcode: `); a bare `HANGUP` line may arrive at
     any time after the environment, including between a command and its reply; `100 result=0 Trying...`
     precedes a final reply; `520-` opens a multi-line usage text closed by `520 End of proper usage.`;
     arguments are split like Asterisk's parse_args (spaces/tabs, "double quotes", backslash escapes);
     Asterisk reads a command into a 2048-byte buffer, so longer commands are refused here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from ...errors import LocalProtocolError, RemoteProtocolError
from ..codec import ERROR, NEED_DATA, LineCodec, sentinel

__all__ = [
    "SERVER", "CLIENT", "NEED_DATA", "ENVIRONMENT", "IDLE", "AWAITING_REPLY", "CLOSED", "ERROR",
    "AgiCodec", "AgiEnvironment", "AgiCommand", "AgiReply", "AgiProgress", "AgiHangup", "Closed",
    "KNOWN_COMMANDS", "DEAD_ALLOWED", "parse_args", "quote_arg", "MESSAGES",
]


SERVER = "server"  # flowengine: reads the environment and replies, writes commands
CLIENT = "client"  # Asterisk: writes the environment, replies and HANGUP, reads commands

ENVIRONMENT = sentinel("ENVIRONMENT")
IDLE = sentinel("IDLE")
AWAITING_REPLY = sentinel("AWAITING_REPLY")
CLOSED = sentinel("CLOSED")

DEFAULT_MAX_LINE = 8192
"""Longest line accepted. Asterisk's own command buffer is 2048 bytes; replies to GET VARIABLE can carry
a longer value, and an environment line carries caller names, so 8 KiB leaves room without letting a
peer that never sends LF grow memory."""

MAX_COMMAND_BYTES = 2047
"""res_agi.c reads a command with fgets into char buf[AGI_BUF_LEN = 2048]: 2046 characters plus LF."""

MAX_ENV_LINES = 256
"""setup_env writes about 25 lines plus one per AGI() argument (MAX_ARGS = 128)."""

MAX_USAGE_LINES = 200

MESSAGES = {
    510: "Invalid or unknown command",
    511: "Command Not Permitted on a dead channel or intercept routine",
    520: "Invalid command syntax.  Proper usage not available.",
}
"""Texts of the 5xx replies, verbatim from res_agi.c (Asterisk 22)."""

USAGE_FOLLOWS = "Invalid command syntax.  Proper usage follows:"
USAGE_END = "End of proper usage."

# AGI commands by their words (res_agi.c `commands[]`), the longest first so that the longest match wins
# when the client role splits a command line into name and arguments.
KNOWN_COMMANDS: tuple[str, ...] = tuple(sorted((
    "ANSWER", "ASYNCAGI BREAK", "CHANNEL STATUS", "CONTROL STREAM FILE", "DATABASE DEL", "DATABASE DELTREE",
    "DATABASE GET", "DATABASE PUT", "EXEC", "GET DATA", "GET FULL VARIABLE", "GET OPTION", "GET VARIABLE",
    "GOSUB", "HANGUP", "NOOP", "RECEIVE CHAR", "RECEIVE TEXT", "RECORD FILE", "SAY ALPHA", "SAY DATE",
    "SAY DATETIME", "SAY DIGITS", "SAY NUMBER", "SAY PHONETIC", "SAY TIME", "SEND IMAGE", "SEND TEXT",
    "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT", "SET EXTENSION", "SET MUSIC", "SET PRIORITY",
    "SET VARIABLE", "SPEECH ACTIVATE GRAMMAR", "SPEECH CREATE", "SPEECH DEACTIVATE GRAMMAR", "SPEECH DESTROY",
    "SPEECH LOAD GRAMMAR", "SPEECH RECOGNIZE", "SPEECH SET", "SPEECH UNLOAD GRAMMAR", "STREAM FILE",
    "TDD MODE", "VERBOSE", "WAIT FOR DIGIT",
), key=lambda name: -len(name.split())))

_BY_FIRST_WORD: dict[str, list[tuple[str, list[str]]]] = {}
for _name in KNOWN_COMMANDS:
    _BY_FIRST_WORD.setdefault(_name.split()[0], []).append((_name, _name.split()))
_VALID_NAMES = frozenset(KNOWN_COMMANDS)

DEAD_ALLOWED = frozenset({
    "ASYNCAGI BREAK", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET", "DATABASE PUT", "EXEC",
    "GET FULL VARIABLE", "GET VARIABLE", "NOOP", "SET VARIABLE", "VERBOSE", "SPEECH DESTROY",
    "SPEECH UNLOAD GRAMMAR",
})
"""Commands res_agi.c still runs after the channel hung up (its `dead` column); the others answer 511."""


# -- events ------------------------------------------------------------------------------------------


class Event:
    """Base of the AGI events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, init=False)
class AgiEnvironment(Event):
    """The `agi_*` header Asterisk sends when it connects, in wire order."""

    variables: tuple[tuple[str, str], ...]
    _index: dict = field(compare=False, repr=False)

    def __init__(self, variables: Iterable[tuple[str, str]] | dict[str, str], *, _parsed: bool = False):
        items = tuple(variables.items()) if isinstance(variables, dict) else tuple(variables)
        if not _parsed:
            for name, value in items:
                if not _ENV_NAME.fullmatch(name):
                    raise LocalProtocolError(f"invalid AGI environment name {name!r}")
                if "\n" in value or "\r" in value:
                    raise LocalProtocolError(f"AGI environment value of {name} contains a line break")
        object.__setattr__(self, "variables", items)
        index: dict[str, str] = {}
        for key, value in items:
            index.setdefault(key, value)
        object.__setattr__(self, "_index", index)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of `name` (e.g. "agi_channel"), or `default` when Asterisk did not send it."""
        return self._index.get(name, default)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    @property
    def args(self) -> tuple[str, ...]:
        """The AGI() application's arguments after the URL (agi_arg_1, agi_arg_2, …)."""
        found = {}
        for key, value in self.variables:
            if key.startswith("agi_arg_") and key[8:].isdigit():
                found[int(key[8:])] = value
        return tuple(found[i] for i in sorted(found))


@dataclass(frozen=True, slots=True, init=False)
class AgiCommand(Event):
    """One command line: `AgiCommand("STREAM FILE", "hello-world", "")` is `STREAM FILE hello-world ""`.

    `name` is upper-case words; `args` are sent quoted when they need it; `line` is the command as
    Asterisk reads it, without the LF. A name the client role does not know (not in KNOWN_COMMANDS) is
    kept as its first word with the rest as arguments, so the fake switch can answer 510 as Asterisk does.
    """

    name: str
    args: tuple[str, ...]
    line: str

    def __init__(self, name: str, *args: str, _parsed: bool = False):
        if not _parsed:
            if name not in _VALID_NAMES:
                if not _COMMAND_NAME.fullmatch(name):
                    raise LocalProtocolError(f"invalid AGI command name {name!r}")
                name = " ".join(name.upper().split())
            args = tuple(a if type(a) is str else str(a) for a in args)
            for arg in args:
                if "\n" in arg or "\r" in arg or "\x00" in arg:
                    raise LocalProtocolError(f"AGI argument {arg!r} contains a line break or NUL")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "line", " ".join([name, *map(quote_arg, args)]) if args else name)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgiReply(Event):
    """A final reply. `200 result=1234 (timeout) endpos=80` has result="1234", data="timeout", endpos=80.

    `result`/`data`/`endpos` are None when absent (`200 result= (timeout)` has result=""). `text` is the
    message of a 5xx reply, or what follows the fields of a 200 (`200 result=0 Gosub complete`); `usage` is
    the body of a multi-line 520.
    """

    code: int
    result: str | None = None
    data: str | None = None
    endpos: int | None = None
    text: str = ""
    usage: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.code <= 999:
            raise LocalProtocolError(f"invalid AGI reply code {self.code}")
        if self.code < 200:
            raise LocalProtocolError("1xx replies are AgiProgress events")
        for value in (self.result, self.data, self.text):
            if value is not None and "\n" in value:
                raise LocalProtocolError("AGI reply fields cannot contain line breaks")

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def number(self) -> int | None:
        """`result` as an integer, or None when it is not one (digits from GET DATA are text)."""
        if self.result is None:
            return None
        try:
            return int(self.result)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgiProgress(Event):
    """A `100 result=0 Trying...` line: the command runs on; its final reply follows."""

    result: str | None = "0"
    text: str = "Trying..."


@dataclass(frozen=True, slots=True)
class AgiHangup(Event):
    """The bare `HANGUP` line: the channel hung up. Asterisk keeps the socket open until we close it."""


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """End of the conversation: the peer closed the socket (received), or we are closing it (sent)."""


# -- the state machine ---------------------------------------------------------------------------------

TRANSITIONS: dict[type, dict[type, type]] = {
    ENVIRONMENT: {AgiEnvironment: IDLE, Closed: CLOSED},
    IDLE: {AgiCommand: AWAITING_REPLY, AgiHangup: IDLE, Closed: CLOSED},
    AWAITING_REPLY: {AgiProgress: AWAITING_REPLY, AgiReply: IDLE, AgiHangup: AWAITING_REPLY, Closed: CLOSED},
    CLOSED: {Closed: CLOSED},
}
"""The conversation's legal moves, whichever side makes them."""

SENDS: dict[str, frozenset[type]] = {
    SERVER: frozenset({AgiCommand, Closed}),
    CLIENT: frozenset({AgiEnvironment, AgiProgress, AgiReply, AgiHangup, Closed}),
}
"""Which events each role may send; the other role receives them."""

_ENV_NAME = re.compile(r"agi_[a-z0-9_]{1,64}")
_COMMAND_NAME = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_REPLY = re.compile(r"(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)", re.S)
_RESULT = re.compile(
    r"result=(?P<result>\S*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?\d+))?(?: (?P<text>.*))?", re.S
)
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


def quote_arg(arg: str) -> str:
    """An argument as parse_args reads it back: quoted when empty or holding blanks, quotes or backslashes."""
    if arg and not _NEEDS_QUOTES.search(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_args(line: str, max_args: int = 128) -> list[str]:
    """Split a command line exactly like res_agi.c parse_args (quotes group, backslash escapes)."""
    args: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                args.append("")
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            if not whitespace:
                args[-1] = "".join(current)
                current = []
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            if len(args) >= max_args - 1:
                escaped = False
                continue  # Asterisk logs "Too many arguments, truncating"
            args.append("")
            whitespace = False
        current.append(ch)
        escaped = False
    if args and not whitespace:
        args[-1] = "".join(current)
    return args


def _split_command(words: list[str]) -> AgiCommand:
    first = words[0].upper() if words else ""
    for name, parts in _BY_FIRST_WORD.get(first, ()):
        if len(words) >= len(parts) and all(w.upper() == p for w, p in zip(words[1:len(parts)], parts[1:])):
            return AgiCommand(name, *words[len(parts):], _parsed=True)
    return AgiCommand(first, *words[1:], _parsed=True)


class AgiCodec(LineCodec):
    """One FastAGI conversation in one role. See the module docstring for the three verbs."""

    PROTOCOL = "AGI"

    def __init__(self, role: str = SERVER, *, max_line: int = DEFAULT_MAX_LINE):
        if role not in SENDS:
            raise ValueError(f"role must be SERVER or CLIENT, not {role!r}")
        self.role = role
        self.max_line = max_line
        self.state: type = ENVIRONMENT
        self.hung_up = False  # a HANGUP line went by: the channel is dead
        self.environment: AgiEnvironment | None = None
        # -- receive buffer
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already searched for LF
        self._eof = False
        self._env_lines: list[tuple[str, str]] = []
        self._usage: list[str] | None = None  # inside a `520-` block

    # -- sending -------------------------------------------------------------------------------------

    def send(self, event: Event) -> bytes:
        """The bytes for `event` (b"" for Closed). Raises LocalProtocolError for an illegal move."""
        self._check_sendable(SENDS, type(event))
        self._advance(event, LocalProtocolError)
        try:
            data = _encode(event)
        except LocalProtocolError as exc:
            self.state = ERROR
            raise exc
        if type(event) is AgiCommand and len(data) > MAX_COMMAND_BYTES:
            self._fail(LocalProtocolError(f"AGI command of {len(data)} bytes exceeds Asterisk's "
                                          f"{MAX_COMMAND_BYTES}-byte line"))
        if type(event) is AgiEnvironment:
            self.environment = event
        elif type(event) is AgiHangup:
            self.hung_up = True
        return data

    # -- receiving -----------------------------------------------------------------------------------

    def next_event(self) -> Event | type:
        """The next event from the received bytes, or NEED_DATA. Raises RemoteProtocolError when the
        peer broke the protocol; any other exception is a bug."""
        self._check_usable()
        while True:
            if self.state is CLOSED:
                return NEED_DATA
            if self.role == CLIENT and self.state is not IDLE:
                # Asterisk reads the next command only once it has answered the last one.
                if self._eof and self.state is not ENVIRONMENT:
                    return self._closed()
                return NEED_DATA
            if self.state is ENVIRONMENT and self.role == SERVER and not self._env_lines:
                event = self._whole_environment()
                if event is not None:
                    return event
            line = self._next_line()
            if line is None:
                return self._closed() if self._eof else NEED_DATA
            event = self._parse_line(line)
            if event is not None:
                return event

    def _whole_environment(self) -> Event | None:
        """Fast path: the whole environment block is buffered (the usual case, one TCP segment)."""
        end = self._buffer.find(b"\n\n")
        if end < 0 or end > self.max_line * MAX_ENV_LINES:
            return None
        block = bytes(self._buffer[: end + 1])
        if b"\r" in block:
            return None  # CR LF line ends: let the line reader strip them
        lines = block.decode("utf-8", errors="replace").split("\n")[:-1]
        if len(lines) > MAX_ENV_LINES or max(map(len, lines)) > self.max_line:
            return None  # the line reader reports it
        items = []
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep or not _ENV_NAME.fullmatch(name):
                return None  # the line reader reports it
            items.append((name, value[1:] if value.startswith(" ") else value))
        del self._buffer[: end + 2]
        self._scanned = 0
        event = AgiEnvironment(items, _parsed=True)
        self._advance(event, RemoteProtocolError)
        self.environment = event
        return event

    def _closed(self) -> Event:
        self._buffer.clear()
        self._scanned = 0
        self._advance(Closed(), RemoteProtocolError)
        return Closed()

    def _parse_line(self, line: str) -> Event | None:
        if self.role == CLIENT:
            words = parse_args(line)
            if not words:
                return None  # Asterisk skips empty command lines
            event = _split_command(words)
            self._advance(event, RemoteProtocolError)
            return event
        if self.state is ENVIRONMENT:
            return self._environment_line(line)
        if self._usage is not None:
            return self._usage_line(line)
        if line == "HANGUP":
            self._advance(AgiHangup(), RemoteProtocolError)
            self.hung_up = True
            return AgiHangup()
        if self.state is not AWAITING_REPLY:
            self._fail(RemoteProtocolError(f"AGI reply {line[:80]!r} while no command is in flight"))
        match = _REPLY.fullmatch(line)
        if match is None:
            self._fail(RemoteProtocolError(f"not an AGI reply: {line[:80]!r}"))
        code, rest = int(match["code"]), match["rest"]
        if match["sep"] == "-":
            if code != 520:
                self._fail(RemoteProtocolError(f"unexpected multi-line AGI reply {line[:80]!r}"))
            self._usage = []
            return None
        event = _reply(code, rest)
        self._advance(event, RemoteProtocolError)
        return event

    def _environment_line(self, line: str) -> Event | None:
        if line == "":
            if not self._env_lines:
                self._fail(RemoteProtocolError("empty AGI environment"))
            event = AgiEnvironment(self._env_lines, _parsed=True)
            self._env_lines = []
            self._advance(event, RemoteProtocolError)
            self.environment = event
            return event
        name, sep, value = line.partition(":")
        if not sep or not _ENV_NAME.fullmatch(name):
            self._fail(RemoteProtocolError(f"not an AGI environment line: {line[:80]!r}"))
        if len(self._env_lines) >= MAX_ENV_LINES:
            self._fail(RemoteProtocolError(f"AGI environment longer than {MAX_ENV_LINES} lines"))
        self._env_lines.append((name, value[1:] if value.startswith(" ") else value))
        return None

    def _usage_line(self, line: str) -> Event | None:
        assert self._usage is not None
        if line.startswith("520 "):
            event = AgiReply(code=520, text=line[4:], usage="\n".join(self._usage))
            self._usage = None
            self._advance(event, RemoteProtocolError)
            return event
        if len(self._usage) >= MAX_USAGE_LINES:
            self._fail(RemoteProtocolError(f"AGI usage text longer than {MAX_USAGE_LINES} lines"))
        self._usage.append(line)
        return None

    # -- state ---------------------------------------------------------------------------------------

    def _advance(self, event: Event, error: type) -> None:
        self.state = self._next_state(TRANSITIONS, type(event), error)


def _reply(code: int, rest: str) -> Event:
    if code in (100, 200):
        match = _RESULT.fullmatch(rest)
        if match is None:
            if code == 100:
                return AgiProgress(result=None, text=rest)
            raise RemoteProtocolError(f"AGI 200 reply without result=: {rest[:80]!r}")
        endpos = match["endpos"]
        fields = dict(result=match["result"], data=match["data"],
                      endpos=int(endpos) if endpos is not None else None, text=match["text"] or "")
        if code == 100:
            return AgiProgress(result=fields["result"], text=fields["text"])
        return AgiReply(code=200, **fields)
    return AgiReply(code=code, text=rest)


def _encode(event: Event) -> bytes:
    kind = type(event)
    if kind is AgiCommand:
        return (event.line + "\n").encode("utf-8")
    if kind is AgiReply:
        return _encode_reply(event).encode("utf-8")
    if kind is AgiProgress:
        result = f"result={event.result}" if event.result is not None else ""
        return ("100 " + " ".join(p for p in (result, event.text) if p) + "\n").encode("utf-8")
    if kind is AgiHangup:
        return b"HANGUP\n"
    if kind is AgiEnvironment:
        return ("".join(f"{k}: {v}\n" for k, v in event.variables) + "\n").encode("utf-8")
    return b""


def _encode_reply(reply: AgiReply) -> str:
    if reply.code == 520 and reply.usage is not None:
        body = reply.usage if reply.usage.endswith("\n") or not reply.usage else reply.usage + "\n"
        return f"520-{USAGE_FOLLOWS}\n{body}520 {reply.text or USAGE_END}\n"
    if reply.result is None:
        return f"{reply.code} {reply.text or MESSAGES.get(reply.code, '')}".rstrip(" ") + "\n"
    parts = [f"{reply.code} result={reply.result}"]
    if reply.data is not None:
        parts.append(f"({reply.data})")
    if reply.endpos is not None:
        parts.append(f"endpos={reply.endpos}")
    if reply.text:
        parts.append(reply.text)
    return " ".join(parts) + "\n"

