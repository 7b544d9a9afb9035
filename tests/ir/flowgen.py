"""Hypothesis strategy for random *valid* IR flows: every edge, entry, handler and reference resolves.

Used by the lint, graph and diff property tests ("never crash on any valid flow"). Flows mix input
states, branches with counters, dials with subroutines, redirects, terminal ops, loops and groups.
"""

from __future__ import annotations

from hypothesis import strategies as st

from flowengine.ir import decode, decode_op
from flowengine.ir.model import Flow

VARS = ["tries", "kind", "choice", "crm", "x"]


def _op(draw, kind: str, ids: list[str]) -> dict:
    var = st.sampled_from(VARS)
    if kind == "say":
        return {"op": "say", "text": draw(st.sampled_from(["Hi", 'say "quoted" \\ # <b>', "${x}"]))}
    if kind == "say_expr":
        return {"op": "say", "text": {"$expr": "template", "src": f"Hello ${{{draw(var)}}}"}}
    if kind == "collect":
        out = {"op": "collect", "prompts": [{"op": "say", "text": "Press"}], "result": draw(st.sampled_from(VARS))}
        if draw(st.booleans()):
            out["choices"] = draw(st.lists(st.sampled_from(["1", "2", "9"]), min_size=1, max_size=3, unique=True))
        else:
            out["min_digits"] = draw(st.integers(0, 3))
            out["max_digits"] = 4
        return out
    if kind == "record":
        return {"op": "record", "max_length": 30}
    if kind == "speech":
        return {"op": "speech", "hints": ["sales"]}
    if kind == "set":
        return {"op": "set", "name": draw(var), "value": {"$expr": "calc", "src": f"{draw(var)} + 1"}}
    if kind == "branch":
        return {"op": "branch", "cases": [
            {"key": "a", "when": {"$expr": "calc", "src": f"{draw(var)} >= 3"}},
            {"key": "b", "when": draw(st.sampled_from([True, False, {"eq": [1, 2]}, {"eq": [{"$expr": "var", "src": "x"}, 1]}]))},
        ]}
    if kind == "dial":
        out = {"op": "dial", "targets": ["+15551112222"], "result": draw(var)}
        if draw(st.booleans()):
            out["on_answer"] = draw(st.sampled_from(ids))
        return out
    if kind == "call":
        return {"op": "call", "entry": draw(st.sampled_from(ids))}
    if kind == "document":
        return {"op": "document", "url": "https://example.com/next.xml", "mode": draw(st.sampled_from(["replace", "call"]))}
    if kind == "http":
        return {"op": "http", "url": "https://example.com/", "params": {"v": {"$expr": "var", "src": draw(var)}}}
    if kind in ("hangup", "reject", "goto", "answer", "log"):
        return {"op": kind, **({"message": "m"} if kind == "log" else {})}
    raise AssertionError(kind)


KINDS = ["say", "say_expr", "collect", "record", "speech", "set", "branch", "dial", "call", "document", "http",
         "hangup", "reject", "goto", "answer", "log"]


@st.composite
def ir_flows(draw, max_states: int = 12, dialect: str | None = None) -> dict:
    """IR JSON of a random valid flow."""
    n = draw(st.integers(1, max_states))
    style = draw(st.sampled_from(["plain", "odd", "grouped"]))  # odd: ids that need quoting in DOT and Mermaid
    ids = [{"plain": f"s{i}", "odd": f'st_{i}"q\\', "grouped": f"g{i % 3}{'.:'[i % 2]}{i}"}[style] for i in range(n)]
    states = {}
    for number, sid in enumerate(ids):
        op = _op(draw, draw(st.sampled_from(KINDS)), ids)
        edges = {}
        for outcome in sorted(decode_op(op).outcomes()):
            if draw(st.integers(0, 3)):
                edges[outcome] = draw(st.sampled_from(ids))
        if edges:
            op["edges"] = edges
        op["span"] = {"file": draw(st.sampled_from(["a.xml", "b.xml"])), "line": number + 1, "col": 1}
        states[sid] = op
    data = {"name": "random", "entry": draw(st.sampled_from(ids)), "states": states}
    if draw(st.booleans()):
        data["handlers"] = {h: draw(st.sampled_from(ids)) for h in draw(st.lists(
            st.sampled_from(["hangup", "error", "lifetime"]), unique=True, max_size=3))}
    if draw(st.booleans()):
        data["variables"] = {v: 0 for v in draw(st.lists(st.sampled_from(VARS), unique=True, max_size=3))}
    if draw(st.booleans()):
        data["lifetime"] = 60
    if draw(st.booleans()):
        data["meta"] = {"groups": [{"name": "g", "kind": "branch",
                                    "states": draw(st.lists(st.sampled_from(ids), unique=True, max_size=n))}]}
    if dialect:
        data["dialect"] = dialect
    return data


def flows(**kwargs) -> st.SearchStrategy[Flow]:
    return ir_flows(**kwargs).map(decode)
