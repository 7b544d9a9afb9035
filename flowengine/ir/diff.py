"""Semantic diff of two flows, whatever their formats: states and edges added, removed, changed.

Both flows are compared as IR, so an InboundXML file can be diffed against its ACTIONS10 port. Rules
kept here:

  1. What counts is behaviour: ops (kind and fields), labels, where each outcome leads, the entries,
     the handlers, the declared variables, `lifetime` and `answer`. Spans (positions), the flow's
     name, dialect, source and meta are not compared.
  2. `goto` states are jumps, not behaviour: edges are followed through them (a dialect that writes
     `goto` steps and one that writes direct edges give the same diff).
  3. States are paired, in this order: (a) same id; (b) from paired states, the targets of the same
     outcome when both have the same op kind (this pairs renamed states, and every state of two flows
     in different dialects, by their structure); (c) leftovers whose op is identical on both sides.
     Unpaired old states are removed, unpaired new states added; pairs whose op differs are changed.
  4. The result is deterministic: changes come in the order of the old flow, then of the new one.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Span
from .graph import op_summary
from .model import Flow, State
from .values import thaw

__all__ = ["Change", "FlowDiff", "diff_flows"]


@dataclass(frozen=True)
class Change:
    """One difference. `kind`: added, removed or changed; `subject`: state, edge, entry, handler,
    variable or setting; `old`/`new`: the state ids (or names) on each side."""

    kind: str
    subject: str
    old: str | None
    new: str | None
    detail: str
    old_span: Span | None = None
    new_span: Span | None = None

    @property
    def sign(self) -> str:
        return {"added": "+", "removed": "-", "changed": "~"}[self.kind]

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject, "old": self.old, "new": self.new,
                               "detail": self.detail}
        if self.old_span is not None:
            out["old_source"] = str(self.old_span)
        if self.new_span is not None:
            out["new_source"] = str(self.new_span)
        return out

    def text(self) -> str:
        where = self.new_span or self.old_span
        return f"{self.sign} {self.detail}" + (f"  ({where})" if where else "")


@dataclass
class FlowDiff:
    """The changes from `old` to `new`, and how their states were paired (old id → new id)."""

    old: Flow
    new: Flow
    changes: list[Change] = field(default_factory=list)
    pairs: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def summary(self) -> str:
        """`states: 1 added, 0 removed, 2 changed; edges: 3 changed; other: 1 changed`."""
        def states(kind: str) -> int:
            return len({c.old or c.new for c in self.changes if c.kind == kind and c.subject == "state"})

        edges = sum(1 for c in self.changes if c.subject == "edge")
        other = sum(1 for c in self.changes if c.subject not in ("state", "edge"))
        return (f"states: {states('added')} added, {states('removed')} removed, {states('changed')} changed; "
                f"edges: {edges} changed; entries, handlers, variables, settings: {other} changed")

    def to_text(self) -> str:
        if not self.changes:
            return "no semantic differences\n"
        return "".join(c.text() + "\n" for c in self.changes) + self.summary() + "\n"

    def to_json(self) -> dict:
        return {"old": self.old.name, "new": self.new.name, "pairs": dict(self.pairs),
                "changes": [c.to_json() for c in self.changes]}


class _Side:
    """One flow with its `goto` states skipped: `target(id)` follows jumps to the state that acts."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.states = {sid: s for sid, s in flow.states.items() if not _is_jump(s)}

    def target(self, sid: str | None) -> str | None:
        seen = set()
        while sid is not None and sid in self.flow.states and sid not in self.states and sid not in seen:
            seen.add(sid)
            sid = self.flow.states[sid].edges.get("ok")
        return sid if sid in self.states else None

    def edges(self, state: State) -> dict[str, str | None]:
        return {o: self.target(t) for o, t in state.edges.items()}


def _is_jump(state: State) -> bool:
    return state.op.kind == "goto" and "ok" in state.edges and state.edges["ok"] != state.id


def _op_json(state: State) -> dict:
    out = state.op.to_json()
    if state.label is not None:
        out["label"] = state.label
    return out


