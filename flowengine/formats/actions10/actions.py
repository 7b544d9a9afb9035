"""The built-in ACTIONS10 actions (digest §4.6): each a catalogue entry mapping one step onto IR ops.

Each entry declares its parameters once (types, defaults, docs; the JSON Schema is generated from them)
and a compile function. Results are reshaped into CALLR's objects by a silent `assign` state running a
JavaScript expression over the IR op's result (`_raw`), so every dialect-specific shape lives here.
Where the digest gives a default or a shape, the table entry cites it (FOUND = a CALLR source,
PROPOSED = the digest's gap-fill).
"""

from __future__ import annotations

import json
from typing import Any

from ...expr import Expr
from ...expr.js import js_source
from ...ir.model import (
    Answer, Assign, Bridge, Collect, Dial, Hangup, Http, Log, Play, Record, RecordStart, Ringing, Say, Sms,
)
from .catalogue import ACTIONS, Action, register_action
from .compiler import RAW, Step
from .params import (
    BRANCH, CLI, KEYS, LANGUAGE, PHONE, URL_TYPE, VOICE, Boolean, Choice, Fields, Integer, ListOf, Mapping, Media,
    Param, Text, say_language,
)


def _js(value: Any) -> str:
    """JS source for a converted parameter value (a literal or an Expr)."""
    if isinstance(value, Expr):
        return js_source(value.lang, value.src)
    return json.dumps(value, ensure_ascii=False)


def _action(name: str, version: int, params: dict[str, Param] | None = None, result: str | None = None,
            events: dict[str, str] | None = None, doc: str = ""):
    def deco(fn):
        register_action(Action(name, version, fn, params or {}, result, events or {}, doc), replace=True)
        return fn

    return deco


# -- call control ----------------------------------------------------------------------------------------


@_action("answer", 1, doc="Answer the call (no-op when already answered). FOUND name.")
def answer_v1(step: Step) -> str:
    return step.single(Answer)


@_action("ringing", 1, doc="Signal ringing (180/183) without answering. FOUND name.")
def ringing_v1(step: Step) -> str:
    return step.single(Ringing)


@_action("hangup", 1, {
    "cause": Param(Integer("a Q.850 cause code", 1, 127), doc="Q.850 cause (default 16, normal clearing)"),
}, doc="Hang up the focus leg (frames focused on it end, M7). FOUND name; `cause` PROPOSED.")
def hangup_v1(step: Step) -> str:
    return step.single(Hangup, cause=step.params.get("cause"))


# -- media -----------------------------------------------------------------------------------------------

_SAY = {
    "what": Param(Text(trim=True), required=True, doc="the text to speak (FOUND)"),
    "language": Param(LANGUAGE, doc="language tag; default from the voice, then defaults.language, then en-US"),
    "voice": Param(VOICE, doc="TTS voice id, e.g. TTS_EN-GB_SERENA"),
}


def _say_fields(step: Step, params: dict) -> dict:
    voice = params.get("voice", step.defaults.voice)
    with_voice = {**params, "voice": voice} if voice is not None else params
    return {"text": params["what"], "language": say_language(with_voice, step.defaults.language), "voice": voice}


@_action("say", 2, _SAY, doc="Speak text with TTS. FOUND `what`; language rules PROPOSED.")
def say_v2(step: Step) -> str:
    return step.single(Say, **_say_fields(step, step.params))


@_action("play", 1, {
    "media": Param(Media(), required=True, doc="a media library id or an https URL"),
    "loop": Param(Integer("a repeat count", 1, 10), default=1, doc="times to play it (1..10)"),
}, doc="Play audio. FOUND name; params PROPOSED.")
def play_v1(step: Step) -> str:
    return step.single(Play, url=step.params["media"], loop=step.param("loop"))


@_action("gather", 2, {
    "maxDigits": Param(Integer("a digit count", 1, 32), required=True, doc="keys to collect at most (FOUND)"),
    "prompt": Param(Fields("a prompt {what, language, voice}", _SAY), doc="spoken before listening (FOUND what)"),
    "timeout": Param(Integer("seconds", 1, 60), default=5, doc="seconds to wait for a key (and between keys)"),
    "finishOnKey": Param(KEYS, default="#", doc="key that ends input; \"\" = none"),
    "minDigits": Param(Integer("a digit count", 1, 32), default=1, doc="fewer keys than this: ok is false"),
}, result="{ok, digits, reason: maxDigits|finishOnKey|timeout}",
    doc="Collect keys. FOUND maxDigits, prompt.what, result; the rest PROPOSED.")
