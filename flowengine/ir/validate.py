"""Whole-flow checks that no single op can make: every edge, entry, handler and reference resolves.

Run on every compiled flow, whatever its dialect, before it is used.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, did_you_mean
from .model import HANDLERS, TRIGGERS, VAR_NAME, Flow


def validate_flow(flow: Flow) -> list[Diagnostic]:
    """Problems with the flow's wiring (errors) — an empty list when it is sound."""
    out: list[Diagnostic] = []
    states = flow.states
    default_span = next((s.span for s in states.values() if s.span), None)

    def missing(target: str, what: str, span) -> None:
        out.append(Diagnostic("E_UNKNOWN_STATE", f"{what} names unknown state {target!r}{did_you_mean(target, states)}",
                              span, hint="point it at a state of this flow, or add a state with that id"))

    for trigger, target in flow.entry.items():
        if trigger != "*" and trigger not in TRIGGERS:
            out.append(Diagnostic("E_FIELD_VALUE", f"unknown trigger {trigger!r}{did_you_mean(trigger, TRIGGERS)}", default_span))
        if target not in states:
            missing(target, f"entry for {trigger!r}" if trigger != "*" else "entry", default_span)
    for handler, target in flow.handlers.items():
        if handler not in HANDLERS:
            out.append(Diagnostic("E_FIELD_VALUE", f"unknown handler {handler!r}{did_you_mean(handler, HANDLERS)}", default_span))
        if target not in states:
            missing(target, f"handler {handler!r}", default_span)
    for name in flow.variables:
        if not VAR_NAME.match(name) or "." in name:
            out.append(Diagnostic("E_FIELD_VALUE", f"invalid variable name {name!r}", default_span))
    for sid, state in states.items():
        op = state.op
        allowed = op.outcomes()
        for outcome, target in state.edges.items():
            if outcome not in allowed:
                if op.TERMINAL:
                    message = f"state {sid!r}: {op.kind} never continues, so it cannot have edge {outcome!r}"
                else:
                    message = (f"state {sid!r}: {op.kind} has no outcome {outcome!r}"
                               f"{did_you_mean(outcome, allowed)} (outcomes: {', '.join(sorted(allowed))})")
                out.append(Diagnostic("E_BAD_OUTCOME", message, state.span))
            if target not in states:
                missing(target, f"state {sid!r} edge {outcome!r}", state.span)
        for field_name, target in op.refs().items():
            if target not in states:
                missing(target, f"state {sid!r} field {field_name!r}", state.span)
    return out
