"""Lint: static checks of a compiled flow, so every dialect gets them through the IR.

`lint(flow)` returns a `LintResult`: `Finding`s with a stable code, a severity, a one-line message, a
fix hint and the author's span, plus the findings a suppression silenced (and why). Rules kept here:

  1. Each code is declared once, in `findings.RULES` (severity, title, hint).
  2. Checks read only the op declarations (`outcomes()`, `INPUT`, `MEDIA`, `TERMINAL`, `refs()`) and
     the flow's entry and handlers, so `flowengine graph` and lint cannot disagree about an op.
     `possible_outcomes` is the one place that knows an op cannot produce some declared outcome.
  3. Every check is a few passes over the states and edges (variables as bitsets), so lint time grows
     linearly with the flow (bench/lint.py).
  4. Lint never raises on a Flow: broken wiring (an edge to a missing state) is reported with
     `validate_flow`'s own diagnostic and the rest of the analysis ignores the broken edge.

The codes live in findings.py, suppressions (comments, `meta.lint.disable`, `--disable`) in
suppression.py; this module runs the checks and applies the suppressions.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..diagnostics import ERROR, NOTE, WARNING, Span
from ..expr import Expr
from ..expr.basic import to_text
from ..expr.conditions import All, AnyOf, Cond, Const, Eq, Match, Not, json_equal
from ..expr.intervals import Interval
from .dataflow import BUILTIN_NAMES, declared_names, expr_reads, maybe_unset, op_reads, op_writes
from .findings import RULES, Finding, Rule
from .flowgraph import FlowGraph, groups, is_handoff, sccs, span_from_json
from .model import Flow, Op, op_fields
from .suppression import Suppression, file_suppressions, flow_suppressions, parse_suppression
from .timecheck import interval_truth
from .validate import validate_flow

__all__ = [
    "RULES",
    "Rule",
    "Finding",
    "Suppression",
    "LintResult",
    "lint",
    "static_truth",
    "file_suppressions",
    "flow_suppressions",
]

WAIT_OUTCOMES = ("timeout", "invalid")  # what an input state must handle (hang-up is flow-wide)
DIAL_FAILURES = ("no-answer", "busy", "failed")


@dataclass
class LintResult:
    """What lint found in one flow, in a stable order (by file, line, column, code)."""

    flow: str
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, Suppression]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    def counts(self) -> dict[str, int]:
        out = {ERROR: 0, WARNING: 0, NOTE: 0}
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_json(self) -> dict:
        return {
            "flow": self.flow,
            "findings": [f.to_json() for f in self.findings],
            "suppressed": [{**f.to_json(), "suppressed_by": s.to_json()} for f, s in self.suppressed],
        }


# ---------------------------------------------------------------------------------------------------
# Conditions


def static_truth(cond: Cond) -> bool | None:
    """True or False when `cond` has that value in every call at every moment, else None.

    Built-in kinds are worked out here; another condition kind (an IVR interval, say) takes part by
    defining `static_truth() -> bool | None` itself."""
    hook = getattr(cond, "static_truth", None)
    if callable(hook):
        return hook()
    if isinstance(cond, Interval):
        return interval_truth(cond)[0]
    if isinstance(cond, Const):
        return cond.value
    if isinstance(cond, Not):
        inner = static_truth(cond.item)
        return None if inner is None else not inner
    if isinstance(cond, All):
        values = [static_truth(c) for c in cond.items]
        if False in values:
            return False
        return True if all(v is True for v in values) else None
    if isinstance(cond, AnyOf):
        values = [static_truth(c) for c in cond.items]
        if True in values:
            return True
        return False if all(v is False for v in values) else None
    if isinstance(cond, Eq):
        if _has_expr(cond.left) or _has_expr(cond.right):
            return None
        return json_equal(cond.left, cond.right)
    if isinstance(cond, Match):
        if _has_expr(cond.value):
            return None
        return cond.regex.fullmatch(to_text(cond.value)) is not None
    return None


def _has_expr(value: Any) -> bool:
    if isinstance(value, Expr):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_expr(v) for v in value)
    if isinstance(value, dict):
        return any(_has_expr(v) for v in value.values())
    return False


# ---------------------------------------------------------------------------------------------------
# The checks


class _Linter:
    """Runs every check over one FlowGraph and collects findings in `out`."""

    def __init__(self, flow: Flow, sources: Mapping[str, str] | None = None):
        self.flow = flow
        self.sources = sources
        self._texts: dict[str, str | None] = {}
        self.files = sorted({s.span.file for s in flow.states.values() if s.span is not None})
        self.g = FlowGraph(flow)
        self.n = len(self.g)
        self.out: list[Finding] = []
        self.reads = [op_reads(op) for op in self.g.ops]
        self.reach = self.g.reachable()
        self.file = flow.source or next((s.span.file for s in self.g.states if s.span), None) or flow.name

    def add(self, code: str, message: str, i: int | None = None, *, span: Span | None = None,
            hint: str | None = None) -> None:
        rule = RULES[code]
        if span is None and i is not None:
            span = self.g.span(i)
        self.out.append(Finding(code, message, span, self.g.ids[i] if i is not None else None, rule.severity,
                                hint or rule.hint, None if span else self.file))

    def flow_span(self) -> Span | None:
        """Where flow-wide findings point: the top of the flow's first file."""
        span = next((s.span for s in self.g.states if s.span is not None), None)
        return Span(span.file, 1, 1) if span else None

    def key_span(self, name: str) -> Span | None:
        """Where the flow's file declares `name` as a key (`name:` in YAML, `"name":` in JSON), found in
        the source text since declarations carry no positions in the IR; else the top of the file."""
        top = self.flow_span()
        if top is None:
            return None
        text = self.source(top.file)
        key = re.escape(name)
        match = re.search(rf'(?m)(?:^|[{{,])[ \t]*(?P<key>"{key}"|\'{key}\'|{key})[ \t]*:', text or "")
        if match is None:
            return top
        start = match.start("key")
        line = text.count("\n", 0, start) + 1
        return Span(top.file, line, start - (text.rfind("\n", 0, start) + 1) + 1)

    def run(self) -> list[Finding]:
        for diag in validate_flow(self.flow):
            self.out.append(Finding(diag.code, diag.message, diag.span, None, diag.severity, diag.hint, diag.file))
        self.unreachable()
        self.dead_ends()
        self.dials()
        self.loops()
        self.never_active()
        self.variables()
        self.sounds()
        return self.out

    # -- reachability: unused groups, dead edges, steps after a hand-off, unreachable states ----------

    def unreachable(self) -> None:
        g, reach = self.g, self.reach
        covered = [False] * self.n

        def cover(start: int) -> list[int]:
            """Mark the unreachable region from `start` as reported; returns its states."""
            if covered[start]:
                return []
            covered[start] = True
            region, queue = [start], deque([start])
            while queue:
                i = queue.popleft()
                for j in g.successors(i) + [t for _, t in g.dead[i] if t is not None]:
                    if not reach[j] and not covered[j]:
                        covered[j] = True
                        region.append(j)
                        queue.append(j)
            return region

        self.dead_edges(cover)
        if any(reach[i] and g.ops[i].kind == "document" and getattr(g.ops[i], "inherit", False)
               for i in range(self.n)):
            return  # a document compiled against this flow may jump to any of its states

        group_of: dict[int, str] = {}
        for group in groups(self.flow):
            members = [g.index[s] for s in group["states"] if s in g.index]
            for i in members:
                group_of.setdefault(i, group["name"])
            if members and not any(reach[i] for i in members):
                what = f"{group['kind']} {group['name']!r}" if group.get("kind") else repr(group["name"])
                self.add("L_UNUSED_BRANCH", f"{what} never runs: nothing leads to it",
                         members[0], span=span_from_json(group.get("span")) or g.span(members[0]))
                for i in members:
                    covered[i] = True

        unreached = [i for i in range(self.n) if not reach[i]]
        entered = [False] * self.n  # has a predecessor that is unreachable too
        for i in unreached:
            for j in g.successors(i):
                entered[j] = True
        # In a dialect, elements written one after another are a sequence (verbs, steps) within a group;
        # the IR's own JSON is a map of states, so there the order in the file means nothing.
        previous = g.previous_element() if self.flow.dialect != "ir" else [[] for _ in range(self.n)]
        after: dict[int, list] = {}  # unreachable state → [first state, hand-off element, count] it extends
        pending: list[list] = []
        heads = sorted((i for i in unreached if not entered[i]), key=lambda i: _position(g, i)) + unreached
        for i in heads:  # region heads in source order first, then what is left (cycles)
            if covered[i]:
                continue
            region = cover(i)
            count = len(region)
            element = [p for p in previous[i] if group_of.get(p, group_of.get(i)) == group_of.get(i, group_of.get(p))]
            if element and all(not reach[p] for p in element) and element[0] in after:
                report = after[element[0]]  # continues a run of steps after the same hand-off
                report[2] += count
            elif element and any(reach[p] for p in element) and self._ends(element):
                report = [i, element, count]
                pending.append(report)
            else:
                more = count - 1
                what = f"state {g.ids[i]!r}" + (f" and the {more} state{'s' if more != 1 else ''} after it" if more else "")
                self.add("L_UNREACHABLE", f"{what} can never run: no edge, entry or handler leads there", i)
                continue
            for j in region:
                after[j] = report
        for first, element, count in pending:
            more = count - 1
            what = f"state {g.ids[first]!r}" + (f" and the {more} state{'s' if more != 1 else ''} after it" if more else "")
            self.add("L_AFTER_HANDOFF", f"{what} never run{'' if more else 's'}: written after {_element_name(g, element)}, "
                     "which never continues", first)

    def _ends(self, element: list[int]) -> bool:
        """The author's element hands off or hangs up, and none of its states leads outside it."""
        g = self.g
        inside = set(element)
        return any(g.ops[p].TERMINAL or is_handoff(g.ops[p]) for p in element) and \
            all(j in inside for p in element for _, j in g.succ[p])

    def dead_edges(self, cover: Any) -> None:
        """Edges for outcomes an op never produces. In IR JSON the author wrote them; in a dialect the
        compiler did, so they are reported only when they are the only way to some states."""
        g, reach = self.g, self.reach
        authored = self.flow.dialect == "ir"
        for i in range(self.n):
            if not reach[i]:
                continue
            op = g.ops[i]
            for outcome, j in g.dead[i]:
                hides = j is not None and not reach[j]
                target = g.ids[j] if j is not None else g.states[i].edges[outcome]
                if is_handoff(op) and (authored or hides):
                    self.add("L_AFTER_HANDOFF", f"state {target!r} after the redirect in {g.ids[i]!r} never runs: "
                             "the call continues in the fetched document", i)
                elif authored or hides:
                    self.add("L_DEAD_EDGE", f"{op.kind} {g.ids[i]!r} never produces {outcome!r}, so its edge to "
                             f"{target!r} is never taken{_dead_reason(op, outcome)}", i)
                if hides:
                    cover(j)

    # -- input states and dials ----------------------------------------------------------------------

    def dead_ends(self) -> None:
        g = self.g
        for i, op in enumerate(g.ops):
            edges = g.states[i].edges
            if not op.INPUT or not self.reach[i] or not edges:
                continue  # no edges at all: the flow ends after it whatever happens (a last recording)
            missing = [o for o in WAIT_OUTCOMES if o in g.possible[i] and o not in edges]
            if missing:
                what = " or ".join(f"{o!r}" + (" (no input)" if o == "timeout" else "") for o in missing)
                self.add("L_DEAD_END", f"{op.kind} {g.ids[i]!r} has no edge for {what}: the flow stops here "
                         "when the caller gives no valid input", i,
                         hint=f"add edges for {', '.join(missing)}, e.g. to a retry with a counter, or to a goodbye")

    def dials(self) -> None:
        g = self.g
        for i, op in enumerate(g.ops):
            edges = g.states[i].edges
            if op.kind == "dial" and self.reach[i] and edges and "no-answer" not in edges:
                missing = [o for o in DIAL_FAILURES if o not in edges]
                self.add("L_DIAL_NO_ANSWER", f"dial {g.ids[i]!r} continues after {', '.join(sorted(edges))} but "
                         f"has no edge for {', '.join(missing)}: when nobody answers, the flow stops here", i)

    # -- loops ---------------------------------------------------------------------------------------

    def loops(self) -> None:
        """Endless loops (no way out) in the edge graph, then loops that can repeat without input in
        the graph of edges taken without caller input."""
        g = self.g
        timed = self.flow.lifetime is not None
        endless: set[int] = set()
        full = [[j for _, j in g.succ[i]] for i in range(self.n)]
        for comp in self._loops(full):
            members = set(comp)
            closed = all(
                not g.ops[i].TERMINAL and not is_handoff(g.ops[i])
                and all(g.index.get(g.states[i].edges.get(o, ""), -1) in members for o in g.possible[i])
                for i in comp
            )
            if closed and not (timed and self._takes_time(comp)):
                endless.update(comp)
                self.add("L_ENDLESS_LOOP", f"the loop through {_names(g, comp)} never ends: no edge leaves it "
                         "and no outcome stops it, so only a hang-up or a budget ends the call",
                         g.first_in_source(comp))
        quiet = [[j for o, j in g.succ[i] if not (g.ops[i].INPUT and o != "timeout")] for i in range(self.n)]
        for comp in self._loops(quiet):
            if endless.issuperset(comp) or (timed and self._takes_time(comp)) or self._counted(comp):
                continue
            waits = any(g.ops[i].INPUT for i in comp)
            why = "when the caller gives no input" if waits else "without any input"
            self.add("L_UNBOUNDED_LOOP", f"the loop through {_names(g, comp)} can repeat forever {why}: no "
                     "attempt counter and no lifetime bound it", g.first_in_source(comp))

    def _loops(self, succ: list[list[int]]) -> list[list[int]]:
        """Reachable cycles: components with more than one state, or a state with an edge to itself."""
        return [c for c in sccs(self.n, succ.__getitem__)
                if (len(c) > 1 or c[0] in succ[c[0]]) and any(self.reach[i] for i in c)]

    def _takes_time(self, comp: list[int]) -> bool:
        """The loop plays media, so a lifetime (counted from the answer) ends it."""
        return any(self.g.ops[i].MEDIA for i in comp)

    def _counted(self, comp: list[int]) -> bool:
        """A branch in the loop can leave it and tests an attempt counter the loop keeps."""
        g = self.g
        members = set(comp)
        counters: set[str] = set()
        for i in comp:
            names = _counts(g.ops[i])
            if names is None:
                return True  # a script in the loop may count: give it the benefit of the doubt
            counters |= names
        for i in comp:
            if g.ops[i].kind != "branch":
                continue
            edges = g.states[i].edges
            leaves = any(g.index.get(edges.get(o, "")) not in members for o in g.possible[i])
            if leaves and (not self.reads[i].complete or self.reads[i].names & counters):
                return True
        return False

    # -- conditions ----------------------------------------------------------------------------------

    def never_active(self) -> None:
        """Branch cases that can never be chosen, and conditions used as expressions (a prompt's
        `enabled`, say) that can never hold."""
        g = self.g
        for i, op in enumerate(g.ops):
            if not self.reach[i]:
                continue
            if op.kind == "branch":
                self.cases(i, op)
            for where, cond in _conditions_in(op):
                if static_truth(cond) is False:
                    self.add("L_NEVER_ACTIVE", f"{op.kind} {g.ids[i]!r}: the condition of {where} can never "
                             f"hold{_cond_reason(cond)}", i)

    def cases(self, i: int, op: Op) -> None:
        g = self.g
        always: str | None = None
        for case in op.cases:
            truth = static_truth(case.when)
            if always is not None:
                self.add("L_NEVER_ACTIVE", f"branch {g.ids[i]!r}: case {case.key!r} is never chosen, because "
                         f"case {always!r} before it always holds", i)
                continue
            if truth is False:
                self.add("L_NEVER_ACTIVE", f"branch {g.ids[i]!r}: the condition of case {case.key!r} can never "
                         f"hold{_cond_reason(case.when)}", i)
            elif truth is True:
                always = case.key

    # -- variables -----------------------------------------------------------------------------------

    def variables(self) -> None:
        g, flow = self.g, self.flow
        declared = declared_names(flow)
        # The hang-up handler runs after whatever path the call took, often right at the start: what it
        # reads is a report of what happened (null = it did not), so only the other states are checked.
        roots = [flow.entry[t] for t in flow.entry] + [flow.handlers[h] for h in flow.handlers if h != "hangup"]
        reported = g.reachable([g.index[sid] for sid in roots if sid in g.index])
        for i, name in maybe_unset(g, self.reads, declared):
            if reported[i] and self.authors(name):
                self.add("L_UNSET_VARIABLE", f"{g.ops[i].kind} {g.ids[i]!r} reads {name!r}, which is not set on "
                         "every path that leads here", i)
        if not all(r.complete for r in self.reads) or any(op.kind == "document" for op in g.ops):
            return  # some reads are unknown: an expression language without `names`, or fetched documents
        read = set().union(*(r.names for r in self.reads))
        after_call = flow.meta.get("report_vars") if isinstance(flow.meta, Mapping) else None
        read.update(str(name) for name in after_call or ())  # read by the engine's per-call report
        set_at: dict[str, list[int]] = {}
        result_at: dict[str, list[int]] = {}
        for i, op in enumerate(g.ops):
            # a `silent` write is a compiler's bookkeeping (ACTIONS10 `result: $x`): a result, not a set
            bookkeeping = getattr(op, "silent", False)
            for name in op_writes(op) or ():
                (result_at if name == op.result or bookkeeping else set_at).setdefault(name, []).append(i)
        for name in sorted(declared - read - BUILTIN_NAMES):
            if self.authors(name):
                self.add("L_UNUSED_VARIABLE", f"variable {name!r} is declared but never read", None,
                         span=self.key_span(name), hint="read it somewhere, or delete it from the flow's variables")
        for name, where in sorted(set_at.items()):
            if name not in read and name not in declared and self.authors(name):
                for i in where:
                    self.add("L_UNUSED_VARIABLE", f"variable {name!r} is set here but never read", i)
        for name, where in sorted(result_at.items()):
            if name not in read and name not in set_at and self.authors(name):
                for i in where:
                    self.add("L_UNUSED_RESULT", f"the result {name!r} stored by {g.ops[i].kind} {g.ids[i]!r} "
                             "is never read", i)

    def authors(self, name: str) -> bool:
        """Whether `name` is the author's variable. In IR JSON every name is; a dialect's compiler adds
        its own (`IVR_in`, `_raw`), so there a name is the author's when it appears in a source file."""
        if self.flow.dialect == "ir":
            return True
        texts = [t for t in (self.source(f) for f in self.files) if t is not None]
        return not texts or any(name in text for text in texts)

    def source(self, file: str) -> str | None:
        if file not in self._texts:
            self._texts[file] = self.sources.get(file) if self.sources is not None else _read_source(file)
        return self._texts[file]

    # -- sounds --------------------------------------------------------------------------------------

    def sounds(self) -> None:
        """Catalogue entries (`meta.sounds`, or `meta.<dialect>.sounds`) whose name and strings (url,
        file, TTS text) appear in no op."""
        meta = self.flow.meta if isinstance(self.flow.meta, Mapping) else {}
        catalogue = meta.get("sounds")
        if catalogue is None and isinstance(meta.get(self.flow.dialect), Mapping):
            catalogue = meta[self.flow.dialect].get("sounds")
        if not isinstance(catalogue, Mapping) or not catalogue:
            return
        used: set[str] = set()
        for op in self.g.ops:
            used |= op_reads(op, strings=True).strings
        for name, entry in catalogue.items():
            strings = {v for v in entry.values() if isinstance(v, str)} if isinstance(entry, Mapping) else {entry}
            if name in used or strings & used:
                continue
            span = span_from_json(entry.get("span")) if isinstance(entry, Mapping) else None
            self.add("L_UNUSED_SOUND", f"sound {name!r} is declared but never played", None,
                     span=span or self.key_span(name))


