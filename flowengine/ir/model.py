"""The state-machine IR every dialect compiles to.

A `Flow` is a set of `State`s joined by outcome-labelled edges. Each state holds one `Op`: a frozen,
keyword-only value that checks its own fields against its annotations when built, so an invalid op
cannot exist. Rules kept in this file:

  1. An op declares once: its fields (with types), its outcomes (`OUTCOMES`), whether it needs an
     answered leg (`MEDIA`), whether it ever continues (`TERMINAL`). The codec, the JSON Schema, the
     interpreter, lint and graph all read these declarations; nothing is written twice.
  2. Any field not marked `static` may hold an `Expr` (or contain one); it is evaluated when the state
     runs. Static fields (state references, variable names, case lists) are known at compile time.
  3. A state with no edge for an outcome ends its frame: the subroutine returns, or, in the main frame,
     the flow ends and the engine hangs up. A caller hang-up is never an edge: it ends the flow and runs
     the flow's `hangup` handler.
"""

from __future__ import annotations

import re
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Literal, NoReturn

from ..diagnostics import Span
from ..errors import IRError
from ..expr import Expr, contains_expr
from ..expr.conditions import Cond, parse_cond
from .values import EMPTY, FrozenDict, classes_that_fit, freeze, thaw, type_error, value_check

__all__ = [
    "OPS",
    "Op",
    "State",
    "Flow",
    "Case",
    "TRIGGERS",
    "HANDLERS",
    "PROMPT_KINDS",
    "op_fields",
]

OPS: dict[str, type["Op"]] = {}
TRIGGERS = ("inbound-call", "api", "inbound-sms")
HANDLERS = ("hangup", "lifetime", "error")
ANSWER_MODES = ("auto", "start", "manual")
PROMPT_KINDS = ("say", "play", "silence", "say_digits")
STATE_ID = re.compile(r"^[^\s]{1,200}$")
VAR_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.-]{0,99}$")


def static(default: Any = MISSING, *, ref: bool = False, json: str | None = None, doc: str = "") -> Any:
    """A field that never holds an expression. `ref=True`: its value names a state of the flow."""
    meta = {"static": True, "ref": ref, "json": json, "doc": doc}
    return field(default=default, metadata=meta) if default is not MISSING else field(metadata=meta)


def param(default: Any = MISSING, *, json: str | None = None, doc: str = "") -> Any:
    """A field that may hold an expression evaluated when the state runs."""
    meta = {"static": False, "ref": False, "json": json, "doc": doc}
    return field(default=default, metadata=meta) if default is not MISSING else field(metadata=meta)


_TYPE_CACHE: dict[type, dict[str, Any]] = {}
_FIELDS_CACHE: dict[type, list[tuple[Any, Any]]] = {}


def op_fields(cls: type["Op"]) -> list[tuple[Any, Any]]:
    """(dataclasses.Field, resolved annotation) for every public field of an op class (computed once
    per class; callers must not change the list)."""
    found = _FIELDS_CACHE.get(cls)
    if found is None:
        hints = _TYPE_CACHE.get(cls)
        if hints is None:
            hints = typing.get_type_hints(cls, globalns={**globals(), "Op": Op, "Case": Case})
            _TYPE_CACHE[cls] = hints
        found = _FIELDS_CACHE[cls] = [(f, hints[f.name]) for f in fields(cls) if not f.name.startswith("_")]
    return found


_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLANS: dict[type, tuple[tuple[str, Any, bool, Any, frozenset[type]], ...]] = {}
_REFS: dict[type, tuple[str, ...]] = {}


def _field_plan(cls: type["Op"]) -> tuple[tuple[str, Any, bool, Any, frozenset[type]], ...]:
    """(name, default, static?, value check, classes that fit) per public field, worked out once per
    op class: building an op checks its values against these (documents compile to thousands of ops)."""
    plan = _PLANS.get(cls)
    if plan is None:
        rows = []
        for f, tp in op_fields(cls):
            is_static = bool(f.metadata.get("static", False))
            rows.append((f.name, f.default, is_static, value_check(tp, allow_expr=not is_static),
                         classes_that_fit(tp, allow_expr=not is_static)))
        plan = _PLANS[cls] = tuple(rows)
    return plan


