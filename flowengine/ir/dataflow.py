"""Variables in a flow: what each op reads and writes, and which reads may happen before any write.

Reads are the names in the op's expressions (through each language's `names` hook) and in its
conditions; writes are a `set`'s name, an `assign`'s keys and any op's `result`. Rules kept here:

  1. A read this module cannot see (an expression language without `names`) makes `Reads.complete`
     false; callers then skip conclusions that need every read (lint's unused variables).
  2. `maybe_unset` is a forward must-be-assigned analysis over bitsets, iterated in reverse postorder
     to a fixed point: linear in states plus edges times the (small) loop nesting depth.
  3. Frames follow the interpreter: a dial binds its result before `on_answer` runs; a `call` (or an
     answered dial's `on_answer`) continues with what its subroutine sets on every way out.
     Handlers start from the declared variables only, since they may run before the first state.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from ..expr import Expr, expr_names
from ..expr.conditions import Cond
from .flowgraph import FlowGraph, reverse_postorder
from .model import Case, Op, op_fields

__all__ = ["BUILTIN_NAMES", "Reads", "expr_reads", "op_reads", "op_writes", "declared_names", "maybe_unset"]

BUILTIN_NAMES = frozenset({"call", "now", "sms"})
"""Read-only names every expression sees (the interpreter's `RESERVED`): never unset."""


class Reads:
    """The variable names an op reads, whether that is all of them, and (on request) its literal strings."""

    __slots__ = ("names", "complete", "strings")

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.complete = True
        self.strings: set[str] = set()


_NAMES_CACHE: dict[tuple[str, str], frozenset[str] | None] = {}


def _expr_reads(expr: Expr) -> frozenset[str] | None:
    key = (expr.lang, expr.src)
    if key not in _NAMES_CACHE:
        _NAMES_CACHE[key] = expr_names(expr)
    return _NAMES_CACHE[key]


def _walk(value: Any, out: Reads, strings: bool) -> None:
    if isinstance(value, Expr):
        names = _expr_reads(value)
        if names is not None:
            out.names.update(names)
        elif isinstance(value.compiled, Cond):  # a condition used as an expression (`cond`)
            _walk(value.compiled, out, strings)
        else:
            out.complete = False
    elif isinstance(value, str):
        if strings:
            out.strings.add(value)
    elif isinstance(value, Op):
        for f, _ in op_fields(type(value)):
            _walk(getattr(value, f.name), out, strings)
    elif isinstance(value, Case):
        _walk(value.when, out, strings)
    elif isinstance(value, Cond):
        hook = getattr(value, "names", None)
        if callable(hook):  # a condition kind that reads variables by name rather than by expression
            out.names.update(hook())
        if is_dataclass(value):
            for f in fields(value):
                _walk(getattr(value, f.name), out, strings)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk(item, out, strings)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, out, strings)


def expr_reads(value: Any) -> frozenset[str] | None:
    """The variable names a value (an expression, a condition…) reads; None when some are unknown."""
    out = Reads()
    _walk(value, out, False)
    return frozenset(out.names) if out.complete else None


def op_reads(op: Op, strings: bool = False) -> Reads:
    """What `op` reads when it runs (prompts and conditions included; its writes excluded)."""
    out = Reads()
    for f, _ in op_fields(type(op)):
        if f.name == "result" or (op.kind == "set" and f.name == "name"):
            continue
        _walk(getattr(op, f.name), out, strings)
    return out


def op_writes(op: Op) -> tuple[str, ...] | None:
    """Variables the op assigns: a `set`'s name, an `assign`'s keys, any op's `result`. None when it
    may assign any variable: an `assign` of a computed object (a script), or a `document` run as a
    subroutine (the fetched document shares the call's variables)."""
    out = []
    if op.kind == "set":
        out.append(op.name)
    elif op.kind == "assign":
        if isinstance(op.values, Expr):
            return None
        out.extend(op.values)
    elif op.kind == "document" and op.mode == "call":
        return None
    if op.result:
        out.append(op.result)
    return tuple(out)


def declared_names(flow: Any) -> set[str]:
    """Variables the flow starts with: `variables` (with a value) and `declared` (start variables)."""
    return set(flow.variables) | set(flow.declared or ())


def maybe_unset(g: FlowGraph, reads: list[Reads], declared: set[str]) -> list[tuple[int, str]]:
    """(state, name) for each read of `name` at a reachable state that some path reaches without
    assigning it. Only names the flow assigns somewhere are considered (a name nothing assigns is a
    start variable or a language's global, such as JavaScript's `Math`); `declared` and
    BUILTIN_NAMES are assigned from the start; an op that may assign anything assigns everything."""
    n = len(g)
    writes = [op_writes(op) for op in g.ops]
    slot: dict[str, int] = {}
    for w in writes:
        for name in w or ():
            slot.setdefault(name, len(slot))
    if not slot:
        return []
    bit = {name: 1 << k for name, k in slot.items()}
    everything = (1 << len(slot)) - 1
    base = 0
    for name in declared | BUILTIN_NAMES:
        base |= bit.get(name, 0)
    gen = [everything if w is None else sum(bit[name] for name in set(w)) for w in writes]
    before_sub = [bit[op.result] if op.kind == "dial" and op.result else 0 for op in g.ops]

    # incoming[t]: (source, subroutine whose exits also flow along this edge, or -1)
    incoming: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    callers: list[list[int]] = [[] for _ in range(n)]  # states whose subroutine frame starts at t
    for i, op in enumerate(g.ops):
        refs = dict(g.refs[i])
        sub = refs.get("entry", -1) if op.kind == "call" else refs.get("on_answer", -1) if op.kind == "dial" else -1
        for outcome, j in g.succ[i]:
            through = sub if sub >= 0 and (op.kind == "call" or outcome == "answered") else -1
            incoming[j].append((i, through))
        for _, j in g.refs[i]:
            callers[j].append(i)
    exits = {e: [x for x in g.region(e) if g.ends_frame(x)] for e in range(n) if callers[e]}
    roots = set(g.roots)
    order = reverse_postorder(n, g.roots, g.successors)

    IN = [everything] * n
    exit_must = {e: everything for e in exits}
    changed = True
    while changed:
        changed = False
        for t in order:
            value = base if t in roots else everything
            for s, sub in incoming[t]:
                value &= IN[s] | gen[s] | (exit_must[sub] if sub >= 0 else 0)
            for s in callers[t]:
                value &= IN[s] | before_sub[s]
            if value != IN[t]:
                IN[t] = value
                changed = True
        for e, members in exits.items():
            value = everything
            for x in members:
                value &= IN[x] | gen[x]
            if value != exit_must[e]:
                exit_must[e] = value
                changed = True

    reach = g.reachable()
    out = []
    for i, r in enumerate(reads):
        if not reach[i] or not r.names:
            continue
        for name in sorted(r.names):
            if name in bit and not IN[i] & bit[name]:
                out.append((i, name))
    return out