def gather_v2(step: Step) -> str:
    prompt = step.params.get("prompt")
    prompts = ()
    if prompt is not None:
        if isinstance(prompt, Expr):
            prompts = (Say(text=Expr("js", f"String(({prompt.src}\n).what)")),)
        else:
            prompts = (step.compiler.build(Say, step, **_say_fields(step, prompt)),)
    finish = step.param("finishOnKey")
    minimum = step.param("minDigits")
    reshape = (f"({{ok: {RAW}.digits.length >= {_js(minimum)}, digits: {RAW}.digits, "
               f"reason: ({{max_digits: 'maxDigits', finish_key: 'finishOnKey'}})[{RAW}.reason] || {RAW}.reason}})")
    return step.single(Collect, reshape, prompts=prompts, max_digits=step.params["maxDigits"],
                       min_digits=minimum, timeout=step.param("timeout"), inter_digit_timeout=None,
                       finish_on_key=finish if finish != "" else None)


@_action("record", 1, {
    "maxDuration": Param(Integer("seconds", 1, 3600), default=120, doc="longest recording (seconds)"),
    "beep": Param(Boolean(), default=True, doc="beep before recording"),
    "finishOnKey": Param(KEYS, default="#", doc="keys that end the recording; \"\" = none"),
}, result="{ok, duration, sid, url}", doc="Record a message. FOUND name; params and result PROPOSED.")
def record_v1(step: Step) -> str:
    finish = step.param("finishOnKey")
    reshape = (f"({{ok: {RAW}.duration > 0, duration: {RAW}.duration, "
               f"sid: {RAW}.url ? {RAW}.url.split('/').pop().split('.')[0] : '', url: {RAW}.url}})")
    return step.single(Record, reshape, max_length=step.param("maxDuration"), beep=step.param("beep"),
                       finish_on_key=finish if finish != "" else None)


# -- other parties ---------------------------------------------------------------------------------------

_TARGET = {
    "number": Param(PHONE, required=True, doc="E.164 number to call"),
    "timeout": Param(Integer("seconds", 5, 300), default=30, doc="ringing timeout, 5..300 s (seed Target)"),
}
_DIAL_STATUS = "({answered: 'ANSWER', busy: 'BUSY', 'no-answer': 'NOANSWER', failed: 'CHANUNAVAIL', canceled: 'CANCEL'})"


@_action("dial", 1, {
    "targets": Param(ListOf("a list of targets {number, timeout}", Fields("a target {number, timeout}", _TARGET),
                            min_items=1, max_items=20), required=True, doc="tried in order, one at a time"),
    "answerOnBranch": Param(BRANCH, doc="branch run on the answered leg (its focus), then the dial completes"),
    "cli": Param(CLI, doc="caller id shown to the called party; default: the caller (inbound), else BLOCKED"),
}, result="{ok, status: ANSWER|BUSY|NOANSWER|CHANUNAVAIL|CANCEL, number, attempts, duration, cdr}",
    doc="Call targets in order. FOUND targets, answerOnBranch, ok, cdr; order and shapes PROPOSED.")
def dial_v1(step: Step) -> str:
    targets = step.params["targets"]
    cli = step.params.get("cli", Expr("js", "(typeof call !== 'undefined' && call.fromNumber) || 'BLOCKED'"))
    on_answer = step.params.get("answerOnBranch")
    if isinstance(targets, Expr):
        return _dial_loop(step, targets, cli, on_answer)
    count = len(targets)
    raw = step.scratch("dial") if step.result else None
    done = step.next
    for index in range(count - 1, -1, -1):
        target = targets[index]
        number, timeout = target["number"], target.get("timeout", 30)
        number_js = f"{raw}.answered_by ?? {_js(number)}" if raw else ""
        final = step.assign(f"result{index + 1}", step.result, _dial_result(raw, number_js, index + 1),
                            step.next) if raw else step.next
        answered = final
        if on_answer is not None:
            answered = step.assign(f"answered{index + 1}", step.result,
                                   _dial_result(raw, number_js, index + 1), on_answer) if raw else on_answer
        op = step.compiler.build(Dial, step, targets=(number,), timeout=timeout, caller_id=cli, result=raw,
                                 bridge=on_answer is None, on_answer=answered if on_answer is not None else None)
        retry = done if index < count - 1 else final
        edges = {"answered": final, "canceled": final, "busy": retry, "no-answer": retry, "failed": retry}
        done = step.add(f"try{index + 1}" if index else "", op, edges, label=f"dial attempt {index + 1}")
    return done