def _ref_fields(cls: type["Op"]) -> tuple[str, ...]:
    """The names of the fields that name a state (worked out once per op class)."""
    names = _REFS.get(cls)
    if names is None:
        names = _REFS[cls] = tuple(f.name for f, _ in op_fields(cls) if f.metadata.get("ref"))
    return names


def json_name(f: Any) -> str:
    return f.metadata.get("json") or f.name


def _op(cls: type["Op"]) -> type["Op"]:
    """Make an op class a frozen, slotted, keyword-only dataclass and register it by kind."""
    cls = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    if not cls.kind:
        raise TypeError(f"{cls.__name__} has no kind")
    OPS[cls.kind] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """Base of all ops. `leg` picks the leg (default: the frame's focus leg); `result` names a
    variable that receives the op's result object."""

    kind: ClassVar[str] = ""
    OUTCOMES: ClassVar[frozenset[str]] = frozenset({"ok"})
    MEDIA: ClassVar[bool] = False
    TERMINAL: ClassVar[bool] = False
    INPUT: ClassVar[bool] = False
    """Waits for the caller (keys, speech, a recording): `timeout` then means "no input". Lint's
    dead-end and loop checks read this."""

    leg: str | None = param(None, doc="leg letter; default: the frame's focus leg")
    result: str | None = static(None, doc="variable that receives the result object")
    _dynamic: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dynamic = []
        for name, default, is_static, fits, fast in _field_plan(type(self)):
            value = getattr(self, name)
            if value is default:  # a declared default fits its own annotation (tests/ir check that)
                continue
            cls = value.__class__
            if cls in fast:  # the common case: a scalar that fits by its class alone, or an expression
                if cls is Expr:
                    dynamic.append(name)
                continue
            if cls in _SCALARS:
                if not fits(value):
                    self._refuse(name, value)
                continue
            if isinstance(value, list):
                value = freeze(value)
                object.__setattr__(self, name, value)
            elif isinstance(value, dict) and not isinstance(value, FrozenDict):
                value = freeze(value)
                object.__setattr__(self, name, value)
            if contains_expr(value):
                if is_static:
                    self._refuse(name, value)
                dynamic.append(name)
            if not fits(value):
                self._refuse(name, value)
        if dynamic:
            object.__setattr__(self, "_dynamic", tuple(dynamic))
        self.check()

    def _refuse(self, name: str, value: Any) -> NoReturn:
        """The E_FIELD_TYPE error for a value that does not fit field `name`."""
        f, tp = next((f, tp) for f, tp in op_fields(type(self)) if f.name == name)
        is_static = bool(f.metadata.get("static", False))
        if is_static and contains_expr(value):
            raise IRError(f"{json_name(f)!r} cannot be an expression", code="E_FIELD_TYPE", field=name)
        raise IRError(f"{json_name(f)!r}: {type_error(value, tp, allow_expr=not is_static)}",
                      code="E_FIELD_TYPE", field=name)

    def check(self) -> None:
        """Per-op value checks beyond types (ranges, enums). Raise IRError."""

    def outcomes(self) -> frozenset[str]:
        return self.OUTCOMES

    def refs(self) -> dict[str, str]:
        """States this op names in its fields (field name → state id), e.g. a dial's `on_answer`."""
        out = {}
        for name in _ref_fields(type(self)):
            target = getattr(self, name)
            if target is not None:
                out[name] = target
        return out

    @property
    def is_dynamic(self) -> bool:
        return bool(self._dynamic)

    def to_json(self) -> dict:
        out: dict = {"op": self.kind}
        for f, _ in op_fields(type(self)):
            value = getattr(self, f.name)
            default = f.default if f.default is not MISSING else MISSING
            if default is not MISSING and value == default and type(value) is type(default):
                continue
            out[json_name(f)] = thaw(value)
        return out


def _require(ok: bool, message: str, field_name: str | None = None) -> None:
    if not ok:
        raise IRError(message, code="E_FIELD_VALUE", field=field_name)


def _literal(value: Any) -> bool:
    return not isinstance(value, Expr)