def _conditions_in(op: Op, where: str = "") -> list[tuple[str, Cond]]:
    """(field, condition) for each expression in the op's fields that is a condition (`cond`)."""
    out = []
    for f, _ in op_fields(type(op)):
        value = getattr(op, f.name)
        name = f"{where}{f.name}"
        if isinstance(value, Expr) and isinstance(value.compiled, Cond):
            out.append((f"'{name}'", value.compiled))
        elif isinstance(value, tuple):
            for k, item in enumerate(value):
                if isinstance(item, Op):
                    out.extend(_conditions_in(item, f"{name}[{k}]."))
    return out


def _counts(op: Op) -> set[str] | None:
    """Variables the op updates from their own value (`tries = tries + 1`); None when it runs a script
    that may (an `assign` of a computed object)."""
    if op.kind == "set":
        return {op.name} if op.name in op_reads(op).names else set()
    if op.kind == "assign":
        if isinstance(op.values, Expr):
            return None
        return {name for name, value in op.values.items()
                if isinstance(value, Expr) and name in (expr_reads(value) or {name})}
    return set()


def _position(g: FlowGraph, i: int) -> tuple:
    span = g.span(i)
    return (span.file, span.line, span.col) if span else ("", 0, 0)


def _element_name(g: FlowGraph, element: list[int]) -> str:
    """How the author calls an element: its label (`<Redirect>`, `hangup@v1`), else the op, and the line."""
    first = element[0]
    stop = next((p for p in element if g.ops[p].TERMINAL or is_handoff(g.ops[p])), first)
    label = next((g.states[p].label for p in element if g.states[p].label), None)
    name = label or ("the redirect" if is_handoff(g.ops[stop]) else f"the {g.ops[stop].kind}")
    span = g.span(first)
    return f"{name} in {g.ids[stop]!r}" + (f" (line {span.line})" if span else "")


