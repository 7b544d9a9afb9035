"""Request bodies of the control API: declared once here, validated by pydantic, documented in the
OpenAPI document from the same declarations.

Rules kept here: unknown fields are errors (a typo never silently does nothing); numbers and caller
ids that end up in a switch's dial string are checked against a closed character set; URLs are only
checked for shape here (the SSRF guard runs when a request is handled); times are checked when the
timezone is known (see scheduler.parse_time).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CallRequest", "RedirectRequest", "DtmfRequest", "PlayRequest", "CallbackRequest", "CallbackPatch",
           "CampaignRequest", "Contact", "Window", "Retry", "NUMBER"]

NUMBER = re.compile(r"^\+?[0-9A-Za-z*#._-]{1,64}$")
"""Destinations and caller ids: E.164, digits, extensions. No '/', '@', ',' or '&', which would change
an Asterisk dial string or a FreeSWITCH originate string."""
VAR_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]{0,99}$")


def _number(value: str | None, what: str) -> str | None:
    if value is not None and not NUMBER.match(value):
        raise ValueError(f"{what} must be a phone number or extension (digits, letters, + * # . _ -), not {value!r}")
    return value


def _variables(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not VAR_NAME.match(name):
            raise ValueError(f"invalid variable name {name!r}")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class _Placement(_Body):
    """Who to call and what runs: shared by calls, callbacks and campaigns."""

    flow: str | None = Field(None, description="A route's name, or a built-in flow: click-to-call, otp, "
                                               "masking, callback, broadcast")
    url: str | None = Field(None, description="An InboundXML/TwiML document URL fetched when the call is answered")
    method: Literal["GET", "POST"] = Field("POST", description="HTTP method of the document request (`url`)")
    fallback_url: str | None = Field(None, description="Fetched when the document request fails")
    variables: dict[str, Any] = Field(default_factory=dict, description="Start variables of the flow")
    timeout: int = Field(30, ge=1, le=600, description="Seconds the first call rings")
    status_callback: str | None = Field(None, description="URL that also gets this call's signed status callbacks")
    metadata: dict[str, str] = Field(default_factory=dict, description="Echoed in every status callback")
    backend: str | None = Field(None, description="asterisk or freeswitch (default: the first that can place calls)")

    _check_variables = field_validator("variables")(_variables)

    @model_validator(mode="after")
    def _one_flow(self):
        if (self.flow is None) == (self.url is None):
            raise ValueError("give exactly one of `flow` (a route or built-in flow name) and `url` (a document URL)")
        return self


class CallRequest(_Placement):
    """POST /v1/calls: place a call and run a flow on it."""

    to: str = Field(description="The number to call")
    from_: str | None = Field(None, alias="from", description="Caller id presented to the called party")

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _number(value, "to")

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return _number(value, "from")


class RedirectRequest(_Body):
    """POST /v1/calls/{id}/redirect: the live call goes on with another flow (Ytel's Interrupt)."""

    flow: str | None = None
    url: str | None = None
    method: Literal["GET", "POST"] = "POST"
    variables: dict[str, Any] = Field(default_factory=dict)

    _check_variables = field_validator("variables")(_variables)

    @model_validator(mode="after")
    def _one_flow(self):
        if (self.flow is None) == (self.url is None):
            raise ValueError("give exactly one of `flow` and `url`")
        return self


class DtmfRequest(_Body):
    """POST /v1/calls/{id}/dtmf: send tones to the called party."""

    digits: str = Field(pattern=r"^[0-9*#A-Da-dwW]{1,64}$", description="DTMF keys; w/W pause 0.5/1 s")


class PlayRequest(_Body):
    """POST /v1/calls/{id}/play: play text (TTS) or audio to the called party."""

    text: str | None = Field(None, max_length=4000)
    url: str | None = None
    voice: str | None = None
    language: str | None = None
    loop: int = Field(1, ge=1, le=10)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.text is None) == (self.url is None):
            raise ValueError("give exactly one of `text` and `url`")
        return self


class CallbackRequest(CallRequest):
    """POST /v1/callbacks: a call placed at a given time (002's scheduled callback)."""

    flow: str | None = Field("callback", description="Default: the built-in callback flow")
    at: str = Field(description="When: ISO 8601 with an offset, or 'YYYY-MM-DD hh:mm:ss' in `timezone`")
    timezone: str = Field("UTC", description="IANA zone for an `at` without offset (e.g. Asia/Kolkata)")

    @model_validator(mode="before")
    @classmethod
    def _url_replaces_default_flow(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("url") is not None and "flow" not in data:
            data = {**data, "flow": None}
        return data


class CallbackPatch(_Body):
    """PATCH /v1/callbacks/{id}: change a callback that has not run yet."""

    at: str | None = None
    timezone: str | None = None
    to: str | None = None
    from_: str | None = Field(None, alias="from")
    flow: str | None = None
    variables: dict[str, Any] | None = None
    timeout: int | None = Field(None, ge=1, le=600)
    metadata: dict[str, str] | None = None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str | None) -> str | None:
        return _number(value, "to")

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return _number(value, "from")


class Contact(_Body):
    number: str
    fields: dict[str, str] = Field(default_factory=dict, description="Replace {name} in the campaign's message")

    @field_validator("number")
    @classmethod
    def _to(cls, value: str) -> str:
        return _number(value, "number")


class Window(_Body):
    """When a campaign may dial, in `timezone`: between `start_at` and `end_at` (dates, optional), on
    `days`, between `from` and `to` each day."""

    timezone: str = "UTC"
    start_at: str | None = Field(None, description="'YYYY-MM-DD hh:mm:ss' (or ISO 8601)")
    end_at: str | None = None
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    from_: str = Field("00:00", alias="from", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    to: str = Field("24:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


class Retry(_Body):
    on: list[Literal["busy", "no-answer", "failed"]] = Field(default_factory=lambda: ["busy", "no-answer"])
    max: int = Field(0, ge=0, le=10, description="Attempts after the first")
    delay: int = Field(300, ge=1, le=86400, description="Seconds before a retry")


class CampaignRequest(_Body):
    """POST /v1/campaigns: call a contact list at a pace, inside a window, skipping the DND list."""

    name: str = Field(min_length=1, max_length=200)
    flow: str = Field("broadcast", description="A route or built-in flow run on every answered contact")
    from_: str | None = Field(None, alias="from", description="Caller id of the campaign")
    contacts: list[Contact | str] = Field(min_length=1)
    dnd: list[str] = Field(default_factory=list, description="Numbers never to call")
    calls_per_minute: float = Field(gt=0, le=6000)
    window: Window = Field(default_factory=Window)
    retry: Retry = Field(default_factory=Retry)
    variables: dict[str, Any] = Field(default_factory=dict, description="Start variables; strings may use "
                                                                        "{field} from each contact")
    timeout: int = Field(30, ge=1, le=600)
    status_callback: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    backend: str | None = None

    _check_variables = field_validator("variables")(_variables)

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return _number(value, "from")

    @field_validator("contacts")
    @classmethod
    def _contacts(cls, value: list) -> list[Contact]:
        return [item if isinstance(item, Contact) else Contact(number=item) for item in value]

    @field_validator("dnd")
    @classmethod
    def _dnd(cls, value: list[str]) -> list[str]:
        return [_number(re.sub(r"[\s().-]", "", number), "dnd number") for number in value]