def _check_keys(value: Any, name: str, allow_empty: bool = False) -> None:
    if _literal(value) and value is not None:
        _require(isinstance(value, str) and (allow_empty or value) and all(c in "0123456789*#ABCDabcd" for c in value),
                 f"{name!r} must be DTMF keys (0-9 * # A-D), got {value!r}", name)


@dataclass(frozen=True, slots=True)
class Case:
    """One arm of a `branch`: when `when` holds, the branch takes the edge `match:<key>`."""

    key: str
    when: Cond

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise IRError("a case key must be a non-empty string", code="E_FIELD_VALUE", field="cases")
        if not isinstance(self.when, Cond):
            object.__setattr__(self, "when", parse_cond(self.when))  # CondError says where

    def to_json(self) -> dict:
        return {"key": self.key, "when": self.when.to_json()}


# ---------------------------------------------------------------------------------------------------
# Call control


@_op
class Answer(Op):
    """Answer the leg (no-op when already answered)."""

    kind = "answer"


@_op
class Ringing(Op):
    """Send early signalling (180/183) without answering."""

    kind = "ringing"


@_op
class Reject(Op):
    """Refuse the unanswered call. On an answered leg it hangs up instead. Ends the flow."""

    kind = "reject"
    OUTCOMES = frozenset()
    TERMINAL = True
    reason: Literal["busy", "rejected"] = param("rejected")


@_op
class Hangup(Op):
    """Hang up the leg. On the main leg this ends the flow; on a dialled leg it ends that leg's frame."""

    kind = "hangup"
    OUTCOMES = frozenset()
    TERMINAL = True
    cause: str | int | None = param(None, doc="Q.850 cause code or name (normal, busy, …)")


# ---------------------------------------------------------------------------------------------------
# Media


def _barge_in() -> Any:
    return param(None, doc="inside an input request: whether a key stops this prompt "
                           "(null = the request's barge_in; false = keys pressed during it are discarded)")


def _enabled() -> Any:
    return param(True, doc="false = skip this prompt (an expression makes it depend on the call)")


@_op
class Say(Op):
    """Speak text with TTS, `loop` times (0 = until interrupted). One `say` event per repetition."""

    kind = "say"
    MEDIA = True
    text: str = param()
    voice: str | None = param(None)
    language: str | None = param(None)
    ssml: bool = param(False)
    loop: int = param(1)
    engine: str | None = param(None, doc="TTS engine (standard, neural, flite, …): a backend hint")
    barge_in: bool | None = _barge_in()
    enabled: bool = _enabled()

    def check(self) -> None:
        if _literal(self.loop):
            _require(self.loop >= 0, "'loop' must be 0 (forever) or more", "loop")


@_op
class Play(Op):
    """Play audio from a URL or file (or a tone stream), `loop` times (0 = until interrupted)."""

    kind = "play"
    MEDIA = True
    url: str = param()
    loop: int = param(1)
    barge_in: bool | None = _barge_in()
    enabled: bool = _enabled()

    def check(self) -> None:
        if _literal(self.loop):
            _require(self.loop >= 0, "'loop' must be 0 (forever) or more", "loop")


@_op
class Silence(Op):
    """Pause for a number of seconds."""

    kind = "silence"
    MEDIA = True
    seconds: float = param()
    barge_in: bool | None = _barge_in()
    enabled: bool = _enabled()

    def check(self) -> None:
        if _literal(self.seconds):
            _require(0 <= self.seconds <= 86400, "'seconds' must be between 0 and 86400", "seconds")


@_op
class SayDigits(Op):
    """Read digits out one by one (`method` is a backend hint such as iterated or pronounced)."""

    kind = "say_digits"
    MEDIA = True
    digits: str = param()
    method: str | None = param(None)
    barge_in: bool | None = _barge_in()
    enabled: bool = _enabled()


@_op
class SendDtmf(Op):
    """Send tones on the leg (`w` = 0.5 s pause, `W` = 1 s pause)."""

    kind = "send_dtmf"
    MEDIA = True
    digits: str = param()

    def check(self) -> None:
        if _literal(self.digits):
            _require(bool(re.fullmatch(r"[0-9*#A-Da-dwW]+", self.digits)),
                     f"'digits' must be DTMF keys or w/W pauses, got {self.digits!r}", "digits")


