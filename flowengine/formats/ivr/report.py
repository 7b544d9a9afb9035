"""The per-call IVR record (spec 2.7), built from a finished call's events and executed states.

    {"ivr": "acme-main", "call_id": "…", "started_at": "2026-03-31T09:15:00Z", "ivr_duration_s": 12.4,
     "path": ["main:start", "main:1", "sales:start"], "inputs": ["1", ""], "attributes": {"partner_id": "p7"},
     "outcome": "transferred_to_agent", "exit": {"type": "transfer", "target": "+15551112222"}}

Rules kept here:
  * `path` lists each option run, in order, from the state ids (an option's first state is `C:K`,
    compiler.py); `inputs` the digits of every input request that ended ("" = nothing entered; one
    cut short by a hang-up or the lifetime is left out).
  * The exit is the first of: an answered dial (transfer) or queue, a voicemail, the flow hanging up.
    A caller hanging up before any of them makes the call `abandoned` (no exit).
  * `failed`: the flow hung up on a failure path (a failed `final` transfer/queue, `exhausted`, the
    lifetime handler, a runtime error); any other flow hang-up is `self_service_completed`.
  * `ivr_duration_s` runs from the answer to the start of the exit (the dial, the queue, the voicemail
    recording, the hang-up), as 000's "call creation to queue entry or call end".
The same function serves `flowengine simulate --report` and the daemon's call records.
"""

from __future__ import annotations

import re
from typing import Any

from ...expr.basic import to_text
from ...ir.model import Flow

OPTION_ENTRY = re.compile(r"^([a-z][a-z0-9_]*):(start|timeout|invalid|exhausted|[0-9*#]{1,32})$")
ABORT = "\x00abort"
OUTCOMES = ("transferred_to_agent", "self_service_completed", "voicemail", "abandoned", "failed")


def _failure_state(state_id: str) -> bool:
    return (state_id.endswith(("/final", "/top")) or state_id.startswith("IVR:lifetime")
            or bool(re.match(r"^[a-z][a-z0-9_]*:exhausted(\.|/|$)", state_id)))


def call_report(flow: Flow, events: list[dict], steps: list[tuple[str, str, str]], variables: dict[str, Any], *,
                call_id: str, started_at: str) -> dict[str, Any]:
    """The record of one call of an IVR flow."""
    path = [f"{m[1]}:{m[2]}" for _, sid, _ in steps if (m := OPTION_ENTRY.match(sid))]
    inputs = [e.get("digits", "") for e in events
              if e["op"] == "collect" and e["leg"] == "A" and e.get("reason") not in ("hangup", "interrupted")]
    answered_at = next((e["t"] for e in events if e["op"] == "answer" and e["leg"] == "A"), None)
    exit_, exit_at, outcome = None, None, None
    previous_t = 0.0
    for event in events:
        op, leg = event["op"], event["leg"]
        if op == "dial" and event.get("status") == "answered" and leg == "A":
            exit_ = {"type": "transfer", "target": event.get("answered_by") or ",".join(event.get("targets", []))}
            exit_at, outcome = previous_t, "transferred_to_agent"
        elif op == "queue" and str(event.get("status", "")).startswith("answered"):
            exit_ = {"type": "queue", "target": event.get("name")}
            exit_at, outcome = previous_t, "transferred_to_agent"
        elif op == "log" and str(event.get("message", "")).startswith("voicemail box="):
            box = event["message"].split()[1].split("=", 1)[1]
            record = next((e for e in reversed(events[: events.index(event)]) if e["op"] == "record"), None)
            exit_ = {"type": "voicemail", "target": box}
            exit_at = record["t"] - record.get("duration", 0) if record else previous_t
            outcome = "voicemail"
        elif op == "hangup" and leg == "A":
            if event.get("by") == "flow":
                hung_up_in = next((sid for _, sid, out in reversed(steps) if out == ABORT), "")
                failed = _failure_state(hung_up_in) or any(e["op"] == "error" for e in events)
                exit_ = {"type": "hangup", "target": str(event.get("cause", "normal"))}
                exit_at, outcome = event["t"], "failed" if failed else "self_service_completed"
            else:
                exit_at, outcome = event["t"], "abandoned"
        elif op == "end" and event.get("reason") == "error":
            exit_at, outcome = event["t"], "failed"
        if outcome is not None:
            break
        previous_t = event["t"]
    if outcome is None:
        outcome = "abandoned" if not answered_at else "failed"
    start = answered_at if answered_at is not None else 0.0
    duration = max(0.0, (exit_at if exit_at is not None else events[-1]["t"] if events else 0.0) - start)
    report_vars = list(flow.meta.get("report_vars", ()))
    return {
        "ivr": flow.name,
        "call_id": call_id,
        "started_at": started_at,
        "ivr_duration_s": round(duration, 3),
        "path": path,
        "inputs": inputs,
        "attributes": {name: _text(variables.get(name)) for name in report_vars},
        "outcome": outcome,
        "exit": exit_,
    }


def _text(value: Any) -> str:
    return to_text(value)


def is_ivr_flow(flow: Flow) -> bool:
    """Whether `flow` was compiled from an IVR menu (its states follow compiler.py's naming)."""
    return "ivr" in flow.meta
