"""Helpers for the InboundXML/TwiML tests: compile text, run it on the fake channel, pick events."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine import formats
from flowengine.diagnostics import Diagnostic
from flowengine.errors import FlowError
from flowengine.ir.model import Flow
from flowengine.testing.runner import simulate
from flowengine.testing.transcript import Transcript

DEFAULT_PARAMS = {
    "carrier": "", "wireless": "", "zipcode": "", "city": "", "AccountSid": "",
    "From": "+15550000001", "To": "+15550000002", "CallSid": "00000000-0000-4000-8000-000000000001",
}


def compile_xml(xml: str, name: str = "doc.xml", dialect: str | None = None) -> Flow:
    return formats.compile_text(xml, name, dialect)


def run_xml(xml: str, scenario: dict | None = None, name: str = "doc.xml", dialect: str | None = None) -> Transcript:
    return simulate(compile_xml(xml, name, dialect), scenario or {})


def run_url(url: str, scenario: dict, dialect: str | None = None) -> Transcript:
    return simulate(url, scenario, format=dialect)


def events(transcript: Transcript, op: str, **fields: Any) -> list[dict]:
    return [e for e in transcript.events if e["op"] == op and all(e.get(k) == v for k, v in fields.items())]


def without_t(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("t", "leg")} for e in items]


def problems(xml: str, name: str = "doc.xml", dialect: str | None = None) -> list[Diagnostic]:
    with pytest.raises(FlowError) as info:
        compile_xml(xml, name, dialect)
    return info.value.diagnostics


def one_error(xml: str, name: str = "doc.xml", dialect: str | None = None) -> Diagnostic:
    """The single error a document gives (warnings aside)."""
    errors = [d for d in problems(xml, name, dialect) if d.is_error]
    assert len(errors) == 1, "\n".join(d.render() for d in errors)
    return errors[0]


def warnings_of(flow: Flow) -> list[dict]:
    return list(flow.meta.get("warnings", ()))


def doc(body: str) -> dict:
    """An http fixture answering with an InboundXML document (content type deliberately not XML)."""
    return {"status": 200, "content_type": "text/html; charset=UTF-8", "body": body}