# ---------------------------------------------------------------------------------------------------
# Input


@_op
class Collect(Op):
    """Play `prompts`, then collect digits.

    Outcomes: `ok` (digits collected), `timeout` (no digits), `invalid` (fewer than `min_digits`, or
    not one of `choices`), `match:<choice>` (with `choices`). Result: {digits, reason}.
    A key pressed during a prompt stops it and counts as input when `barge_in` (the default).
    """

    kind = "collect"
    OUTCOMES = frozenset({"ok", "timeout", "invalid"})
    MEDIA = True
    INPUT = True
    prompts: tuple[Op, ...] = static((), doc="say/play/silence/say_digits ops played first")
    max_digits: int | None = param(1, doc="null = unlimited (ends on finish key or timeout)")
    min_digits: int = param(1)
    timeout: float = param(5.0, doc="seconds to wait for the first key, after the prompts")
    inter_digit_timeout: float | None = param(None, doc="seconds between keys; null = same as timeout")
    finish_on_key: str | None = param("#", doc="key that ends input (not included); null or '' = none")
    barge_in: bool = param(True)
    choices: tuple[str, ...] | None = static(None, doc="valid inputs; each gets an edge match:<choice>")
    early_match: bool = param(False, doc="stop as soon as the input is a choice no other choice extends")

    def check(self) -> None:
        for prompt in self.prompts:
            _require(isinstance(prompt, Op) and prompt.kind in PROMPT_KINDS,
                     f"prompts may only be {', '.join(PROMPT_KINDS)}", "prompts")
        if _literal(self.max_digits) and self.max_digits is not None:
            _require(1 <= self.max_digits <= 128, "'max_digits' must be 1..128 or null", "max_digits")
        if _literal(self.min_digits):
            _require(self.min_digits >= 0, "'min_digits' must be 0 or more", "min_digits")
        for name in ("timeout", "inter_digit_timeout"):
            value = getattr(self, name)
            if _literal(value) and value is not None:
                _require(0 <= value <= 3600, f"{name!r} must be between 0 and 3600 seconds", name)
        if _literal(self.finish_on_key) and self.finish_on_key:
            _check_keys(self.finish_on_key, "finish_on_key")
        if self.choices is not None:
            _require(len(self.choices) > 0, "'choices' must not be empty", "choices")
            for choice in self.choices:
                _check_keys(choice, "choices")

    def outcomes(self) -> frozenset[str]:
        if self.choices is None:
            return self.OUTCOMES
        return self.OUTCOMES | {f"match:{c}" for c in self.choices}


@_op
class Speech(Op):
    """Play `prompts`, then listen for speech (and keys when `dtmf`). Outcomes: ok, timeout.
    Result: {text, confidence, digits, reason}."""

    kind = "speech"
    OUTCOMES = frozenset({"ok", "timeout"})
    MEDIA = True
    INPUT = True
    prompts: tuple[Op, ...] = static(())
    hints: tuple[str, ...] = param(())
    language: str | None = param(None)
    timeout: float = param(5.0)
    dtmf: bool = param(False, doc="accept keys as well as speech")
    max_digits: int | None = param(None)
    finish_on_key: str | None = param("#")
    grammar: str | None = param(None, doc="URL of a speech grammar (SRGS) the recogniser is held to")
    beep: bool = param(False, doc="a beep before listening starts")

    def check(self) -> None:
        for prompt in self.prompts:
            _require(isinstance(prompt, Op) and prompt.kind in PROMPT_KINDS,
                     f"prompts may only be {', '.join(PROMPT_KINDS)}", "prompts")