def diff_flows(old: Flow, new: Flow) -> FlowDiff:
    """What changed from `old` to `new` (see the module rules for how states are paired)."""
    a, b = _Side(old), _Side(new)
    result = FlowDiff(old, new)
    pairs = result.pairs
    taken: set[str] = set()

    def pair(x: str, y: str) -> bool:
        if x in pairs or y in taken or x not in a.states or y not in b.states:
            return False
        pairs[x] = y
        taken.add(y)
        return True

    for sid in a.states:  # (a) same id
        if sid in b.states:
            pair(sid, sid)
    anchors = [(a.target(old.entry[t]), b.target(new.entry[t])) for t in old.entry if t in new.entry]
    anchors += [(a.target(old.handlers[h]), b.target(new.handlers[h])) for h in old.handlers if h in new.handlers]
    for x, y in anchors:
        if x is not None and y is not None:
            pair(x, y)
    queue = deque(pairs.items())  # (b) propagate along edges with the same outcome
    while queue:
        x, y = queue.popleft()
        sx, sy = a.states[x], b.states[y]
        ex, ey = a.edges(sx), b.edges(sy)
        links = [(ex[o], ey[o]) for o in sorted(ex) if o in ey]
        links += [(sx.op.refs()[f], sy.op.refs()[f]) for f in sorted(sx.op.refs()) if f in sy.op.refs()]
        for tx, ty in links:
            tx, ty = a.target(tx), b.target(ty)
            if tx is not None and ty is not None and a.states[tx].op.kind == b.states[ty].op.kind and pair(tx, ty):
                queue.append((tx, ty))
    by_content: dict[str, list[str]] = {}  # (c) identical ops among the leftovers
    for sid, state in b.states.items():
        if sid not in taken:
            by_content.setdefault(_key(state), []).append(sid)
    old_left: dict[str, list[str]] = {}
    for sid, state in a.states.items():
        if sid not in pairs:
            old_left.setdefault(_key(state), []).append(sid)
    for key, xs in old_left.items():
        ys = by_content.get(key, [])
        if len(xs) == 1 and len(ys) == 1:
            pair(xs[0], ys[0])

    _settings(result, old, new, a, b)
    for sid, state in a.states.items():
        if sid not in pairs:
            result.changes.append(Change("removed", "state", sid, None, f"state {sid} ({op_summary(state.op)})",
                                         old_span=state.span))
            continue
        _state_changes(result, a, b, sid, pairs[sid])
    for sid, state in b.states.items():
        if sid not in taken:
            result.changes.append(Change("added", "state", None, sid, f"state {sid} ({op_summary(state.op)})",
                                         new_span=state.span))
    return result


def _key(state: State) -> str:
    return json.dumps(_op_json(state), sort_keys=True, ensure_ascii=False, default=str)


def _name(x: str, y: str) -> str:
    return x if x == y else f"{x} (now {y})"


def _state_changes(result: FlowDiff, a: _Side, b: _Side, x: str, y: str) -> None:
    sx, sy = a.states[x], b.states[y]
    name = _name(x, y)
    jx, jy = _op_json(sx), _op_json(sy)
    if jx["op"] != jy["op"]:
        result.changes.append(Change("changed", "state", x, y, f"state {name}: {op_summary(sx.op)} → "
                                     f"{op_summary(sy.op)}", sx.span, sy.span))
    else:
        for key in sorted(set(jx) | set(jy)):
            if key != "op" and jx.get(key) != jy.get(key):
                result.changes.append(Change("changed", "state", x, y, f"state {name}: {key} "
                                             f"{_show(jx.get(key))} → {_show(jy.get(key))}", sx.span, sy.span))
    ex, ey = a.edges(sx), b.edges(sy)
    back = {v: k for k, v in result.pairs.items()}
    for outcome in sorted(set(ex) | set(ey)):
        tx, ty = ex.get(outcome, "\0"), ey.get(outcome, "\0")
        if outcome not in ey:
            result.changes.append(Change("removed", "edge", x, y, f"state {name}: edge {outcome} → {_end(tx)}",
                                         sx.span, sy.span))
        elif outcome not in ex:
            result.changes.append(Change("added", "edge", x, y, f"state {name}: edge {outcome} → {_end(ty)}",
                                         sx.span, sy.span))
        elif result.pairs.get(tx) != ty and not (tx is None and ty is None):
            renamed = f" (was {back[ty]})" if ty in back and back[ty] != ty else ""
            result.changes.append(Change("changed", "edge", x, y, f"state {name}: edge {outcome} → "
                                         f"{_end(tx)} now → {_end(ty)}{renamed}", sx.span, sy.span))


def _end(target: str | None) -> str:
    return "(end)" if target is None else target


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _settings(result: FlowDiff, old: Flow, new: Flow, a: _Side, b: _Side) -> None:
    changes = result.changes

    def mapped(x: str | None, y: str | None) -> bool:
        return (x is None and y is None) or (x is not None and result.pairs.get(x) == y)

    for kind, left, right in (("entry", old.entry, new.entry), ("handler", old.handlers, new.handlers)):
        for key in sorted(set(left) | set(right)):
            label = f"{kind} {key}" if kind == "handler" or key != "*" else "entry"
            x = a.target(left[key]) if key in left else None
            y = b.target(right[key]) if key in right else None
            if key not in right:
                changes.append(Change("removed", kind, key, None, f"{label} → {_end(x)}"))
            elif key not in left:
                changes.append(Change("added", kind, None, key, f"{label} → {_end(y)}"))
            elif not mapped(x, y):
                changes.append(Change("changed", kind, key, key, f"{label}: {_end(x)} → {_end(y)}"))
    for name in sorted(set(old.variables) | set(new.variables)):
        before, after = thaw(old.variables.get(name)), thaw(new.variables.get(name))
        if name not in new.variables:
            changes.append(Change("removed", "variable", name, None, f"variable {name} = {_show(before)}"))
        elif name not in old.variables:
            changes.append(Change("added", "variable", None, name, f"variable {name} = {_show(after)}"))
        elif before != after:
            changes.append(Change("changed", "variable", name, name, f"variable {name}: {_show(before)} → {_show(after)}"))
    for setting in ("lifetime", "answer"):
        before, after = getattr(old, setting), getattr(new, setting)
        if before != after:
            changes.append(Change("changed", "setting", setting, setting, f"{setting}: {_show(before)} → {_show(after)}"))
