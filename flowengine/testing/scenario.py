"""Scenarios: the world around one simulated call (simulation spec §2), loaded and checked.

A scenario comes from a YAML/JSON file or from a dict (a flow test case). It is validated against
`schemas/scenario.schema.json`; every problem is a diagnostic at its line, raised as ScenarioError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..channels.fake import (
    CallerInput,
    ConferenceOutcome,
    DialOutcome,
    HttpFixture,
    QueueOutcome,
    World,
)
from ..diagnostics import Diagnostic
from ..errors import ScenarioError
from ..runtime.interpreter import CallInfo, Limits
from ..schema import validate
from ..structured import Document, load, load_file

DEFAULT_CALL_ID = "00000000-0000-4000-8000-000000000001"
DEFAULT_AT = "2026-01-05T12:00:00Z"


@dataclass
class Scenario:
    call: CallInfo = field(default_factory=lambda: CallInfo(call_id=DEFAULT_CALL_ID))
    world: World = field(default_factory=World)
    limits: Limits = field(default_factory=Limits)
    source: str | None = None


def load_scenario(source: str | Path | dict | None, *, doc: Document | None = None,
                  path: tuple = ()) -> Scenario:
    """A Scenario from a file path, a dict (with `doc`/`path` to locate errors), or None (defaults)."""
    if source is None:
        return Scenario()
    if isinstance(source, (str, Path)):
        doc = load_file(source, error_cls=ScenarioError)
        data: Any = doc.data
        path = ()
        if data is None:
            data = {}
    else:
        data = source
        if doc is None:
            doc = Document("<scenario>", json.dumps(data, default=str), data)
    problems = validate("scenario.schema.json", data, doc, "E_SCENARIO", path)
    if problems:
        raise ScenarioError(problems)
    try:
        return _build(data, doc, path)
    except _Bad as bad:
        raise ScenarioError([Diagnostic("E_SCENARIO", bad.message, doc.span(path + bad.path))]) from None


class _Bad(Exception):
    def __init__(self, message: str, path: tuple):
        self.message, self.path = message, path


def parse_time(text: str, path: tuple = ("call", "at")) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise _Bad(f"{text!r} is not an ISO 8601 date-time (e.g. 2026-03-31T09:15:00Z)", path) from None
    if not 1900 <= value.year <= 9000:  # a call's clock runs on from here: keep far from datetime's limits
        raise _Bad(f"{text!r} is out of range: call times are between the years 1900 and 9000", path)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _build(data: dict, doc: Document, path: tuple) -> Scenario:
    call_data = data.get("call", {})
    call = CallInfo(
        trigger=call_data.get("trigger", "inbound-call"),
        from_=call_data.get("from", "+15550000001"),
        to=call_data.get("to", "+15550000002"),
        from_name=call_data.get("from_name"),
        at=parse_time(call_data.get("at", DEFAULT_AT)),
        call_id=call_data.get("id", DEFAULT_CALL_ID),
        variables=dict(call_data.get("variables", {})),
        sms_body=call_data.get("sms", {}).get("body"),
        extra={k: call_data[k] for k in ("method", "fallback_url", "status_callback") if k in call_data},
    )
    if "method" in call.extra:
        call.extra["method"] = call.extra["method"].upper()
    world = World(
        caller=[_input(item) for item in data.get("caller", [])],
        hangup_at=data.get("hangup_at"),
        dial={k: _dial(v) for k, v in data.get("dial", {}).items()},
        queue={k: _queue(v) for k, v in data.get("queue", {}).items()},
        conference={k: ConferenceOutcome(float(v.get("talk", 30)), v.get("end", "conference"))
                    for k, v in data.get("conference", {}).items()},
        http={k: [_http(r) for r in (v if isinstance(v, list) else [v])] for k, v in data.get("http", {}).items()},
        media={k: float(v) for k, v in data.get("media", {}).items()},
    )
    limits_data = data.get("limits", {})
    limits = Limits(
        max_steps=int(limits_data.get("max_steps", 10_000)),
        max_time=float(limits_data.get("max_time", 3600)),
        max_fetches=int(limits_data.get("max_fetches", 50)),
    )
    return Scenario(call, world, limits, doc.filename)


def _input(item: Any) -> CallerInput:
    if item == "timeout":
        return CallerInput("timeout")
    if item == "hangup":
        return CallerInput("hangup")
    if isinstance(item, str):
        return CallerInput("keys", keys=item)
    at = item.get("at")
    at = float(at) if at is not None else None
    if "record" in item:
        return CallerInput("record", keys=item.get("keys", ""), at=at, talk=float(item["record"]),
                           text=item.get("text", ""))
    if "speech" in item:
        confidence = item.get("confidence")
        return CallerInput("speech", at=at, text=item["speech"],
                           confidence=float(confidence) if confidence is not None else None)
    return CallerInput("keys", keys=item["keys"], at=at)


def _dial(value: Any) -> DialOutcome:
    if isinstance(value, str):
        return DialOutcome(value)
    after = value.get("after")
    return DialOutcome(
        value["status"], float(after) if after is not None else None, float(value.get("talk", 30)),
        value.get("hangup", "callee"), tuple(_input(i) for i in value.get("inputs", [])),
        bool(value.get("machine", False)),
    )


def _queue(value: Any) -> QueueOutcome:
    if isinstance(value, str):
        return QueueOutcome(value)
    after = value.get("after")
    return QueueOutcome(value["status"], float(after) if after is not None else None, float(value.get("talk", 30)))


def _http(value: dict) -> HttpFixture:
    body = value.get("body", "")
    content_type = value.get("content_type")
    if "json" in value:
        body = json.dumps(value["json"], separators=(",", ":"), ensure_ascii=False)
        content_type = content_type or "application/json"
    headers = tuple(sorted((k.lower(), v) for k, v in value.get("headers", {}).items()))
    return HttpFixture(int(value.get("status", 200)), body, content_type, headers, bool(value.get("timeout", False)))


def load_scenario_text(text: str, filename: str = "<scenario>") -> Scenario:
    doc = load(text, filename, json_only=filename.endswith(".json"), error_cls=ScenarioError)
    return load_scenario(doc.data if doc.data is not None else {}, doc=doc)