@_op
class Record(Op):
    """Record the caller (blocking) until the finish key, `silence_timeout` of silence or `max_length`.
    Outcomes: ok (something recorded), timeout (nothing).
    Result: {url, duration, reason, digits, transcription}."""

    kind = "record"
    OUTCOMES = frozenset({"ok", "timeout"})
    MEDIA = True
    INPUT = True
    max_length: float = param(3600.0)
    finish_on_key: str | None = param("#", doc="any of these keys ends the recording")
    beep: bool = param(False)
    silence_timeout: float = param(5.0)
    format: str | None = param(None, doc="file format of the recording (mp3, wav); null = the backend's")
    trim_silence: bool = param(False, doc="trim leading and trailing silence from the file")
    transcribe: str | None = param(None, doc="language to transcribe the recording in (BCP-47); the "
                                             "text is the result's `transcription`; null = none")

    def check(self) -> None:
        if _literal(self.max_length):
            _require(0 < self.max_length <= 86400, "'max_length' must be 1..86400 seconds", "max_length")
        if _literal(self.silence_timeout):
            _require(0 <= self.silence_timeout <= 3600, "'silence_timeout' must be 0..3600", "silence_timeout")


@_op
class RecordStart(Op):
    """Start recording the call in the background. Result: {url}.

    `on_ready` names a state run once the recording is ready: after the run ends (legs hung up, then
    the hangup handler), without a leg, with the built-in `recording` = {url, duration, transcribe}.
    """

    kind = "record_start"
    MEDIA = True
    legs: Literal["both", "caller", "callee"] = param("both")
    max_length: float | None = param(None)
    transcribe: str | None = param(None, doc="language to transcribe the recording in (BCP-47); null = none")
    on_ready: str | None = static(None, ref=True, doc="state run (without a leg) when the recording is ready")
    format: str | None = param(None, doc="file format of the recording (mp3, wav); null = the backend's")
    trim_silence: bool = param(False, doc="trim leading and trailing silence from the file")


@_op
class RecordStop(Op):
    """Stop the background recording."""

    kind = "record_stop"


# ---------------------------------------------------------------------------------------------------
# Other parties


@_op
class Dial(Op):
    """Call `targets` (ringing together) on a new leg.

    On answer: run `on_answer` (a subroutine whose focus is the new leg), then, when `bridge`, connect
    the focus leg to the new leg until one hangs up. Outcomes: answered, busy, no-answer, failed,
    canceled. Result: {status, leg, answered_by, duration, machine}.
    """

    kind = "dial"
    OUTCOMES = frozenset({"answered", "busy", "no-answer", "failed", "canceled"})
    targets: tuple[str, ...] = param()
    timeout: float = param(30.0)
    caller_id: str | None = param(None)
    time_limit: float | None = param(None, doc="longest bridge, seconds")
    bridge: bool = param(True)
    on_answer: str | None = static(None, ref=True, doc="state run on the answered leg before the bridge")
    send_digits: str | None = param(None, doc="keys sent to the answered leg")
    caller_name: str | None = param(None, doc="caller name presented to the called party")
    ends_lifetime: bool = param(False, doc="once answered, the flow's lifetime no longer applies")
    ringback: str | None = param(None, doc="media URL the focus leg hears instead of ringing")
    heartbeat: dict[str, Any] | None = param(None, doc="{url, method, params, interval}: an HTTP request "
                                                        "sent every `interval` seconds (default 60) while bridged")
    hangup_key: str | None = param(None, doc="a key the focus leg presses to end the bridge: the dialled "
                                             "leg is hung up and the flow goes on")
    detect_machine: bool = param(False, doc="answering-machine detection: the result's `machine` says "
                                            "whether a machine answered")

    def check(self) -> None:
        if _literal(self.targets):
            _require(len(self.targets) >= 1, "'targets' needs at least one destination", "targets")
        if _literal(self.timeout):
            _require(0 < self.timeout <= 600, "'timeout' must be 1..600 seconds", "timeout")
        _check_keys(self.hangup_key, "hangup_key")
        if _literal(self.heartbeat) and self.heartbeat is not None:
            _require(isinstance(self.heartbeat.get("url"), (str, Expr)),
                     "'heartbeat' needs a url", "heartbeat")
            interval = self.heartbeat.get("interval", 60)
            _require(isinstance(interval, Expr) or (isinstance(interval, (int, float)) and interval >= 1),
                     "'heartbeat.interval' must be 1 second or more", "heartbeat")


