"""Plumbing the sans-IO codecs share (AGI, AMI, ESL): sentinels, the receive buffer and sticky errors.

Rules kept here:
  * Only what is the same in every codec lives here. Each codec keeps its own TRANSITIONS (and SENDS) table,
    its framing rules and its limits in its own file; `_next_state` only looks a move up in the table the
    codec passes, and names the failure the same way everywhere.
  * NEED_DATA and ERROR are one sentinel each for all codecs (h11's Sentinel: `type(X) is X`, the repr is
    the name). ERROR is outside every table: after any protocol error the codec is in ERROR and every later
    call raises (errors are sticky).
  * `receive_data(b"")` means the peer closed the socket; bytes after that are a RemoteProtocolError.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

from ..errors import LocalProtocolError, RemoteProtocolError

__all__ = ["Sentinel", "sentinel", "NEED_DATA", "ERROR", "Codec", "LineCodec"]


class Sentinel(type):
    """A class used as a value whose repr is its name, with type(X) is X (h11's Sentinel)."""

    def __repr__(cls) -> str:
        return cls.__name__


def sentinel(name: str) -> type:
    cls = Sentinel(name, (Sentinel,), {})
    cls.__class__ = cls
    return cls


NEED_DATA = sentinel("NEED_DATA")
"""What `next_event()` returns when the bytes received so far hold no complete event."""

ERROR = sentinel("ERROR")
"""The state of a codec after a protocol error, whichever side made it."""


class Codec:
    """The receive buffer and sticky errors of one conversation. A subclass sets PROTOCOL (the name its
    error messages use), `role`, `state` and the buffer fields in its constructor."""

    PROTOCOL: ClassVar[str] = ""
    """The protocol's name in error messages ("AGI", "AMI", "ESL")."""

    role: str
    state: type
    _buffer: bytearray
    _scanned: int
    _eof: bool

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; b"" means the peer closed the connection."""
        if self.state is ERROR:
            raise RemoteProtocolError(f"the {self.PROTOCOL} codec is in ERROR after an earlier protocol violation")
        if data:
            if self._eof:
                raise RemoteProtocolError("data received after end of file")
            self._buffer += data
        else:
            self._eof = True

    def _check_sendable(self, sends: dict[str, frozenset[type]], kind: type) -> None:
        """Usable, and `kind` is among what this role sends (LocalProtocolError otherwise)."""
        self._check_usable()
        if kind not in sends[self.role]:
            self._fail(LocalProtocolError(f"role {self.role} cannot send {kind.__name__}"))

    def _next_state(self, transitions: dict[type, dict[type, type]], kind: type, error: type) -> type:
        """The state `kind` leads to from the current one in `transitions`; `error` when it is no legal move."""
        next_state = transitions.get(self.state, {}).get(kind)
        if next_state is None:
            self._fail(error(f"can't handle {kind.__name__} in state {self.state!r} (role {self.role})"))
        return next_state

    def _fail(self, exc: Exception) -> NoReturn:
        self.state = ERROR
        raise exc

    def _check_usable(self) -> None:
        if self.state is ERROR:
            raise LocalProtocolError(f"the {self.PROTOCOL} codec is in ERROR after an earlier protocol violation")


class LineCodec(Codec):
    """A codec framed in lines (AGI, AMI): LF ends a line, a CR before it is dropped, and a line longer
    than `max_line` bytes is a RemoteProtocolError (so a peer that never sends LF cannot grow the buffer).
    Text is decoded once per complete line (UTF-8; undecodable bytes become U+FFFD)."""

    max_line: int

    def _next_line(self) -> str | None:
        index = self._buffer.find(b"\n", self._scanned)
        if index < 0:
            self._scanned = len(self._buffer)
            if len(self._buffer) > self.max_line:
                self._fail(RemoteProtocolError(f"{self.PROTOCOL} line longer than {self.max_line} bytes"))
            return None
        if index > self.max_line:
            self._fail(RemoteProtocolError(f"{self.PROTOCOL} line longer than {self.max_line} bytes"))
        raw = bytes(self._buffer[:index])
        del self._buffer[: index + 1]
        self._scanned = 0
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", errors="replace")
