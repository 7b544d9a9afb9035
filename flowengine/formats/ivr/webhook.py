"""A webhook's answer (spec 2.5), compiled while the call runs, against the running IVR flow.

    200 {"vars": {"tier": "gold"}, "actions": [{"play": {"tts": "Welcome back"}}, {"goto": {"context": "vip"}}]}

Rules kept here:
  * The answer is a JSON object (an empty body is `{}`) with only `vars` and `actions`. Anything else,
    a non-JSON body or an invalid action makes the webhook step fail: its `on_error` runs, or the flow
    continues with the next step (the interpreter's `document` op takes its `error` edge).
  * `vars` are assigned in key order, as text (numbers and booleans as JSON writes them, null as "").
  * `actions` are checked exactly like YAML steps (schema and check.py) against the flow's contexts,
    sounds and intervals, in the context and option of the webhook step. They run in place of the
    step; when none of them ends the call, the flow goes on after it.
  * The answer's states are added to the flow's own (ids `<context>:<option>~<digest>/…`), so a `goto`
    lands in the flow's contexts. The same answer compiles to the same states: no growth on repeats.
"""

from __future__ import annotations

import hashlib
import re
from ...diagnostics import DiagnosticBag
from ...expr import Expr
from ...expr.basic import to_text
from ...ir.model import Flow, Goto, Set
from ...ir.values import FrozenDict, thaw
from ...schema import validate
from ...structured import Document, load
from . import text as T
from .check import Checker
from .compiler import Compiler, Where

ANSWER_KEYS = ("vars", "actions")
_ORIGIN = re.compile(r"^([a-z][a-z0-9_]*):([^./~]+)")
_WRAP = ("contexts", "w", "options", "start")


def origin_of(state_id: str | None) -> Where:
    """The context and option a state of a compiled IVR runs in (from its id; see compiler.py)."""
    match = _ORIGIN.match(state_id or "")
    return Where(match.group(1), match.group(2)) if match else Where(None, None)


class _Wrapped(Document):
    """The answer's actions seen as the `start` option of a one-context document (to reuse the
    schema), with positions and messages pointing back at the answer."""

    def __init__(self, answer: Document):
        super().__init__(answer.filename, answer.text, None)
        self.answer = answer

    def span(self, path: tuple = (), *, key: bool = False):
        path = tuple(path)
        if path[: len(_WRAP)] == _WRAP:
            return self.answer.span(("actions",) + path[len(_WRAP):], key=key)
        return self.answer.span(("actions",), key=key)


def compile_answer(body: str, url: str, parent: Flow | None, origin: str | None = None) -> Flow:
    """The flow to run for a webhook answer: the parent's states plus the answer's (FlowError if invalid)."""
    bag = DiagnosticBag()
    if parent is None or "ivr" not in parent.meta:
        bag.error("E_IVR_WEBHOOK", "an IVR webhook answer needs the IVR flow that asked for it", None)
        bag.raise_if_errors()
    settings = thaw(parent.meta["ivr"])
    where = origin_of(origin)
    doc = load(body if body.strip() else "{}", url, json_only=True)
    data = doc.data
    if not isinstance(data, dict):
        bag.error("E_IVR_WEBHOOK", "a webhook answer is a JSON object {vars, actions}", doc.span(()))
        bag.raise_if_errors()
    for key in data:
        if key not in ANSWER_KEYS:
            bag.error("E_IVR_WEBHOOK", f"unknown field {key!r} in a webhook answer (fields: vars, actions)",
                      doc.span((key,), key=True))
    variables = data.get("vars", {})
    actions = data.get("actions", [])
    if not isinstance(variables, dict):
        bag.error("E_IVR_WEBHOOK", "'vars' must be an object of name: value", doc.span(("vars",)))
        variables = {}
    if not isinstance(actions, list):
        bag.error("E_IVR_WEBHOOK", "'actions' must be a list of steps", doc.span(("actions",)))
        actions = []
    bag.raise_if_errors()
    checker = Checker(doc, bag, contexts=settings["contexts"], sounds=settings["sounds"],
                      intervals=settings["intervals"], voicemail_enabled=settings["voicemail"]["enabled"])
    for name in variables:
        checker.var_name(name, ("vars", name), assigned=True, key=True)
    wrapper = {"kind": "ivr", "version": 1, "entry": "w", "contexts": {"w": {"options": {"start": actions}}}}
    for diag in validate("ivr.schema.json", wrapper, _Wrapped(doc), "E_IVR_SCHEMA"):
        bag.add(diag.__class__(diag.code, diag.message.replace("/".join(_WRAP), "actions"), diag.span,
                               diag.severity, diag.hint))
    bag.raise_if_errors()
    checker.steps(actions, ("actions",), where.context)
    bag.raise_if_errors()

    digest = hashlib.sha1(body.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    base = f"{where.context}:{where.option}~{digest}" if where.context else f"IVR:webhook~{digest}"
    c = Compiler(None, settings, doc, bag)
    end = c.add(f"{base}/end", Goto(), None, ())  # no edge: the answer is over, the webhook step goes on
    first = c.steps(actions, ("actions",), f"{base}/a", end, where, indexed=True)
    ops = [Set(name=name, value=to_text(value)) for name, value in variables.items()]
    ops.insert(0, c.silent(T.WEBHOOK_STATUS, Expr("calc", f"str({T.WEBHOOK}.status)")))
    entry = c.chain(base, ops, first, ())
    bag.raise_if_errors()
    return Flow(
        name=parent.name, states=FrozenDict({**parent.states, **c.states}), entry=FrozenDict({"*": entry}),
        variables=parent.variables, handlers=parent.handlers, lifetime=parent.lifetime, answer=parent.answer,
        dialect=parent.dialect, source=url, meta=parent.meta,
    )