@_op
class Bridge(Op):
    """Connect the focus leg with `peer` (default: the leg that dialled it) until one hangs up.
    Result: {duration, ended_by}."""

    kind = "bridge"
    MEDIA = True
    peer: str | None = param(None)
    time_limit: float | None = param(None)


@_op
class Queue(Op):
    """Put the caller in a call queue. Outcomes: answered (the agent ended the call), agent_hangup,
    timeout, exit (the caller pressed `exit_key`), no_agents. Result: {status, duration}."""

    kind = "queue"
    OUTCOMES = frozenset({"answered", "agent_hangup", "timeout", "exit", "no_agents"})
    MEDIA = True
    name: str = param()
    max_wait: float | None = param(None)
    exit_key: str | None = param(None)
    ends_lifetime: bool = param(False, doc="the flow's lifetime applies only while waiting: an answer ends it")

    def check(self) -> None:
        _check_keys(self.exit_key, "exit_key")


@_op
class Conference(Op):
    """Join a conference room until the caller leaves or the conference ends. Result: {duration}."""

    kind = "conference"
    MEDIA = True
    room: str = param()
    muted: bool = param(False)
    beep: bool = param(True)
    start_on_enter: bool = param(True)
    end_on_exit: bool = param(False)
    max_participants: int | None = param(None)
    deaf: bool = param(False, doc="the leg hears nobody")
    wait: bool = param(True, doc="false = put the leg in the room and go on at once (it stays there "
                                 "until it hangs up): how a flow adds other parties to a conference")


# ---------------------------------------------------------------------------------------------------
# Runtime services


@_op
class Http(Op):
    """An HTTP request. Outcomes: ok (2xx), error (other status, timeout, network error).
    Result: {ok, status, status_text, body, json, headers, error}."""

    kind = "http"
    OUTCOMES = frozenset({"ok", "error"})
    url: str = param()
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = param("GET")
    params: dict[str, Any] | None = param(None, doc="query (GET) or form (other methods) fields")
    body: str | None = param(None)
    json_body: Any = param(None, json="json", doc="sent as a JSON body")
    headers: dict[str, str] | None = param(None)
    timeout: float = param(10.0)


@_op
class Document(Op):
    """Fetch a flow document over HTTP and compile it with `format`.

    `mode: replace` continues the current frame in the new document (InboundXML's action/Redirect);
    `mode: call` runs it as a subroutine and then takes `ok`. Outcome `error`: the fetch failed or the
    answer did not compile (the error is logged as an `error` event). Result: {ok, status, error}
    (the HTTP answer, bound before the document runs).
    """

    kind = "document"
    OUTCOMES = frozenset({"ok", "error"})
    url: str = param()
    method: Literal["GET", "POST"] = param("POST")
    params: dict[str, Any] | None = param(None)
    format: str = param("inboundxml")
    mode: Literal["replace", "call"] = static("replace")
    timeout: float = param(10.0)
    json_body: Any = param(None, json="json", doc="sent as a JSON body (instead of form fields)")
    inherit: bool = static(False, doc="the format compiles the answer against this flow (it may jump "
                                      "into this flow's states); its loader receives the current flow")
    fallback: str | None = param(None, doc="URL fetched instead (POST, the same params) when the fetch "
                                           "fails or the answer does not compile; null or '' = none")


@_op
class Sms(Op):
    """Send a text message. Outcomes: ok, error. Result: {ok, sid, status}."""

    kind = "sms"
    OUTCOMES = frozenset({"ok", "error"})
    to: str | tuple[str, ...] = param()
    from_: str | None = param(None, json="from")
    body: str = param()
    media: tuple[str, ...] = param((), doc="media URLs (a picture message, MMS)")


@_op
class Log(Op):
    """Write a line to the call's log (and the transcript)."""

    kind = "log"
    message: Any = param()
    level: Literal["debug", "info", "warning", "error"] = param("info")


# ---------------------------------------------------------------------------------------------------
# Control


@_op
class Set(Op):
    """Assign a user variable (a `set` event in the transcript)."""

    kind = "set"
    name: str = static()
    value: Any = param(None)
    silent: bool = static(False, doc="bookkeeping (counters, menu state): no `set` event")

    def check(self) -> None:
        _require(bool(VAR_NAME.match(self.name)) and "." not in self.name,
                 f"invalid variable name {self.name!r}", "name")