def _dial_result(raw: str, number_js: str, attempts: int | str) -> str:
    return (f"({{ok: {raw}.status === 'answered', status: {_DIAL_STATUS}[{raw}.status], number: {number_js}, "
            f"attempts: {attempts}, duration: {raw}.duration, cdr: {{direction: 'outbound', callee: {number_js}, "
            f"status: {_DIAL_STATUS}[{raw}.status], durationAnswered: Math.round({raw}.duration), "
            f"durationBilled: Math.ceil({raw}.duration), ended: now.toISOString()}}}})")


def _dial_loop(step: Step, targets: Expr, cli: Any, on_answer: str | None) -> str:
    """A `targets` list known only at run time: evaluate it once, then try one item per turn."""
    state = step.scratch("targets")
    raw = step.scratch("dial")
    item = f"{state}.list[{state}.i]"
    number = Expr("js", f"{item}.number")
    number_js = f"{raw}.answered_by ?? {state}.list[Math.min({state}.i, {state}.list.length - 1)]?.number"
    final = step.assign("result", step.result, _dial_result(raw, number_js, f"Math.min({state}.i + 1, {state}.list.length)"),
                        step.next) if step.result else step.next
    answered = None
    if on_answer is not None:
        answered = step.assign("answered", step.result, _dial_result(raw, number_js, f"{state}.i + 1"),
                               on_answer) if step.result else on_answer
    op = step.compiler.build(Dial, step, targets=(number,), timeout=Expr("js", f"{item}.timeout ?? 30"),
                             caller_id=cli, result=raw, bridge=on_answer is None, on_answer=answered)
    advance = Assign(values={state: Expr("js", f"({{list: {state}.list, i: {state}.i + 1}})")}, silent=True)
    from ...expr.conditions import Truthy
    from ...ir.model import Branch, Case

    check = Branch(cases=(Case("more", Truthy(Expr("js", f"{state}.i < {state}.list.length"))),))
    step.add("next", advance, {"ok": f"{step.id}:check"}, label="next target")
    step.add("check", check, {"match:more": f"{step.id}:try", "ok": final}, label="targets left?")
    step.add("try", op, {"answered": final, "canceled": final, "busy": f"{step.id}:next",
                         "no-answer": f"{step.id}:next", "failed": f"{step.id}:next"}, label="dial attempt")
    start = Assign(values={state: {"list": targets, "i": 0}, raw: {"status": "failed", "duration": 0}}, silent=True)
    return step.add("", start, {"ok": f"{step.id}:check"}, label="dial targets")


@_action("bridge", 1, doc="Connect the focus leg with the leg that dialled it until one hangs up "
                          "(E_NO_PARENT without one). FOUND name; semantics PROPOSED.")
def bridge_v1(step: Step) -> str:
    return step.single(Bridge)


_FEEDS = {"both": "both", "all": "both", "leg_a": "caller", "leg_b": "callee"}


@_action("startRecording", 1, {
    "transcription": Param(Fields("{language}", {"language": Param(LANGUAGE, doc="transcription language")}),
                           doc="transcribe the recording (FOUND)"),
    "feeds": Param(Choice("a feed", tuple(_FEEDS)), default="both", doc="which legs: both (default), all, leg_a, leg_b"),
}, events={"ready": "runs after the call ends (after the hangup branch) with `recording` defined"},
    doc="Record the call in the background. FOUND transcription.language, events.ready; the rest PROPOSED.")
def start_recording_v1(step: Step) -> str:
    feeds = step.param("feeds")
    legs = _FEEDS[feeds] if isinstance(feeds, str) else Expr("js", f"({json.dumps(_FEEDS)})[{_js(feeds)}]")
    transcription = step.params.get("transcription")
    language = None
    if isinstance(transcription, Expr):
        language = Expr("js", f"(({transcription.src}\n) || {{}}).language ?? null")
    elif transcription:
        language = transcription.get("language")
    return step.single(RecordStart, legs=legs, transcribe=language, on_ready=step.events.get("ready"))


