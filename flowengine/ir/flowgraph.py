"""A flow as numbered nodes and edges: what lint, graph, coverage and diff all walk.

`FlowGraph(flow)` numbers the states in flow order and resolves every edge once, sorting them into
edges the op can really take (`succ`), edges for outcomes it can never produce (`dead`) and state
references in op fields (`refs`: a dial's `on_answer`, a call's `entry`). Rules kept here:

  1. Only the op declarations decide (`outcomes()`, `TERMINAL`, `refs()`); `possible_outcomes` is the
     one place that knows when an op's settings rule a declared outcome out.
  2. Edges to missing states are skipped, never followed (validate_flow reports them), so every walk
     works on any Flow, valid or not.
  3. Walks are iterative (no recursion limit) and linear in states plus edges.

Dialect structure travels in `flow.meta.groups`: `[{name, kind, states: [ids], span?}]` names the
branches, contexts or sub-documents a state belongs to (graph clusters them; lint reports a group
that never runs); without it, `groups` derives them from the dialect's state ids.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Callable, Iterable, Mapping

from ..diagnostics import Span
from ..expr import Expr
from .model import Flow, Op

__all__ = ["FlowGraph", "possible_outcomes", "is_handoff", "sccs", "reverse_postorder", "groups", "span_from_json"]


def possible_outcomes(op: Op) -> frozenset[str]:
    """The outcomes the interpreter can produce for `op`: its declared outcomes minus those its
    settings rule out. A collect with `choices` never gives `ok` (a listed key is `match:<key>`); one
    without choices gives `invalid` only when it needs 2+ digits; a `document` in replace mode never
    gives `ok` (the call continues in the fetched document)."""
    outcomes = op.outcomes()
    kind = op.kind
    if kind == "collect":
        if op.choices is not None:
            outcomes = outcomes - {"ok"}
        elif not isinstance(op.min_digits, Expr) and op.min_digits <= 1:
            outcomes = outcomes - {"invalid"}
    elif kind == "document" and op.mode == "replace":
        outcomes = outcomes - {"ok"}
    return outcomes


def is_handoff(op: Op) -> bool:
    """The op hands the call over for good: a redirect (a `document` in replace mode)."""
    return op.kind == "document" and op.mode == "replace"


class FlowGraph:
    """States numbered in flow order, with edges resolved to numbers.

    `succ[i]`: (outcome, j) for edges the op can take; `dead[i]`: (outcome, j or None) for declared
    outcomes the op never produces; `refs[i]`: (field, j) for states named in op fields; `roots`:
    entry and handler states."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.ids: list[str] = list(flow.states)
        self.index = {sid: i for i, sid in enumerate(self.ids)}
        self.states = [flow.states[sid] for sid in self.ids]
        self.ops = [s.op for s in self.states]
        self.possible = [possible_outcomes(op) for op in self.ops]
        n = len(self.ids)
        self.succ: list[list[tuple[str, int]]] = [[] for _ in range(n)]
        self.dead: list[list[tuple[str, int | None]]] = [[] for _ in range(n)]
        self.refs: list[list[tuple[str, int]]] = [[] for _ in range(n)]
        for i, state in enumerate(self.states):
            possible = self.possible[i]
            declared = self.ops[i].outcomes()
            for outcome, target in state.edges.items():
                j = self.index.get(target)
                if outcome in possible:
                    if j is not None:
                        self.succ[i].append((outcome, j))
                elif outcome in declared:
                    self.dead[i].append((outcome, j))
            for name, target in self.ops[i].refs().items():
                j = self.index.get(target)
                if j is not None:
                    self.refs[i].append((name, j))
        self.roots = [self.index[t] for t in list(flow.entry.values()) + list(flow.handlers.values())
                      if t in self.index]

    def __len__(self) -> int:
        return len(self.ids)

    def span(self, i: int) -> Span | None:
        return self.states[i].span

    def successors(self, i: int) -> list[int]:
        """Every state `i` can lead to: its edges and the subroutines it starts."""
        return [j for _, j in self.succ[i]] + [j for _, j in self.refs[i]]

    def reachable(self, roots: Iterable[int] | None = None) -> list[bool]:
        """Which states some call can run from `roots` (default: every entry and handler)."""
        seen = [False] * len(self.ids)
        queue: deque[int] = deque()
        for r in self.roots if roots is None else roots:
            if not seen[r]:
                seen[r] = True
                queue.append(r)
        while queue:
            for j in self.successors(queue.popleft()):
                if not seen[j]:
                    seen[j] = True
                    queue.append(j)
        return seen

    def ends_frame(self, i: int) -> bool:
        """The state can end its frame: a terminal op, or a possible outcome without an edge."""
        if self.ops[i].TERMINAL:
            return True
        edges = self.states[i].edges
        return any(o not in edges for o in self.possible[i])

    def region(self, entry: int) -> list[int]:
        """States a frame starting at `entry` can run (its edges, not the subroutines it starts)."""
        seen = {entry}
        queue = deque([entry])
        while queue:
            for _, j in self.succ[queue.popleft()]:
                if j not in seen:
                    seen.add(j)
                    queue.append(j)
        return sorted(seen)

    def previous_element(self) -> list[list[int]]:
        """For each state, the states of the author's element written just before it in the same file.

        An element is the states that share one source position (a compiler may turn one verb or
        step into several states); `[]` for the first element of a file or a state without a span."""
        positions: dict[tuple[str, int, int], list[int]] = {}
        for i, state in enumerate(self.states):
            if state.span is not None:
                positions.setdefault((state.span.file, state.span.line, state.span.col), []).append(i)
        out: list[list[int]] = [[] for _ in self.ids]
        ordered = sorted(positions)
        for before, here in zip(ordered, ordered[1:]):
            if before[0] == here[0]:
                for i in positions[here]:
                    out[i] = positions[before]
        return out

    def first_in_source(self, nodes: Iterable[int]) -> int:
        """The node written first (by file, line, column); flow order when there are no spans."""
        def key(i: int) -> tuple:
            span = self.span(i)
            return (0, span.file, span.line, span.col, i) if span else (1, "", 0, 0, i)

        return min(nodes, key=key)


