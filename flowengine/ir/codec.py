"""IR ⇄ JSON. The JSON form is also an input format of its own (`*.flow.json`).

    {"flowengine": "ir/1", "name": "menu", "entry": "welcome",
     "variables": {"tries": 0}, "handlers": {"hangup": "notify"},
     "states": {"welcome": {"op": "say", "text": "Hello", "next": "menu"}, ...}}

A state is its op's fields flattened next to `op`, plus `edges` ({outcome: state}) or the shorthand
`next` (= {"ok": …}), an optional `span` and `label`. Decoding collects every problem as a diagnostic
pointing at the author's line; `decode(encode(flow)) == flow` always holds.
"""

from __future__ import annotations

import re
from dataclasses import MISSING
from typing import Any

from ..diagnostics import DiagnosticBag, Span, did_you_mean
from ..errors import FlowError, IRError
from ..expr import ExprError
from ..expr.conditions import CondError
from ..structured import Document
from .model import ANSWER_MODES, OPS, Case, Flow, Op, State, json_name, op_fields
from .validate import validate_flow
from .values import FrozenDict, freeze, thaw

IR_VERSION = "ir/1"
TOP_KEYS = (
    "flowengine", "name", "entry", "states", "variables", "handlers", "lifetime", "answer",
    "dialect", "source", "meta", "declared", "start_pattern", "max_jumps",
)
STATE_KEYS = ("op", "edges", "next", "span", "label")


def encode(flow: Flow) -> dict:
    """The JSON form of a flow (plain dicts and lists, ready for json.dumps)."""
    out: dict[str, Any] = {"flowengine": IR_VERSION, "name": flow.name}
    if flow.dialect != "ir":
        out["dialect"] = flow.dialect
    if flow.source is not None:
        out["source"] = flow.source
    entry = dict(flow.entry)
    out["entry"] = entry["*"] if list(entry) == ["*"] else entry
    if flow.answer != "auto":
        out["answer"] = flow.answer
    if flow.lifetime is not None:
        out["lifetime"] = flow.lifetime
    if flow.variables:
        out["variables"] = thaw(flow.variables)
    if flow.handlers:
        out["handlers"] = dict(flow.handlers)
    if flow.meta:
        out["meta"] = thaw(flow.meta)
    if flow.declared is not None:
        out["declared"] = list(flow.declared)
    if flow.start_pattern is not None:
        out["start_pattern"] = flow.start_pattern
    if flow.max_jumps is not None:
        out["max_jumps"] = flow.max_jumps
    out["states"] = {sid: encode_state(state) for sid, state in flow.states.items()}
    return out


def encode_state(state: State) -> dict:
    out = state.op.to_json()
    if list(state.edges) == ["ok"]:
        out["next"] = state.edges["ok"]
    elif state.edges:
        out["edges"] = dict(state.edges)
    if state.label is not None:
        out["label"] = state.label
    if state.span is not None:
        out["span"] = state.span.to_json()
    return out


def decode(data: Any, doc: Document | None = None, *, filename: str = "<ir>") -> Flow:
    """Build a Flow from its JSON form, or raise FlowError with every problem found."""
    decoder = _Decoder(doc, doc.filename if doc else filename)
    flow = decoder.flow(data)
    decoder.bag.raise_if_errors()
    assert flow is not None
    problems = validate_flow(flow)
    if any(d.is_error for d in problems):
        raise FlowError(decoder.bag.items + problems)
    return flow


def decode_op(data: Any, *, filename: str = "<ir>") -> Op:
    """Build one op from `{"op": kind, ...fields}` (used for prompts and tests)."""
    decoder = _Decoder(None, filename)
    op = decoder.op(data, ())
    decoder.bag.raise_if_errors()
    assert op is not None
    return op


