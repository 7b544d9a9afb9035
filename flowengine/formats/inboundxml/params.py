"""Request parameters: what each document request, callback and notification sends, as expressions.

Rules kept here:
  * Every request carries the dialect's default parameters, in the order the platform sends them
    (Ytel's observed order: carrier, wireless, zipcode, city, AccountSid, From, To, CallSid), then the
    verb's own parameters (Digits, RecordingUrl, DialCallStatus, …).
  * Values are IR expressions over the call built-ins (`call.from`, `call.id`, …), the run's variables
    (AccountSid, carrier, wireless, zipcode, city: empty unless the call or the flow sets them) and the
    verb's result variable, so they are evaluated when the request is made.
  * Expressions are built once and shared (they are immutable), which keeps compiling cheap.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ...expr import Expr
from ...ir.values import FrozenDict

LOOKUP_VARIABLES = ("AccountSid", "carrier", "wireless", "zipcode", "city")
"""Per-call values Ytel sends that only the switch or the operator can know; declared flow variables."""


@lru_cache(maxsize=4096)
def expr(lang: str, src: str) -> Expr:
    """A shared, compiled expression."""
    return Expr(lang, src)


def var(path: str) -> Expr:
    return expr("var", path)


YTEL_DEFAULTS = FrozenDict({
    "carrier": var("carrier"),
    "wireless": var("wireless"),
    "zipcode": var("zipcode"),
    "city": var("city"),
    "AccountSid": var("AccountSid"),
    "From": var("call.from"),
    "To": var("call.to"),
    "CallSid": var("call.id"),
})

_DIRECTION = expr("calc", '"outbound-api" if call.trigger == "api" else "inbound"')


def _twilio(status: str) -> FrozenDict:
    return FrozenDict({
        "CallSid": var("call.id"),
        "AccountSid": var("AccountSid"),
        "From": var("call.from"),
        "To": var("call.to"),
        "CallStatus": status,
        "ApiVersion": "2010-04-01",
        "Direction": _DIRECTION,
    })


TWILIO_DEFAULTS = _twilio("in-progress")
TWILIO_FIRST = _twilio("ringing")  # the first request of a call: not answered yet

_DEFAULTS = {"inboundxml": YTEL_DEFAULTS, "twiml": TWILIO_DEFAULTS}
_FIRST = {"inboundxml": YTEL_DEFAULTS, "twiml": TWILIO_FIRST}


def defaults(dialect: str) -> FrozenDict:
    """The parameters of every request made while the call runs."""
    return _DEFAULTS[dialect]


def first_request(dialect: str) -> FrozenDict:
    """The parameters of the request that fetches a call's first document."""
    return _FIRST[dialect]


def status_callback(dialect: str) -> FrozenDict:
    """The end-of-call notification: the defaults with CallStatus=completed."""
    return FrozenDict({**_DEFAULTS[dialect], "CallStatus": "completed"})


def with_params(dialect: str, extra: dict[str, Any]) -> FrozenDict:
    return FrozenDict({**_DEFAULTS[dialect], **extra})


# -- each verb's own parameters ------------------------------------------------------------------------


def gather(result: str, dtmf: bool = True, speech: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if dtmf:
        out["Digits"] = var(f"{result}.digits")
    if speech:
        out["SpeechResult"] = var(f"{result}.text")
        out["Confidence"] = var(f"{result}.confidence")
    return out


def record(result: str) -> dict[str, Any]:
    return {
        "RecordingUrl": var(f"{result}.url"),
        "RecordingDuration": expr("calc", f"int({result}.duration + 0.5)"),
        "Digits": var(f"{result}.digits"),
    }


def recording_notice(result: str) -> dict[str, Any]:
    """A finished background or dial recording (no keys were involved)."""
    return {
        "RecordingUrl": var(f"{result}.url"),
        "RecordingDuration": expr("calc", f"int({result}.duration + 0.5)"),
    }


def transcription(result: str) -> dict[str, Any]:
    return {
        "TranscriptionText": var(f"{result}.transcription"),
        "TranscriptionStatus": expr("calc", f'"completed" if {result}.transcription else "failed"'),
        "TranscriptionUrl": expr("template", f"${{{result}.url}}.txt"),
        "RecordingUrl": var(f"{result}.url"),
    }


def dial(result: str, confirm: tuple[str, str] | None = None, recording: str | None = None,
         machine: bool = False) -> dict[str, Any]:
    """DialCallStatus uses Twilio's words (answered → completed). `confirm` is (the group-confirm
    collect's result, the key): an answer nobody confirmed with the key counts as no-answer."""
    answered = f'"completed" if {result}.status == "answered" else {result}.status'
    if confirm is not None:
        confirmed, key = confirm
        answered = (f'("completed" if {confirmed}.digits == "{key}" else "no-answer") if {result}.status == "answered" '
                    f"else {result}.status")
    out: dict[str, Any] = {
        "DialCallStatus": expr("calc", answered),
        "DialCallSid": expr("template", f"${{call.id}}-${{{result}.leg}}"),
        "DialCallDuration": expr("calc", f"int({result}.duration + 0.5)"),
    }
    if recording is not None:
        out["RecordingUrl"] = var(f"{recording}.url")
    if machine:
        out["AnsweredBy"] = expr("calc", f'"machine" if {result}.machine else "human"')
    return out


def conference() -> dict[str, Any]:
    return {"DialCallStatus": "completed"}


def sms(result: str) -> dict[str, Any]:
    return {"SmsSid": var(f"{result}.sid"), "SmsStatus": var(f"{result}.status")}


def redirect(url_base: str | None) -> dict[str, Any]:
    return {"urlBase": url_base} if url_base else {}