@_op
class Assign(Op):
    """Assign several variables from one object {name: value} (usually an expression's value, such as
    what a script changed). One `set` event per name unless `silent`."""

    kind = "assign"
    values: dict[str, Any] = param(doc="the names and their values; an expression must yield an object")
    silent: bool = static(False, doc="bookkeeping (a compiler's scratch values): no `set` events")

    def check(self) -> None:
        if _literal(self.values):
            for name in self.values:
                _require(bool(VAR_NAME.match(name)) and "." not in name, f"invalid variable name {name!r}", "values")


@_op
class Branch(Op):
    """Take `match:<key>` for the first case whose condition holds, else `ok`."""

    kind = "branch"
    cases: tuple[Case, ...] = static()

    def check(self) -> None:
        keys = [c.key for c in self.cases]
        _require(len(keys) == len(set(keys)), "case keys must be unique", "cases")

    def outcomes(self) -> frozenset[str]:
        return self.OUTCOMES | {f"match:{c.key}" for c in self.cases}


@_op
class Goto(Op):
    """Jump: takes `ok` at once (keeps the author's goto line in the IR)."""

    kind = "goto"


@_op
class Call(Op):
    """Run the states from `entry` as a subroutine (focus: `leg`), then take `ok`."""

    kind = "call"
    entry: str = static(ref=True)


@_op
class Fail(Op):
    """Stop with a runtime error: an `error` event, then the flow's error handler, if any."""

    kind = "fail"
    OUTCOMES = frozenset()
    TERMINAL = True
    code: str = static("E_FLOW")
    message: str = param("flow failed")


# ---------------------------------------------------------------------------------------------------
# States and flows


@dataclass(frozen=True, slots=True)
class State:
    """One node of the flow: an op, where each outcome leads, and where the author wrote it."""

    id: str
    op: Op
    edges: FrozenDict = EMPTY
    span: Span | None = None
    label: str | None = None
    # Derived data a runtime may memoise per state (e.g. a prebuilt channel request). Not part of
    # the IR: excluded from equality and from the JSON form.
    cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.edges, FrozenDict):
            object.__setattr__(self, "edges", FrozenDict(self.edges))


@dataclass(frozen=True, slots=True)
class Flow:
    """A compiled call flow.

    `entry` maps a trigger (inbound-call, api, inbound-sms, or "*" for any) to its first state.
    `handlers` maps hangup / lifetime / error to the state that runs for them. `answer` says when leg A
    is answered: "auto" (just before its first media op), "start" (before the first state) or
    "manual" (only by answer ops). `lifetime` (seconds from answer) interrupts the call and runs the
    lifetime handler.

    `declared` lists the variables the flow declares (with or without a value in `variables`); when
    set, a run may only be started with those (E_START_UNDECLARED), and `start_pattern` (a regex)
    must match every start variable's name (E_START_VAR_NAME). `max_jumps` guards loops: more `goto`
    states than that without a channel operation in between is a fatal E_LOOP_LIMIT.
    """

    name: str
    states: FrozenDict
    entry: FrozenDict
    variables: FrozenDict = EMPTY
    handlers: FrozenDict = EMPTY
    lifetime: float | None = None
    answer: str = "auto"
    dialect: str = "ir"
    source: str | None = None
    meta: FrozenDict = EMPTY
    declared: tuple[str, ...] | None = None
    start_pattern: str | None = None
    max_jumps: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.declared, list):
            object.__setattr__(self, "declared", tuple(self.declared))
        for name in ("states", "entry", "variables", "handlers", "meta"):
            value = getattr(self, name)
            if isinstance(value, str) and name == "entry":
                value = {"*": value}
            if not isinstance(value, FrozenDict):
                object.__setattr__(self, name, FrozenDict(value) if name == "states" else freeze(value))

    def entry_for(self, trigger: str) -> str | None:
        return self.entry.get(trigger) or self.entry.get("*")

    def span_of(self, state_id: str) -> Span | None:
        state = self.states.get(state_id)
        return state.span if state else None