class _Decoder:
    def __init__(self, doc: Document | None, filename: str):
        self.doc = doc
        self.filename = filename
        self.bag = DiagnosticBag()

    def span(self, path: tuple, key: bool = False) -> Span:
        if self.doc is not None:
            return self.doc.span(path, key=key)
        return Span(self.filename, 1, 1)

    def error(self, code: str, message: str, path: tuple, key: bool = False, hint: str | None = None) -> None:
        self.bag.error(code, message, self.span(path, key), hint)

    # -- flow ---------------------------------------------------------------------------------------

    def flow(self, data: Any) -> Flow | None:
        if not isinstance(data, dict):
            self.error("E_IR_SHAPE", "an IR flow is a JSON object with 'entry' and 'states'", ())
            return None
        for key in data:
            if key not in TOP_KEYS:
                self.error("E_UNKNOWN_FIELD", f"unknown flow field {key!r}{did_you_mean(str(key), TOP_KEYS)}",
                           (key,), key=True)
        version = data.get("flowengine", IR_VERSION)
        if version != IR_VERSION:
            self.error("E_IR_VERSION", f"unsupported IR version {version!r} (this is {IR_VERSION})", ("flowengine",))
        name = self.expect(data, "name", str, default=_stem(self.filename))
        states = self.states(data.get("states"))
        entry = self.entry(data.get("entry"))
        variables = self.expect(data, "variables", dict, default={})
        handlers = self.expect(data, "handlers", dict, default={})
        for key, value in handlers.items():
            if not isinstance(value, str):
                self.error("E_FIELD_TYPE", f"handler {key!r} must name a state", ("handlers", key))
        lifetime = data.get("lifetime")
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0):
            self.error("E_FIELD_VALUE", "'lifetime' must be a positive number of seconds or null", ("lifetime",))
            lifetime = None
        answer = self.expect(data, "answer", str, default="auto")
        if answer not in ANSWER_MODES:
            self.error("E_FIELD_VALUE", f"'answer' must be one of {', '.join(ANSWER_MODES)}", ("answer",))
            answer = "auto"
        dialect = self.expect(data, "dialect", str, default="ir")
        source = data.get("source") if isinstance(data.get("source"), str) else None
        meta = self.expect(data, "meta", dict, default={})
        declared = self.expect(data, "declared", list, default=None)
        if declared is not None and not all(isinstance(v, str) for v in declared):
            self.error("E_FIELD_TYPE", "'declared' must be a list of variable names", ("declared",))
            declared = None
        start_pattern = self.expect(data, "start_pattern", str, default=None)
        if start_pattern is not None:
            try:
                re.compile(start_pattern)
            except re.error as exc:
                self.error("E_FIELD_VALUE", f"'start_pattern' is not a regular expression: {exc}", ("start_pattern",))
                start_pattern = None
        max_jumps = self.expect(data, "max_jumps", int, default=None)
        if max_jumps is not None and max_jumps < 1:
            self.error("E_FIELD_VALUE", "'max_jumps' must be 1 or more", ("max_jumps",))
            max_jumps = None
        if states is None or entry is None:
            return None
        try:
            frozen_vars = freeze(variables)
        except ExprError as exc:
            self.error(exc.code, exc.message, ("variables",))
            frozen_vars = FrozenDict()
        return Flow(
            name=name, states=FrozenDict(states), entry=FrozenDict(entry), variables=frozen_vars,
            handlers=FrozenDict({k: v for k, v in handlers.items() if isinstance(v, str)}),
            lifetime=float(lifetime) if lifetime is not None else None, answer=answer,
            dialect=dialect, source=source, meta=freeze(meta),
            declared=tuple(declared) if declared is not None else None, start_pattern=start_pattern,
            max_jumps=max_jumps,
        )

    def expect(self, data: dict, key: str, tp: type, default: Any) -> Any:
        value = data.get(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, tp) or isinstance(value, bool) and tp is not bool:
            names = {str: "a string", dict: "an object", list: "a list"}
            self.error("E_FIELD_TYPE", f"{key!r} must be {names.get(tp, tp.__name__)}", (key,))
            return default
        return value

    def entry(self, data: Any) -> dict | None:
        if isinstance(data, str):
            return {"*": data}
        if isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
            return dict(data)
        self.error("E_MISSING_FIELD" if data is None else "E_FIELD_TYPE",
                   "'entry' must name the first state, or map triggers to states", ("entry",))
        return None

    def states(self, data: Any) -> dict | None:
        if not isinstance(data, dict) or not data:
            self.error("E_MISSING_FIELD" if data is None else "E_FIELD_TYPE",
                       "'states' must be a non-empty object of state id → state", ("states",))
            return None
        out = {}
        for sid, sdata in data.items():
            state = self.state(str(sid), sdata, ("states", sid))
            if state is not None:
                out[str(sid)] = state
        return out

    # -- states and ops ------------------------------------------------------------------------------

    def state(self, sid: str, data: Any, path: tuple) -> State | None:
        if not isinstance(data, dict):
            self.error("E_IR_SHAPE", f"state {sid!r} must be an object with an 'op'", path, key=True)
            return None
        span = self.explicit_span(data.get("span"), path)
        if span is None and self.doc is not None:
            span = self.doc.span(path, key=True)
        op = self.op(data, path, state_keys=True)
        edges: dict[str, str] = {}
        raw_edges = data.get("edges", {})
        if not isinstance(raw_edges, dict) or not all(isinstance(v, str) for v in raw_edges.values()):
            self.error("E_FIELD_TYPE", "'edges' must map outcomes to state ids", path + ("edges",))
        else:
            edges.update({str(k): v for k, v in raw_edges.items()})
        if "next" in data:
            if not isinstance(data["next"], str):
                self.error("E_FIELD_TYPE", "'next' must name a state", path + ("next",))
            elif "ok" in edges:
                self.error("E_FIELD_VALUE", "give either 'next' or edges.ok, not both", path + ("next",))
            else:
                edges["ok"] = data["next"]
        label = data.get("label")
        if label is not None and not isinstance(label, str):
            self.error("E_FIELD_TYPE", "'label' must be a string", path + ("label",))
            label = None
        if op is None:
            return None
        return State(id=sid, op=op, edges=FrozenDict(edges), span=span, label=label)

    def explicit_span(self, data: Any, path: tuple) -> Span | None:
        if data is None:
            return None
        try:
            return Span(str(data["file"]), int(data.get("line", 1)), int(data.get("col", 1)),
                        data.get("end_line"), data.get("end_col"))
        except (TypeError, KeyError, ValueError):
            self.error("E_FIELD_TYPE", "'span' must be {file, line, col}", path + ("span",))
            return None

    def op(self, data: Any, path: tuple, state_keys: bool = False) -> Op | None:
        if not isinstance(data, dict) or not isinstance(data.get("op"), str):
            self.error("E_MISSING_FIELD", "a state needs 'op' (the operation it performs)", path, key=True)
            return None
        kind = data["op"]
        cls = OPS.get(kind)
        if cls is None:
            self.error("E_UNKNOWN_OP", f"unknown op {kind!r}{did_you_mean(kind, OPS)}", path + ("op",))
            return None
        by_json = {json_name(f): (f, tp) for f, tp in op_fields(cls)}
        kwargs: dict[str, Any] = {}
        ok = True
        for key, value in data.items():
            if key == "op" or (state_keys and key in STATE_KEYS):
                continue
            if key not in by_json:
                allowed = list(by_json) + (list(STATE_KEYS) if state_keys else [])
                self.error("E_UNKNOWN_FIELD", f"{kind}: unknown field {key!r}{did_you_mean(str(key), allowed)}",
                           path + (key,), key=True)
                ok = False
                continue
            f, _ = by_json[key]
            converted = self.value(cls, f.name, value, path + (key,))
            if converted is _BAD:
                ok = False
            else:
                kwargs[f.name] = converted
        for jname, (f, _) in by_json.items():
            if f.default is MISSING and f.default_factory is MISSING and f.name not in kwargs and ok:
                self.error("E_MISSING_FIELD", f"{kind}: missing required field {jname!r}", path, key=True)
                ok = False
        if not ok:
            return None
        try:
            return cls(**kwargs)
        except IRError as exc:
            fpath = path + ((json_name(next(f for f, _ in op_fields(cls) if f.name == exc.field)),) if exc.field else ())
            self.error(exc.code, f"{kind}: {exc.message}", fpath)
            return None
        except ExprError as exc:
            self.error(exc.code, f"{kind}: {exc.message}", path)
            return None

    def value(self, cls: type, name: str, value: Any, path: tuple) -> Any:
        if name == "prompts":
            if not isinstance(value, list):
                self.error("E_FIELD_TYPE", "'prompts' must be a list of ops", path)
                return _BAD
            prompts = [self.op(item, path + (i,)) for i, item in enumerate(value)]
            return _BAD if any(p is None for p in prompts) else tuple(prompts)
        if name == "cases":
            return self.cases(value, path)
        try:
            return freeze(value)
        except ExprError as exc:
            self.error(exc.code if exc.code != "E_EXPR" else "E_EXPR_SYNTAX", exc.message, path)
            return _BAD

    def cases(self, value: Any, path: tuple) -> Any:
        if not isinstance(value, list):
            self.error("E_FIELD_TYPE", "'cases' must be a list of {key, when}", path)
            return _BAD
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or set(item) != {"key", "when"}:
                self.error("E_FIELD_TYPE", "each case is {\"key\": …, \"when\": condition}", path + (i,))
                return _BAD
            try:
                out.append(Case(item["key"], item["when"]))
            except IRError as exc:
                self.error(exc.code, exc.message, path + (i,))
                return _BAD
            except CondError as exc:
                self.error(exc.code, exc.message, path + (i, "when") + exc.path)
                return _BAD
        return tuple(out)


class _Bad:
    pass


_BAD = _Bad()


def _stem(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    for suffix in (".flow.json", ".json", ".yaml", ".yml", ".xml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name or "flow"