def sccs(n: int, succ: Callable[[int], Iterable[int]]) -> list[list[int]]:
    """Strongly connected components of nodes 0..n-1 (iterative Tarjan)."""
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for start in range(n):
        if index[start] != -1:
            continue
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack[start] = True
        work = [(start, iter(succ(start)))]
        while work:
            node, it = work[-1]
            descended = False
            for nxt in it:
                if index[nxt] == -1:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, iter(succ(nxt))))
                    descended = True
                    break
                if on_stack[nxt] and index[nxt] < low[node]:
                    low[node] = index[nxt]
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack[top] = False
                    component.append(top)
                    if top == node:
                        break
                out.append(component)
    return out


def reverse_postorder(n: int, roots: Iterable[int], succ: Callable[[int], Iterable[int]]) -> list[int]:
    """Every node, roots' depth-first reverse postorder first (the fast order for forward data flow)."""
    seen = [False] * n
    post: list[int] = []
    for root in list(roots) + list(range(n)):
        if seen[root]:
            continue
        seen[root] = True
        work = [(root, iter(succ(root)))]
        while work:
            node, it = work[-1]
            for nxt in it:
                if not seen[nxt]:
                    seen[nxt] = True
                    work.append((nxt, iter(succ(nxt))))
                    break
            else:
                work.pop()
                post.append(node)
    post.reverse()
    return post


_GROUP_PREFIX = re.compile(r"^([^.:/]+)[.:/]")


def groups(flow: Flow) -> list[Mapping[str, Any]]:
    """The flow's groups: `meta.groups` entries that are well-formed ({name, kind, states, span?}).

    Without `meta.groups`, a dialect's flow is grouped by the state-id convention its compiler follows
    (`<branch>.<step>`, `<context>:<option>`): the id up to its first `.`, `:` or `/`, for prefixes
    shared by two states or more. IR JSON written by hand is not grouped."""
    found = flow.meta.get("groups") if isinstance(flow.meta, Mapping) else None
    if isinstance(found, (list, tuple)):
        return [g for g in found if isinstance(g, Mapping) and isinstance(g.get("name"), str)
                and isinstance(g.get("states"), (list, tuple))]
    if flow.dialect == "ir":
        return []
    by_prefix: dict[str, list[str]] = {}
    for sid in flow.states:
        match = _GROUP_PREFIX.match(sid)
        by_prefix.setdefault(match.group(1) if match else sid, []).append(sid)
    return [{"name": name, "kind": "", "states": ids} for name, ids in by_prefix.items() if len(ids) > 1]


def span_from_json(data: Any) -> Span | None:
    """A Span from IR JSON `{file, line, col}` found in meta; None when it is not one."""
    if not isinstance(data, Mapping) or not isinstance(data.get("file"), str):
        return None
    try:
        return Span(data["file"], int(data.get("line", 1)), int(data.get("col", 1)))
    except (TypeError, ValueError):
        return None