def _names(g: FlowGraph, comp: list[int], limit: int = 4) -> str:
    ordered = sorted(comp)
    shown = ", ".join(repr(g.ids[i]) for i in ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _dead_reason(op: Op, outcome: str) -> str:
    if op.kind == "collect" and outcome == "ok":
        return " (with choices, a key is reported as match:<key>)"
    if op.kind == "collect" and outcome == "invalid":
        return " (without choices, input is invalid only when min_digits is 2 or more)"
    return ""


def _cond_reason(cond: Cond) -> str:
    """`: <why>` from the first part of the condition that can say why it never holds, else ""."""
    if isinstance(cond, Interval):
        truth, why = interval_truth(cond)
        return f": {why}" if truth is False and why else ""
    reason = getattr(cond, "never_reason", None)
    if callable(reason):
        text = reason()
        return f": {text}" if text else ""
    for part in getattr(cond, "items", ()) if isinstance(cond, (All, AnyOf)) else ():
        if static_truth(part) is False and (text := _cond_reason(part)):
            return text
    return ""


def _read_source(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------
# Entry point


def lint(
    flow: Flow,
    *,
    disable: Iterable[str] = (),
    sources: Mapping[str, str] | None = None,
) -> LintResult:
    """Lint one flow. `disable`: codes (or `CODE@state`) switched off by the caller (the CLI's
    `--disable`); `sources`: file texts to scan for suppression comments (default: read the files
    the flow's spans name, when they exist)."""
    linter = _Linter(flow, sources)
    found = linter.run()
    bad: list[Finding] = []
    suppressions = flow_suppressions(flow, bad, linter.flow_span(), linter.file)
    for item in disable:
        sup = parse_suppression(item, "", "command line", None)
        if isinstance(sup, str):
            raise ValueError(sup)
        suppressions.append(sup)
    for name in sorted(set(linter.files) | {f.location_file for f in found if f.location_file}):
        text = linter.source(name)
        if text is not None and "flowengine-lint:" in text:
            suppressions.extend(file_suppressions(name, text, bad))
    result = LintResult(flow.name)
    seen: set[tuple] = set()
    for finding in found:
        key = (finding.code, finding.span, finding.file, finding.message)
        if key in seen:
            continue  # one report per message and place: a dialect's step may be several states
        seen.add(key)
        match = next((sup for sup in suppressions if sup.matches(finding)), None)
        if match is not None:
            result.suppressed.append((finding, match))
        else:
            result.findings.append(finding)
    result.findings.extend(bad)
    result.findings.sort(key=_order)
    return result


def _order(f: Finding) -> tuple:
    span = f.span
    return (span.file if span else (f.file or ""), span.line if span else 0, span.col if span else 0, f.code,
            f.state or "", f.message)
