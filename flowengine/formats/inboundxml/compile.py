"""Compile a parsed InboundXML/TwiML document to a Flow: each verb becomes a few IR states.

Theory of operation (research digest §4):
  * Verbs run in order: each verb's states end in "exits" that lead to the next verb's first state.
    The last verb's exits lead nowhere, so the end of the document ends the flow and the engine hangs
    up (D10).
  * Hand-off verbs (Redirect, Gather with input, blocking Record, Dial/Sms with action) end in a
    `document` op in replace mode: the interpreter fetches the next document with the request
    parameters (params.py), emits the `http` event and swaps documents. When the fetch fails or the
    answer does not compile, the op's `fallback` (the call's fallback URL, `call.fallback_url`) is
    requested with the same parameters (D11); if that fails too, the call ends.
  * A call-level document (a file, or the bootstrap of a URL) also carries the end-of-call status
    callback (`hangup` handler → `call.status_callback`) and sends runtime errors to the fallback URL.
  * Answering is lazy (Flow.answer "auto": before the first media verb), plus an explicit `answer`
    before Dial (Ytel); TwiML answers before its first verb unless it is Reject or a Dial that
    answers on bridge (D13).
State ids are `<verb number>-<verb>` (then `.part` for a verb's extra states), labels `<Tag>`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

from ...diagnostics import DiagnosticBag, Span
from ...errors import FlowError, IRError
from ...expr import Expr
from ...expr.conditions import parse_cond
from ...ir.model import (
    Answer,
    Branch,
    Case,
    Collect,
    Conference,
    Dial,
    Document,
    Flow,
    Goto,
    Hangup,
    Http,
    Op,
    Play,
    Record,
    RecordStart,
    RecordStop,
    Reject,
    SendDtmf,
    Silence,
    Sms,
    Speech,
    State,
    Say,
)
from ...ir.values import FrozenDict
from . import params as P
from .grammar import GRAMMARS
from .options import Options
from .parse import Node, ParsedDocument, attr_span

FALLBACK_URL = P.var("call.fallback_url")  # the call's voiceFallbackUrl (scenario: call.fallback_url)
ENTRY = "\x00entry"  # placeholder target: the document's first state (resolved at the end)
ENDING_VERBS = frozenset({"Redirect", "Hangup", "Reject"})  # never continue, whatever happens
CONFIRM_TIMEOUT = 5.0  # seconds a group-call callee has to press groupConfirmKey (the Gather default)
HEARTBEAT_SECONDS = 60.0  # [Y] "every 60 seconds during the call"
TRANSCRIBE_LANGUAGE = "en-US"  # InboundXML's transcribe is a boolean; the language is not given

Exits = list[tuple[str, str]]  # (state id, outcome) still to be wired to what comes next


class Compiler:
    """Builds the states of one document. `call_level`: also the call-wide handlers and variables."""

    def __init__(self, parsed: ParsedDocument, url: str | None, call_level: bool):
        self.doc = parsed
        self.g = parsed.grammar
        self.opt = parsed.options
        self.bag = parsed.bag
        self.file = parsed.filename
        self.url = url
        self.base = url or self.opt.base_url or None
        self.dialect = self.opt.dialect
        self.format = self.opt.format_name()
        self.call_level = call_level
        self.states: dict[str, list] = {}  # id → [op, edges, span, label]
        self.number = 0

    # -- building blocks -----------------------------------------------------------------------------

    def add(self, sid: str, op: Op | None, span: Span, label: str | None = None,
            edges: dict[str, str] | None = None) -> str:
        self.states[sid] = [op if op is not None else Goto(), dict(edges) if edges else {}, span, label]
        return sid

    def op(self, cls: type[Op], node: Node, **fields: Any) -> Op | None:
        """Build an op; a value the IR refuses becomes a diagnostic at the element."""
        try:
            return cls(**fields)
        except IRError as exc:
            self.bag.error("E_ATTR_VALUE", f"<{node.tag}>: {exc.message}", node.span)
            return None

    def link(self, exits: Exits, target: str) -> None:
        for sid, outcome in exits:
            self.states[sid][1].setdefault(outcome, target)

    def attrs(self, node: Node) -> dict[str, Any]:
        return {**self.g.defaults(node.spec_id), **node.attrs}

    def error(self, code: str, message: str, node: Node, attr: str | None = None) -> None:
        self.bag.error(code, message, self.attr_span(node, attr) if attr else node.span)

    def attr_span(self, node: Node, attr: str) -> Span:
        return attr_span(self.doc.source, self.file, node, attr) if attr in node.written else node.span

    def resolve_url(self, node: Node, value: str | None, attr: str | None, *, media: bool = False) -> str | None:
        """An absolute URL: relative ones are resolved against the document's URL (or base_url)."""
        if not value:
            return None
        # urlsplit does not take tone_stream as a scheme (an underscore is not allowed in one)
        try:
            scheme = "tone_stream" if value.lower().startswith("tone_stream://") else _scheme(value)
        except ValueError as exc:  # e.g. a bracketed host that is not an IPv6 address
            self.error("E_URL", f"<{node.tag}>: {value!r} is not a valid URL ({exc})", node, attr)
            return None
        if scheme in ("http", "https") or (media and scheme == "tone_stream"):
            absolute = value
        elif scheme:
            allowed = "http(s) or tone_stream" if media else "http(s)"
            self.error("E_URL", f"<{node.tag}>: {value!r} is not an {allowed} URL", node, attr)
            return None
        elif self.base:
            absolute = urljoin(self.base, value)
        else:
            self.error("E_URL", f"<{node.tag}>: relative URL {value!r} needs a document URL; write an absolute "
                       "http(s) URL or set the base_url option", node, attr)
            return None
        if "?" in absolute and not media:
            # [Y]: ' " & # { } < > ? are stripped from query strings by the platform; accepted, with a warning
            self.bag.warning("W_URL_QUERY", f"<{node.tag}>: Ytel strips query strings from URLs; this engine "
                             "keeps them", self.attr_span(node, attr) if attr else node.span)
        return absolute


    # -- hand-offs and callbacks -----------------------------------------------------------------------

    def handoff(self, prefix: str, node: Node, url: str | None, method: str, extra: dict[str, Any]) -> str:
        """The state fetching the next document (the call's fallback URL if that fails); its id.

        `url` None means the current document: its URL, or (a file has none) its first verb again,
        which is what fetching an unchanged document again would do."""
        if url is None:
            if self.url is None:
                return ENTRY
            url = self.url
        fetch = self.op(Document, node, url=url, method=method, params=P.with_params(self.dialect, extra),
                        format=self.format, fallback=FALLBACK_URL)
        return self.add(f"{prefix}.fetch", fetch, node.span, f"<{node.tag}> {url}")

    def notify(self, sid: str, node: Node, url: str | None, method: str, extra: dict[str, Any],
               label: str) -> str | None:
        """A request whose answer is not used (callbacks, Ping): both outcomes go on."""
        if url is None:
            return None
        op = self.op(Http, node, url=url, method=method, params=P.with_params(self.dialect, extra))
        return self.add(sid, op, node.span, label)

    def chain(self, sids: list[str | None], node: Node) -> tuple[str | None, Exits]:
        """Wire states one after another (ok and error alike); returns the first and the exits."""
        present = [s for s in sids if s is not None]
        if not present:
            return None, []
        for a, b in zip(present, present[1:]):
            for outcome in self._goes_on(a):
                self.states[a][1].setdefault(outcome, b)
        last = present[-1]
        if last == ENTRY:
            return present[0], []
        return present[0], [(last, o) for o in self._goes_on(last)]

    def _goes_on(self, sid: str) -> list[str]:
        """The outcomes after which a sequence goes on: every outcome of a request, a message or a
        dial (whatever happened), the matches of a confirmation, else `ok`."""
        op = self.states[sid][0]
        if op.kind in ("http", "sms", "dial"):
            return sorted(op.outcomes())
        if op.kind == "collect" and op.choices:
            return [f"match:{c}" for c in op.choices]
        return ["ok"]

    # -- the document ----------------------------------------------------------------------------------

    def compile(self) -> Flow:
        root = self.doc.root
        assert root is not None
        verbs = root.children
        first: str | None = None
        exits: Exits = []
        ended_by: Node | None = None
        if self.g.ANSWER_FIRST and verbs and not _no_answer_first(verbs[0]):
            first = self.add("answer", Answer(), verbs[0].span, "answer (TwiML answers before the first verb)")
            exits = [(first, "ok")]
        warned = False
        for node in verbs:
            if ended_by is not None and not warned:
                how = "ends the document" if ended_by.tag in ENDING_VERBS else "always hands the call on"
                self.bag.warning("W_UNREACHABLE", f"<{node.tag}> is never reached: <{ended_by.tag}> on line "
                                 f"{ended_by.span.line} {how}", node.span)
                warned = True
            self.number += 1
            entry, verb_exits = getattr(self, f"verb_{node.spec_id}")(node, f"{self.number}-{node.tag.lower()}")
            if entry is None:
                continue
            if first is None:
                first = entry
            self.link(exits, entry)
            exits = verb_exits
            if not verb_exits and ended_by is None:  # Redirect, Hangup, Reject, or an action taken whatever happens
                ended_by = node
        if first is None:
            first = self.add("end", Goto(), root.span, "empty document: the call ends")
        return self.finish(first, root.span)

    def finish(self, first: str, span: Span) -> Flow:
        """The Flow (FlowError when anything was wrong); warnings travel in `meta.warnings`."""
        _in_source_order(self.bag)
        self.bag.raise_if_errors()
        variables: dict[str, Any] = {}
        handlers: dict[str, str] = {}
        if self.call_level:
            variables, handlers = self.call_states(span)
        states = {}
        for sid, (op, edges, state_span, label) in self.states.items():
            if ENTRY in edges.values():
                edges = {k: (first if v == ENTRY else v) for k, v in edges.items()}
            states[sid] = State(sid, op, FrozenDict(edges), state_span, label)
        warnings = [d.to_json() for d in self.bag.items if not d.is_error]
        return Flow(name=_flow_name(self.url or self.file), states=FrozenDict(states), entry=FrozenDict({"*": first}),
                    variables=variables, handlers=handlers, dialect=self.dialect, source=self.url or self.file,
                    meta={"warnings": warnings} if warnings else {})

    def call_states(self, span: Span) -> tuple[dict[str, Any], dict[str, str]]:
        """The call-wide parts: lookup variables, the status callback and the error fallback."""
        self.add("status", _is_set("call.status_callback"), span, "statusCallback?",
                 {"match:yes": "status-request"})
        self.add("status-request", Http(url=P.var("call.status_callback"), method="POST",
                                        params=P.status_callback(self.dialect)), span, "statusCallback")
        self.add("error-fallback", _is_set("call.fallback_url"), span, "fallbackUrl?",
                 {"match:yes": "error-fallback-fetch"})
        self.add("error-fallback-fetch", Document(url=FALLBACK_URL, method="POST",
                                                  params=P.defaults(self.dialect), format=self.format), span,
                 "fallbackUrl")
        variables = {name: "" for name in P.LOOKUP_VARIABLES}
        variables["AccountSid"] = self.opt.account_sid
        return variables, {"hangup": "status", "error": "error-fallback"}

    # -- verbs: each returns (first state id, exits) ------------------------------------------------------

    def verb_Say(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        op = self.say(node)
        return (self.add(sid, op, node.span, "<Say>"), [(sid, "ok")]) if op else (None, [])

    def say(self, node: Node) -> Op | None:
        a = self.attrs(node)
        if node.ssml and not self.g.SSML_ALWAYS and a.get("type") != "ssml":
            self.error("E_SSML", '<Say> holds SSML elements only with type="ssml"', node)
            return None
        if not node.text:
            self.error("E_CONTENT", "<Say> needs text to speak", node)
            return None
        return self.op(Say, node, text=node.text, voice=a.get("voice"), language=a.get("language"),
                       ssml=node.ssml or a.get("type") == "ssml", loop=a["loop"])

    def verb_Play(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        if a.get("digits"):
            if node.text:
                self.error("E_CONTENT", "<Play> takes either a URL or digits, not both", node)
                return None, []
            op = self.op(SendDtmf, node, digits=a["digits"])
            return (self.add(sid, op, node.span, "<Play digits>"), [(sid, "ok")]) if op else (None, [])
        op = self.play(node)
        return (self.add(sid, op, node.span, "<Play>"), [(sid, "ok")]) if op else (None, [])

    def play(self, node: Node) -> Op | None:
        a = self.attrs(node)
        if a.get("method", "GET") != "GET":
            self.error("E_UNSUPPORTED", "<Play> method: media is fetched with GET only", node, "method")
            return None
        if a.get("digits"):
            self.error("E_CONTENT", "<Play digits> sends tones; it cannot be a prompt inside <Gather>", node)
            return None
        if not node.text:
            self.error("E_CONTENT", "<Play> needs the URL of the audio to play", node)
            return None
        url = self.resolve_url(node, node.text, None, media=True)
        return self.op(Play, node, url=url, loop=a["loop"]) if url else None

    def verb_Pause(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        op = self.pause(node)
        return (self.add(sid, op, node.span, "<Pause>"), [(sid, "ok")]) if op else (None, [])

    def pause(self, node: Node) -> Op | None:
        length = self.attrs(node)["length"]
        seconds = length / 1000 if self.opt.pause_unit == "ms" else float(length)
        if seconds > 86400:
            self.error("E_ATTR_VALUE", f"<Pause length>: {length} {self.opt.pause_unit} is longer than a day",
                       node, "length")
            return None
        return self.op(Silence, node, seconds=seconds)

    def verb_PlayLastRecording(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        self.add(sid, _is_set("_recording.url"), node.span, "<PlayLastRecording>",
                 {"match:yes": f"{sid}.play"})
        self.add(f"{sid}.play", Play(url=P.var("_recording.url")), node.span, "<PlayLastRecording>")
        return sid, [(sid, "ok"), (f"{sid}.play", "ok")]

    def verb_Answer(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        return self.add(sid, Answer(), node.span, "<Answer>"), [(sid, "ok")]

    def verb_Hangup(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        reason = self.attrs(node).get("reason")
        self.add(sid, Hangup(cause=reason), node.span, "<Hangup>")
        return sid, []

    def verb_Reject(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        self.add(sid, Reject(reason=self.attrs(node)["reason"]), node.span, "<Reject>")
        return sid, []

    def verb_Redirect(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        if not node.text:
            self.error("E_CONTENT", "<Redirect> needs the URL of the next document", node)
            return None, []
        url = self.resolve_url(node, node.text, None)
        if url is None:
            return None, []
        first = self.handoff(sid, node, url, a["method"], P.redirect(self.url))
        return first, []

    def verb_Ping(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        if not node.text:
            self.error("E_CONTENT", "<Ping> needs a URL", node)
            return None, []
        url = self.resolve_url(node, node.text, None)
        first = self.notify(sid, node, url, self.attrs(node)["method"], {}, "<Ping>")
        return (first, [(sid, "ok"), (sid, "error")]) if first else (None, [])

    # -- input -------------------------------------------------------------------------------------------

    def prompts(self, node: Node) -> tuple[list[Op], bool] | None:
        """The nested prompt ops, and whether one is PlayLastRecording (None after an error)."""
        ops: list[Op] = []
        last_recording = False
        ok = True
        for child in node.children:
            if child.spec_id == "Say":
                op = self.say(child)
            elif child.spec_id == "Play":
                op = self.play(child)
            elif child.spec_id == "Pause":
                op = self.pause(child)
            elif child.spec_id == "PlayLastRecording":
                op, last_recording = Play(url=P.var("_recording.url")), True
            else:  # the XSD reported it
                op = None
            ok = ok and op is not None
            if op is not None:
                ops.append(op)
        return (ops, last_recording) if ok else None

    def input_states(self, node: Node, sid: str, make: Callable[[tuple[Op, ...]], Op | None],
                     prompts: list[Op], last_recording: bool) -> tuple[str | None, list[str]]:
        """The input state (two behind a branch when a prompt is PlayLastRecording, since there may be
        no recording to play). Returns the first id and the input states to wire."""
        if not last_recording:
            op = make(tuple(prompts))
            return (self.add(sid, op, node.span, f"<{node.tag}>"), [sid]) if op else (None, [])
        with_rec = make(tuple(prompts))
        without = make(tuple(p for p in prompts if not (p.kind == "play" and isinstance(p.url, Expr)
                                                         and p.url.src == "_recording.url")))
        if with_rec is None or without is None:
            return None, []
        self.add(sid, _is_set("_recording.url"), node.span, f"<{node.tag}>",
                 {"match:yes": f"{sid}.with-recording", "ok": f"{sid}.input"})
        self.add(f"{sid}.with-recording", with_rec, node.span, f"<{node.tag}>")
        self.add(f"{sid}.input", without, node.span, f"<{node.tag}>")
        return sid, [f"{sid}.with-recording", f"{sid}.input"]

    def verb_Gather(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        nested = self.prompts(node)
        if nested is None:
            return None, []
        prompts, last_recording = nested
        mode = a["input"]
        dtmf, speech = "dtmf" in mode, "speech" in mode
        result = f"_gather{self.number}"
        finish = a["finishOnKey"]
        if speech:
            timeout = a.get("speechTimeout")
            if timeout not in (None, "auto"):
                self.error("E_UNSUPPORTED", "<Gather speechTimeout>: the speech primitive decides when speech "
                           'ends; use speechTimeout="auto"', node, "speechTimeout")
                return None, []
            if a.get("bargeIn") is False:
                self.error("E_UNSUPPORTED", "<Gather bargeIn>: speech input always lets the caller interrupt",
                           node, "bargeIn")
                return None, []
            hints = tuple(h.strip() for h in a.get("hints", "").split(",") if h.strip())

            def make(p: tuple[Op, ...]) -> Op | None:
                return self.op(Speech, node, prompts=p, hints=hints, language=a.get("language"),
                               timeout=float(a["timeout"]), dtmf=dtmf, max_digits=a["numDigits"],
                               finish_on_key=finish or None, result=result)
        else:
            for name in ("hints", "language"):
                if name in node.attrs:
                    self.bag.warning("W_IGNORED", f"<Gather {name}> applies to speech input only; it is ignored",
                                     self.attr_span(node, name))

            def make(p: tuple[Op, ...]) -> Op | None:
                return self.op(Collect, node, prompts=p, max_digits=a["numDigits"], min_digits=1,
                               timeout=float(a["timeout"]), finish_on_key=finish, barge_in=a.get("bargeIn", True),
                               result=result)

        first, inputs = self.input_states(node, sid, make, prompts, last_recording)
        if first is None:
            return None, []
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        if "action" in a and action is None:
            return None, []
        fetch = self.handoff(sid, node, action, a["method"], P.gather(result, dtmf, speech))
        on_empty = a.get("actionOnEmptyResult", self.opt.action_on_empty_result)
        exits: Exits = []
        for input_sid in inputs:
            self.states[input_sid][1]["ok"] = fetch
            for outcome in ("timeout", "invalid") if not speech else ("timeout",):
                if on_empty:
                    self.states[input_sid][1][outcome] = fetch
                else:
                    exits.append((input_sid, outcome))  # D1: no input falls through to the next verb
        return first, exits

    def verb_GetSpeech(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        nested = self.prompts(node)
        grammar = self.resolve_url(node, a.get("grammar"), "grammar")
        if nested is None or grammar is None:
            return None, []
        prompts, last_recording = nested
        result = f"_speech{self.number}"

        def make(p: tuple[Op, ...]) -> Op | None:
            return self.op(Speech, node, prompts=p, timeout=float(a["timeout"]), grammar=grammar,
                           beep=a["playBeep"], result=result)

        first, inputs = self.input_states(node, sid, make, prompts, last_recording)
        if first is None:
            return None, []
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        fetch = self.handoff(sid, node, action, a["method"], P.gather(result, dtmf=False, speech=True))
        exits: Exits = []
        for input_sid in inputs:
            self.states[input_sid][1]["ok"] = fetch
            exits.append((input_sid, "timeout"))
        return first, exits

    # -- recording -------------------------------------------------------------------------------------------

    def verb_Record(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        if a.get("transcribeQuality", "auto") != "auto":
            self.error("E_UNSUPPORTED", f"<Record transcribeQuality>: only auto is supported, not "
                       f"{a['transcribeQuality']!r}", node, "transcribeQuality")
            return None, []
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        if "action" in a and action is None:
            return None, []
        trim = a.get("trimSilence", a.get("trim") == "trim-silence")
        legs = {"in": "caller", "out": "callee"}.get(a.get("direction", "both"), "both")
        if a.get("bothLegs"):
            legs = "both"
        background = a.get("background", self.opt.record_background)
        if background:
            return self.background_record(node, sid, a, action, legs, trim)
        if legs == "callee":
            self.error("E_UNSUPPORTED", '<Record direction="out">: a blocking recording records the caller; '
                       'use background="true"', node, "direction")
            return None, []
        transcribe_url = self.resolve_url(node, a.get("transcribeCallback"), "transcribeCallback")
        transcribe = TRANSCRIBE_LANGUAGE if (a.get("transcribe") or transcribe_url) else None
        op = self.op(Record, node, max_length=float(a["maxLength"]), finish_on_key=a["finishOnKey"] or None,
                     beep=a["playBeep"], silence_timeout=float(a["timeout"]), format=a.get("fileFormat"),
                     trim_silence=trim, transcribe=transcribe, result="_recording")
        if op is None:
            return None, []
        self.add(sid, op, node.span, "<Record>")
        status_url = self.resolve_url(node, a.get("recordingStatusCallback"), "recordingStatusCallback")
        after = [
            self.notify(f"{sid}.transcription", node, transcribe_url, "POST", P.transcription("_recording"),
                        "transcribeCallback"),
            self.notify(f"{sid}.status", node, status_url, a.get("recordingStatusCallbackMethod", "POST"),
                        {**P.recording_notice("_recording"), "RecordingStatus": "completed"},
                        "recordingStatusCallback"),
            self.handoff(sid, node, action, a["method"], P.record("_recording")),
        ]
        first, _ = self.chain(after, node)
        self.states[sid][1]["ok"] = first
        return sid, [(sid, "timeout")]  # [R]: an empty recording requests nothing and goes on

    def background_record(self, node: Node, sid: str, a: dict, action: str | None, legs: str,
                          trim: bool) -> tuple[str | None, Exits]:
        for name in ("timeout", "finishOnKey", "playBeep"):
            if name in node.attrs:  # [Y]: "have no effect when background is set to true"
                self.bag.warning("W_IGNORED", f"<Record {name}> has no effect on a background recording",
                                 self.attr_span(node, name))
        if a.get("transcribe") or a.get("transcribeCallback"):
            self.error("E_UNSUPPORTED", "<Record>: transcription of a background recording is not supported",
                       node, "transcribe" if "transcribe" in node.attrs else "transcribeCallback")
            return None, []
        notice = action or self.url  # D3: the action defaults to the current document
        ready = None
        if notice:
            ready = self.notify(f"{sid}.ready", node, notice, a["method"], P.recording_notice("recording"),
                                "<Record> finished (background)")
        # the file format only when written: a background recording otherwise uses the backend's own
        op = self.op(RecordStart, node, legs=legs, max_length=float(a["maxLength"]), format=node.attrs.get("fileFormat"),
                     trim_silence=trim, on_ready=ready, result="_recording")
        return (self.add(sid, op, node.span, "<Record background>"), [(sid, "ok")]) if op else (None, [])

    # -- messages ----------------------------------------------------------------------------------------------

    def verb_Sms(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        return self.message(node, sid, media=())

    def verb_Mms(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        media = self.resolve_url(node, self.attrs(node).get("mediaUrl"), "mediaUrl", media=True)
        return self.message(node, sid, media=(media,)) if media else (None, [])

    def message(self, node: Node, sid: str, media: tuple[str, ...]) -> tuple[str | None, Exits]:
        a = self.attrs(node)
        if not node.text and not media:
            self.error("E_CONTENT", f"<{node.tag}> needs the message text", node)
            return None, []
        if len(node.text) > 160:
            self.bag.warning("W_SMS_LENGTH", f"<{node.tag}>: {len(node.text)} characters; TelAPI documents 160 "
                             "at most (longer messages are split by carriers)", node.span)
        result = f"_sms{self.number}"
        op = self.op(Sms, node, to=a.get("to") or P.var("call.from"), from_=a.get("from") or P.var("call.to"),
                     body=node.text, media=media, result=result)
        if op is None:
            return None, []
        self.add(sid, op, node.span, f"<{node.tag}>")
        status_url = self.resolve_url(node, a.get("statusCallback"), "statusCallback")
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        status = self.notify(f"{sid}.status", node, status_url, a.get("statusCallbackMethod", "POST"),
                             P.sms(result), "statusCallback")
        fetch = self.handoff(sid, node, action, a["method"], P.sms(result)) if action else None
        first, exits = self.chain([sid, status, fetch], node)
        return first, ([] if fetch else exits)

    # -- dialling ---------------------------------------------------------------------------------------------

    def verb_Dial(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        if self.opt.whisper:
            self.error("E_WHISPER_DIAL", "<Dial> is not allowed in a whisper document (a <Number url>): it runs "
                       "on the called party before the parties are connected", node)
            return None, []
        a = self.attrs(node)
        conferences = [c for c in node.children if c.spec_id == "DialConference"]
        if conferences:
            if len(node.children) > 1 or node.text:
                self.error("E_CONTENT", "<Dial> with a <Conference> cannot dial anything else", node)
                return None, []
            return self.dial_conference(node, conferences[0], sid, a)
        targets = self.targets(node)
        if targets is None:
            return None, []
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        if "action" in a and action is None:
            return None, []
        n = self.number
        result = f"_dial{n}"
        record = a.get("record") not in (None, False, "false", "do-not-record")
        recording = f"_dialrecording{n}" if record else None
        confirm = f"_confirm{n}" if a.get("groupConfirmKey") else None
        on_answer = self.on_answer(node, sid, a, targets, result, recording, confirm)
        if on_answer is False:
            return None, []
        digits = {t[1].get("sendDigits", a.get("sendDigits")) for t in targets}
        send_digits = digits.pop() if len(digits) == 1 else None  # else per_target sends them
        heartbeat = None
        if a.get("heartbeatUrl"):
            url = self.resolve_url(node, a["heartbeatUrl"], "heartbeatUrl")
            if url is None:
                return None, []
            heartbeat = {"url": url, "method": a["heartbeatMethod"], "params": P.defaults(self.dialect),
                         "interval": HEARTBEAT_SECONDS}
        ringback = self.resolve_url(node, a.get("dialMusic"), "dialMusic", media=True)
        op = self.op(Dial, node, targets=tuple(t[0] for t in targets), timeout=float(a["timeout"]),
                     caller_id="anonymous" if a.get("hideCallerId") else a.get("callerId"),
                     caller_name=a.get("callerName"),
                     time_limit=float(a["timeLimit"]), on_answer=on_answer, send_digits=send_digits,
                     ringback=ringback, heartbeat=heartbeat, hangup_key="*" if a.get("hangupOnStar") else None,
                     detect_machine=bool(a.get("ifMachine")), result=result)
        if op is None:
            return None, []
        states: list[str | None] = []
        if not self.g.ANSWER_FIRST:
            states.append(self.add(f"{sid}.answer", Answer(), node.span, "answer before <Dial>"))
        if record and str(a["record"]).startswith("record-from-ringing"):
            states.append(self.recording(f"{sid}.record", node, a, recording))
        self.add(sid, op, node.span, "<Dial>")
        states.append(sid)
        first, _ = self.chain(states, node)
        outcomes = sorted(op.outcomes())
        if action is None:
            return first, [(sid, o) for o in outcomes]
        fetch = self.handoff(sid, node, action, a["method"],
                             P.dial(result, (confirm, a["groupConfirmKey"]) if confirm else None, recording,
                                    machine=bool(a.get("ifMachine"))))
        for outcome in outcomes:
            self.states[sid][1][outcome] = fetch
        return first, []

    def targets(self, node: Node) -> list[tuple[str, dict[str, Any], Node]] | None:
        """(target, noun attributes, node) for each destination; None after an error."""
        if node.children and node.text:
            self.error("E_CONTENT", "<Dial> holds either a number or nouns (<Number>, <Sip>, …), not both", node)
            return None
        out = []
        if not node.children:
            numbers = [n.strip() for n in node.text.split(",")]
            if not node.text or not all(numbers):
                self.error("E_CONTENT", "<Dial> needs a number (or a comma-separated group of numbers)", node)
                return None
            if len(numbers) > self.g.MAX_GROUP:
                self.error("E_CONTENT", f"<Dial> group of {len(numbers)} numbers; at most {self.g.MAX_GROUP} ring "
                           "together", node)
                return None
            for number in numbers:
                target = self.number_text(node, number)
                if target is None:
                    return None
                out.append((target, {}, node))
            return out
        for child in node.children:
            text = child.text
            if not text:
                self.error("E_CONTENT", f"<{child.tag}> needs a destination", child)
                return None
            if child.tag == "Number":
                target = self.number_text(child, text)
            elif child.tag == "Sip":
                target = text if text.lower().startswith(("sip:", "sips:")) else None
                if target is None:
                    self.error("E_CONTENT", f"<Sip> needs a sip: URI, got {text!r}", child)
            else:  # User (Ytel), Client (Twilio)
                target = f"{child.tag.lower()}:{text}" if re.fullmatch(r"[\w.@+-]{1,128}", text) else None
                if target is None:
                    self.error("E_CONTENT", f"<{child.tag}> needs an identity (letters, digits, . @ + - _)", child)
            if target is None:
                return None
            out.append((target, self.attrs(child), child))
        return out

    def number_text(self, node: Node, text: str) -> str | None:
        if text.lower().startswith(("sip:", "sips:")):
            return text
        number = re.sub(r"[\s().-]", "", text)
        if not re.fullmatch(r"\+?[0-9*#]{2,20}", number):
            self.error("E_CONTENT", f"<{node.tag}>: {text!r} is not a phone number", node)
            return None
        return number

    def recording(self, sid: str, node: Node, a: dict, result: str | None) -> str:
        """A background recording of the call (Dial/Conference record=…), notified when it ends."""
        url_attr = next((k for k in ("recordCallbackUrl", "recordingStatusCallback") if a.get(k)), None)
        url = self.resolve_url(node, a.get(url_attr), url_attr) if url_attr else None
        method = a.get("recordCallbackMethod") or a.get("recordingStatusCallbackMethod") or "POST"
        ready = self.notify(f"{sid}.ready", node, url, method, P.recording_notice("recording"),
                            f"<{node.tag}> recording finished")
        fmt = a.get("recordFormat") or a.get("recordFileFormat")
        trim = a.get("trim") == "trim-silence"
        legs = {"in": "caller", "out": "callee"}.get(a.get("recordDirection", "both"), "both")
        op = RecordStart(legs=legs, format=fmt, trim_silence=trim, on_ready=ready, result=result)
        return self.add(sid, op, node.span, f"<{node.tag} record>")

    def on_answer(self, node: Node, sid: str, a: dict, targets: list, result: str, recording: str | None,
                  confirm: str | None) -> str | None | bool:
        """The subroutine run on the answered leg before the bridge (False after an error)."""
        prefix = f"{sid}.answered"
        steps: list[str | None] = []
        if a.get("ifMachine"):
            machine = self.if_machine(node, prefix, a)
            if machine is False:
                return False
            steps.append(machine)
        if recording and not str(a["record"]).startswith("record-from-ringing"):
            steps.append(self.recording(f"{prefix}.record", node, a, recording))
        if a.get("callbackUrl"):
            url = self.resolve_url(node, a["callbackUrl"], "callbackUrl")
            if url is None:
                return False
            steps.append(self.notify(f"{prefix}.callback", node, url, a["callbackMethod"],
                                     {"DialCallSid": P.dial(result)["DialCallSid"]}, "callbackUrl"))
        if confirm:
            steps.append(self.group_confirm(node, prefix, a, confirm))
        elif a.get("groupConfirmFile"):
            self.error("E_MISSING_ATTR", "<Dial groupConfirmFile> needs groupConfirmKey", node, "groupConfirmFile")
            return False
        per_target = self.per_target(node, prefix, targets, result, a.get("sendDigits"))
        if per_target is False:
            return False
        steps.append(per_target)
        first, _ = self.chain(steps, node)
        return first

    def if_machine(self, node: Node, prefix: str, a: dict) -> str | None | bool:
        """ifMachine: continue (bridge anyway), hangup (end the answered leg) or redirect (run
        ifMachineUrl's document on the answered leg, then end it)."""
        mode = a["ifMachine"]
        if mode == "continue":
            return None  # bridge anyway; the action still learns AnsweredBy
        sid = f"{prefix}.machine"
        self.add(sid, _is_set(f"_dial{self.number}.machine"), node.span, "answered by a machine?")
        hangup = self.add(f"{sid}.hangup", Hangup(), node.span, "ifMachine: hang up the called party")
        target = hangup
        if mode == "redirect":
            url = self.resolve_url(node, a.get("ifMachineUrl"), "ifMachineUrl")
            if url is None:
                self.error("E_MISSING_ATTR", '<Dial ifMachine="redirect"> needs ifMachineUrl', node, "ifMachine")
                return False
            target = self.add(f"{sid}.redirect", Document(url=url, method=a["ifMachineMethod"], mode="call",
                                                          params=P.defaults(self.dialect), format=self.format),
                              node.span, "ifMachineUrl", {"ok": hangup, "error": hangup})
        self.states[sid][1]["match:yes"] = target
        return sid

    def group_confirm(self, node: Node, prefix: str, a: dict, confirm: str) -> str:
        """groupConfirmKey/File [Y]: the answering party hears the file and must press the key."""
        prompts: tuple[Op, ...] = ()
        if a.get("groupConfirmFile"):
            url = self.resolve_url(node, a["groupConfirmFile"], "groupConfirmFile", media=True)
            prompts = (Play(url=url),) if url else ()
        key = a["groupConfirmKey"]
        sid = f"{prefix}.confirm"
        self.add(sid, Collect(prompts=prompts, max_digits=1, timeout=CONFIRM_TIMEOUT, finish_on_key="",
                              choices=(key,), result=confirm), node.span, "groupConfirmKey",
                 {"timeout": f"{sid}.refused", "invalid": f"{sid}.refused"})
        self.add(f"{sid}.refused", Hangup(), node.span, "not confirmed: hang up the called party")
        return sid

    def per_target(self, node: Node, prefix: str, targets: list, result: str,
                   default_digits: str | None) -> str | None | bool:
        """Per-noun settings applied to whichever destination answered: sendDigits (when they differ)
        and the whisper document (`url`) run on the called party before the bridge."""
        digits = {t[1].get("sendDigits", default_digits) for t in targets}
        per_digits = len(digits) > 1
        branches = []
        for index, (target, attrs, child) in enumerate(targets, 1):
            steps: list[str | None] = []
            send = attrs.get("sendDigits", default_digits)
            if per_digits and send:
                steps.append(self.add(f"{prefix}.{index}.digits", SendDtmf(digits=send), child.span,
                                      f"<{child.tag} sendDigits>"))
            if attrs.get("url"):
                url = self.resolve_url(child, attrs["url"], "url")
                if url is None:
                    return False
                steps.append(self.add(f"{prefix}.{index}.whisper", Document(
                    url=url, method=attrs.get("method", "POST"), mode="call", params=P.defaults(self.dialect),
                    format=replace(self.opt, whisper=True).format_name()), child.span, f"<{child.tag} url>"))
            first, _ = self.chain(steps, child)
            if first is not None:
                branches.append((target, first))
        if not branches:
            return None
        if len(targets) == 1:
            return branches[0][1]
        sid = f"{prefix}.which"
        cases = tuple(Case(str(i), parse_cond({"eq": [{"$expr": "var", "src": f"{result}.answered_by"}, target]}))
                      for i, (target, _) in enumerate(branches, 1))
        self.add(sid, Branch(cases=cases), node.span, "which destination answered?",
                 {f"match:{i}": first for i, (_, first) in enumerate(branches, 1)})
        return sid

    def dial_conference(self, node: Node, conf: Node, sid: str, a: dict) -> tuple[str | None, Exits]:
        c = self.attrs(conf)
        if not conf.text:
            self.error("E_CONTENT", "<Conference> needs the room name", conf)
            return None, []
        beep = c["beep"]
        if beep in ("onEnter", "onExit"):
            self.error("E_UNSUPPORTED", f'<Conference beep="{beep}">: the conference beeps on both or neither',
                       conf, "beep")
            return None, []
        action = self.resolve_url(node, a.get("action"), "action") if "action" in a else None
        record = c.get("record") not in (None, False, "do-not-record")
        recording = f"_confrecording{self.number}" if record else None
        callback = self.resolve_url(conf, c.get("callbackUrl"), "callbackUrl")
        op = self.op(Conference, conf, room=conf.text, muted=c["muted"], beep=beep in (True, "true"),
                     start_on_enter=c["startConferenceOnEnter"], end_on_exit=c["endConferenceOnExit"],
                     max_participants=c.get("maxParticipants"))
        if op is None:
            return None, []
        steps = [
            self.notify(f"{sid}.callback", conf, callback, c.get("callbackMethod", "POST"), {}, "callbackUrl"),
            self.recording(f"{sid}.record", conf, c, recording) if record else None,
            self.add(sid, op, conf.span, "<Dial><Conference>"),
            self.add(f"{sid}.record-stop", RecordStop(), conf.span, "stop the conference recording") if record else None,
            self.handoff(sid, node, action, a["method"], P.conference()) if action else None,
        ]
        first, exits = self.chain(steps, node)
        return first, ([] if action else exits)

    def verb_ResponseConference(self, node: Node, sid: str) -> tuple[str | None, Exits]:
        """Ytel's conference verb: dial each Participant into the room, then join the caller."""
        a = self.attrs(node)
        room = a.get("name") or a.get("conferenceId")
        if not room:
            self.error("E_MISSING_ATTR", "<Conference> needs a name (or conferenceId)", node)
            return None, []
        steps: list[str | None] = [self.add(f"{sid}.answer", Answer(), node.span, "answer before <Conference>")]
        callback = self.resolve_url(node, a.get("callbackUrl"), "callbackUrl")
        steps.append(self.notify(f"{sid}.callback", node, callback, a["callbackMethod"], {}, "callbackUrl"))
        for index, participant in enumerate(node.children, 1):
            number = self.number_text(participant, participant.text) if participant.text else None
            if number is None:
                if not participant.text:
                    self.error("E_CONTENT", "<Participant> needs a phone number", participant)
                return None, []
            p = self.attrs(participant)
            join = self.add(f"{sid}.p{index}.join", Conference(room=room, muted=p["muted"], deaf=p["deaf"], wait=False),
                            participant.span, "<Participant> joins")
            steps.append(self.add(f"{sid}.p{index}", Dial(targets=(number,), bridge=False, on_answer=join,
                                                          caller_id=P.var("call.to"),
                                                          result=f"_conference{self.number}p{index}"),
                                  participant.span, "<Participant>"))
        record = bool(a.get("record"))
        if record:
            steps.append(self.recording(f"{sid}.record", node, a, f"_confrecording{self.number}"))
        op = self.op(Conference, node, room=room, muted=a["muted"], deaf=a["deaf"],
                     max_participants=a.get("maxParticipants"))
        if op is None:
            return None, []
        steps.append(self.add(sid, op, node.span, "<Conference>"))
        if record:
            steps.append(self.add(f"{sid}.record-stop", RecordStop(), node.span, "stop the conference recording"))
        return self.chain(steps, node)


@lru_cache(maxsize=256)
def _is_set(path: str) -> Branch:
    """A branch taking `match:yes` when the value at `path` is set (truthy); ops are immutable, so
    one is shared by every state that asks the same question."""
    return Branch(cases=(Case("yes", parse_cond(P.var(path))),))


def _no_answer_first(node: Node) -> bool:
    """TwiML answers before the first verb unless it refuses the call or bridges before answering."""
    return node.tag == "Reject" or (node.tag == "Dial" and bool(node.attrs.get("answerOnBridge")))


def _flow_name(source: str) -> str:
    path = urlsplit(source).path if "://" in source else source
    name = path.rstrip("/").rsplit("/", 1)[-1] or "document"
    for suffix in (".twiml.xml", ".xml", ".twiml"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "document"
    return name


def _in_source_order(bag: DiagnosticBag) -> None:
    bag.items.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))


def compile_parsed(parsed: ParsedDocument, url: str | None, call_level: bool) -> Flow:
    """The Flow of a parsed document; FlowError with every diagnostic when it has errors."""
    if parsed.root is None:
        _in_source_order(parsed.bag)
        raise FlowError(parsed.bag.items)
    return Compiler(parsed, url, call_level).compile()


def bootstrap_flow(url: str, options: Options) -> Flow:
    """A call-level flow whose first state fetches `url` like a live call: with the scenario's (or the
    switch's) `call.method`, POST by default, and the dialect's first-request parameters."""
    grammar = GRAMMARS[options.dialect]
    compiler = Compiler(ParsedDocument(None, grammar, options, DiagnosticBag(), "", url), None, True)
    span = Span(url, 1, 1)
    request = P.first_request(options.dialect)
    method = P.expr("calc", 'call.method if call.method else "POST"')
    compiler.add("fetch", Document(url=url, method=method, params=request, format=compiler.format,
                                   fallback=FALLBACK_URL), span, f"fetch {url}")
    compiler.url = url
    return compiler.finish("fetch", span)


def _scheme(url: str) -> str:
    """The URL's scheme, lower case; ValueError when the URL cannot be split (its host included)."""
    parts = urlsplit(url)
    parts.hostname  # noqa: B018 - parses a bracketed host, raising ValueError when it is not one
    return parts.scheme.lower()

