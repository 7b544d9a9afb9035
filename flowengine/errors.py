"""The one exception tree of flowengine.

    FlowengineError
     ├── FlowError            an input file (flow, scenario, test file) is invalid; carries diagnostics
     │    └── ScenarioError   the scenario or flow-test file is at fault (CLI exit 2, not 1)
     ├── IRError              an IR value was built with invalid arguments (carries the span)
     ├── ChannelError         a channel backend failed
     │    └── ChannelClosed   the switch connection is gone
     └── ProtocolError        a wire-protocol violation
          ├── LocalProtocolError   we tried to do something illegal
          └── RemoteProtocolError  the peer sent something illegal

Call outcomes (a caller hanging up, a timeout, a busy line) are never exceptions: they are result values.
Backend exceptions are mapped into this tree once, at the channel boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .diagnostics import Diagnostic, Span


class FlowengineError(Exception):
    """Base class of every error flowengine raises on purpose."""


class FlowError(FlowengineError):
    """An input is invalid. `diagnostics` says where and why (at least one error)."""

    def __init__(self, diagnostics: Iterable["Diagnostic"]):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error] or self.diagnostics
        first = errors[0].render() if errors else "invalid input"
        more = len(self.diagnostics) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


class ScenarioError(FlowError):
    """The scenario or flow-test file is invalid (the flow itself may be fine)."""


class IRError(FlowengineError):
    """An IR value was constructed with invalid arguments."""

    def __init__(
        self, message: str, span: "Span | None" = None, code: str = "E_IR", field: str | None = None
    ):
        self.message = message
        self.span = span
        self.code = code
        self.field = field
        super().__init__(f"{span}: {message}" if span else message)


class ChannelError(FlowengineError):
    """A channel backend failed in a way that is not a normal call outcome."""


class ChannelClosed(ChannelError):
    """The connection to the switch is gone."""


class ProtocolError(FlowengineError):
    """A wire protocol was violated."""


class LocalProtocolError(ProtocolError):
    """We attempted something the protocol state machine forbids (a bug on our side)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that do not follow the protocol."""
