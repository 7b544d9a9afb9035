"""Transcripts: the events of one call, as JSON Lines (the contract) or as text for people."""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator


def event_json(event: dict) -> str:
    """One transcript line: keys in emission order, UTF-8 text kept as is."""
    return json.dumps(event, ensure_ascii=False, separators=(", ", ": "))


def _q(text: Any) -> str:
    return json.dumps(text, ensure_ascii=False)


def _fmt_seconds(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _details(e: dict) -> str:
    op = e["op"]
    cut = " (interrupted)" if e.get("interrupted") else ""
    if op == "say":
        extra = "".join(f" {k}={e[k]}" for k in ("voice", "language") if k in e)
        return f"{_q(e.get('text', ''))}{extra}{' ssml' if e.get('ssml') else ''}{cut}"
    if op == "play":
        return f"{e.get('url', '')}{cut}"
    if op == "silence":
        return f"{_fmt_seconds(e.get('seconds'))}s{cut}"
    if op == "say_digits":
        return f"{e.get('digits', '')}{' ' + e['method'] if e.get('method') else ''}{cut}"
    if op == "collect":
        max_digits = e.get("max_digits")
        parts = [f"max={max_digits if max_digits is not None else '-'}", f"timeout={_fmt_seconds(e.get('timeout'))}"]
        if e.get("finish_on_key"):
            parts.append(f"finish={e['finish_on_key']}")
        return f"{' '.join(parts)} -> {_q(e.get('digits', ''))} ({e.get('reason')})"
    if op == "speech":
        conf = f" confidence={e['confidence']}" if "confidence" in e else ""
        return f"-> {_q(e.get('text', ''))}{conf} ({e.get('reason')})"
    if op == "record":
        return f"max={_fmt_seconds(e.get('max_length'))} -> {_fmt_seconds(e.get('duration'))}s {e.get('url', '')} ({e.get('reason')})"
    if op == "dial":
        who = f" by {e['answered_by']}" if e.get("answered_by") else ""
        return f"{','.join(e.get('targets', []))} timeout={_fmt_seconds(e.get('timeout'))} -> {e.get('status')}{who} [{e.get('new_leg')}]"
    if op == "bridge":
        return f"with {e.get('with')} {_fmt_seconds(e.get('duration'))}s, ended by {e.get('ended_by')}"
    if op == "queue":
        return f"{e.get('name')} -> {e.get('status')}"
    if op == "conference":
        return f"{e.get('room')} {_fmt_seconds(e.get('duration', 0))}s"
    if op == "http":
        params = f" {json.dumps(e['params'], ensure_ascii=False)}" if e.get("params") else ""
        return f"{e.get('method')} {e.get('url')}{params} -> {e.get('status')}"
    if op == "sms":
        to = e.get("to")
        return f"to={','.join(to) if isinstance(to, list) else to} {_q(e.get('body', ''))}"
    if op == "set":
        return f"{e.get('name')} = {json.dumps(e.get('value'), ensure_ascii=False)}"
    if op == "log":
        return _q(e.get("message", ""))
    if op == "hangup":
        return f"by {e.get('by')}" + (f" cause={e['cause']}" if "cause" in e else "")
    if op == "reject":
        return str(e.get("reason", ""))
    if op == "send_dtmf":
        return str(e.get("digits", ""))
    if op == "error":
        src = f" at {e['source']}" if e.get("source") else ""
        return f"{e.get('code')}: {e.get('message')}{src}"
    if op == "end":
        return str(e.get("reason", ""))
    rest = {k: v for k, v in e.items() if k not in ("t", "leg", "op")}
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in rest.items())


def event_text(event: dict) -> str:
    """One line for people, e.g. `  4.133 A say "Press 1 for sales"`."""
    details = _details(event)
    return f"{event['t']:7.3f} {event['leg']} {event['op']}{' ' + details if details else ''}"


class Transcript:
    """The events of one simulated call, plus which states ran."""

    def __init__(self, events: list[dict], steps: list[tuple[str, str, str]] | None = None,
                 reason: str | None = None, variables: dict | None = None):
        self.events = events
        self.steps = steps or []
        self.reason = reason
        self.variables = variables or {}

    def __iter__(self) -> Iterator[dict]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> dict:
        return self.events[index]

    def ops(self) -> list[str]:
        return [e["op"] for e in self.events]

    def find(self, op: str, **fields: Any) -> list[dict]:
        return [e for e in self.events if e["op"] == op and all(e.get(k) == v for k, v in fields.items())]

    def to_jsonl(self) -> str:
        return "".join(event_json(e) + "\n" for e in self.events)

    def to_text(self) -> str:
        return "".join(event_text(e) + "\n" for e in self.events)


def render(events: Iterable[dict], fmt: str = "json") -> str:
    return "".join((event_json(e) if fmt == "json" else event_text(e)) + "\n" for e in events)