# -- services --------------------------------------------------------------------------------------------

_FETCH_V1 = {
    "url": Param(URL_TYPE, required=True, doc="the URL (FOUND)"),
    "method": Param(Choice("an HTTP method", ("GET", "POST", "PUT", "PATCH", "DELETE"), fold=True), default="GET",
                    doc="HTTP method (FOUND)"),
    "headers": Param(Mapping(), doc="request headers (FOUND)"),
    "body": Param(Text(drop_newline=True), doc="request body, sent as built minus one trailing newline (FOUND)"),
}
_FETCH_V2 = {
    **_FETCH_V1,
    "timeout": Param(Integer("seconds", 1, 30), default=10, doc="seconds before giving up (FOUND; max 30)"),
    "audio": Param(Fields("{enabled}", {"enabled": Param(Boolean(), default=True, doc="hold music while waiting")}),
                   doc="hold music while waiting (accepted; not played by this engine)"),
}
_FETCH_RESULT = (f"Object.assign({{ok: {RAW}.ok, status: {RAW}.status, "
                 f"statusText: {RAW}.status ? {RAW}.status_text : (/timeout/i.test({RAW}.error || '') ? 'timeout' : 'error'), "
                 f"headers: {RAW}.headers, body: {RAW}.body}}, {RAW}.json === null ? {{}} : {{json: {RAW}.json}})")


def _fetch(step: Step) -> str:
    method = step.param("method")
    return step.single(Http, _FETCH_RESULT, url=step.params["url"], method=method,
                       headers=step.params.get("headers"), body=step.params.get("body"),
                       timeout=step.params.get("timeout", 10))


register_action(Action("fetch", 1, _fetch, _FETCH_V1, "{ok, status, statusText, headers, body, json}",
                       doc="HTTP request. FOUND params; result PROPOSED (as fetch@v2)."), replace=True)
register_action(Action("fetch", 2, _fetch, _FETCH_V2, "{ok, status, statusText, headers, body, json}",
                       doc="HTTP request; `json` when the body is JSON. FOUND params and fields."), replace=True)


@_action("sms", 1, {
    "to": Param(ListOf("a list of E.164 numbers", PHONE, min_items=1, max_items=100, single=True), required=True,
                doc="recipients (FOUND)"),
    "body": Param(Text(trim=True), required=True, doc="message text (FOUND)"),
    "from": Param(Text(), doc="sender; empty = the engine's default (FOUND)"),
}, result="{ok, sid, status}", doc="Send an SMS. FOUND params; result PROPOSED.")
def sms_v1(step: Step) -> str:
    sender = step.params.get("from") or None
    to = step.params["to"]
    return step.single(Sms, f"({{ok: {RAW}.ok, sid: {RAW}.sid, status: {RAW}.status}})",
                       to=to if isinstance(to, Expr) else tuple(to), from_=sender, body=step.params["body"])


@_action("log", 1, {"message": Param(Text(trim=True), required=True, doc="the line to log (FOUND)")},
         doc="Write a line to the call's log. FOUND.")
def log_v1(step: Step) -> str:
    return step.single(Log, message=step.params["message"])


class _Script(Text):
    """javascript@v1 `code`: statements, compiled as `js-script` (never a template)."""

    def convert(self, value: Any, path: tuple = ()) -> Any:
        if not isinstance(value, str):
            raise self.expect(value, path)
        from ...expr import ExprError
        from .params import ParamProblem

        try:
            return Expr("js-script", value)
        except ExprError as exc:
            raise ParamProblem(exc.code, exc.message, path, offset=exc.offset) from None


@_action("javascript", 1, {"code": Param(_Script("JavaScript statements"), required=True,
                                         doc="statements; assignments to $variables are kept (FOUND)")},
         doc="Run JavaScript statements that assign $variables. FOUND.")
def javascript_v1(step: Step) -> str:
    return step.single(Assign, values=step.params["code"])


BUILTIN = frozenset(ACTIONS)
"""The (name, version) keys of the built-in actions (the committed JSON Schema describes these)."""
