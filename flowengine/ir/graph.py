"""Draw a flow: Graphviz DOT and Mermaid text from the IR, SVG and PNG through Graphviz's `dot`.

Both texts come from one `Drawing` built from the FlowGraph, so they show the same thing: every state
labelled with its id, its op and its source line; every edge with its outcome (an edge the op can never
take is drawn dotted); `on_answer`/`call` subroutines as dashed arrows; the entries (one per trigger)
and the handlers as marker nodes; states clustered by source file (when there are several) and by
`meta.groups` (branches, contexts, sub-documents). A `Highlight` colours what tests exercised
(coverage): green for exercised, red for missed. Rules kept here:

  1. Only the op declarations and the flow decide what is drawn (the picture cannot drift from lint).
  2. Text output is deterministic (flow order), so it diffs well and tests check it structurally.
  3. SVG/PNG need the `dot` program; without it `GraphvizMissing` says how to install it.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field
from typing import Any

from ..errors import FlowengineError
from ..expr import Expr
from .flowgraph import FlowGraph, groups
from .model import Flow, Op, op_fields

__all__ = ["FORMATS", "Highlight", "GraphvizMissing", "Drawing", "to_dot", "to_mermaid", "render", "op_summary"]

FORMATS = ("dot", "mermaid", "svg", "png")

EXERCISED = "#c6efce"
MISSED = "#ffc7ce"
EXERCISED_EDGE = "#2e7d32"
MISSED_EDGE = "#c62828"


class GraphvizMissing(FlowengineError):
    """Graphviz's `dot` program is needed (for SVG/PNG) and is not installed."""


@dataclass(frozen=True)
class Highlight:
    """What to colour as exercised: state ids and (state id, outcome) edges. Everything else is missed."""

    states: frozenset[str] = frozenset()
    edges: frozenset[tuple[str, str]] = frozenset()


# ---------------------------------------------------------------------------------------------------
# What to draw


@dataclass
class Node:
    key: str  # unique, stable id in the output
    lines: list[str]
    shape: str  # state shapes: input, branch, terminal, handoff, dial, plain; markers: entry, handler
    state: str | None = None
    cluster: tuple[str, ...] = ()  # cluster keys, outermost first
    fill: str | None = None


@dataclass
class Edge:
    source: str
    target: str
    label: str
    style: str = "solid"  # solid | dashed (subroutine, handler) | dotted (never taken)
    color: str | None = None


@dataclass
class Drawing:
    """Nodes, edges and cluster titles of one flow, in a stable order."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: dict[tuple[str, ...], str] = field(default_factory=dict)  # path → title

    @classmethod
    def of(cls, flow: Flow, highlight: Highlight | None = None) -> "Drawing":
        g = FlowGraph(flow)
        drawing = cls(flow.name)
        files = sorted({s.span.file for s in g.states if s.span is not None})
        several_files = len(files) > 1
        group_of: dict[str, tuple[str, str]] = {}
        for number, grp in enumerate(groups(flow)):
            title = f"{grp['kind']} {grp['name']}" if grp.get("kind") else grp["name"]
            for sid in grp["states"]:
                group_of.setdefault(str(sid), (f"g{number}", title))
        keys = {sid: f"s{i}" for i, sid in enumerate(g.ids)}
        for i, state in enumerate(g.states):
            path: tuple[str, ...] = ()
            if several_files and state.span is not None:
                path = (f"f{files.index(state.span.file)}",)
                drawing.clusters[path] = state.span.file
            if state.id in group_of:
                gkey, title = group_of[state.id]
                path = path + (gkey,)
                drawing.clusters[path] = title
            lines = [state.id] + ([state.label] if state.label and state.label != state.id else [])
            lines.append(op_summary(state.op))
            if state.span is not None:
                lines.append(f"{state.span.file.rsplit('/', 1)[-1]}:{state.span.line}" if several_files
                             else f"line {state.span.line}")
            fill = None
            if highlight is not None:
                fill = EXERCISED if state.id in highlight.states else MISSED
            drawing.nodes.append(Node(keys[state.id], lines, _shape(state.op), state.id, path, fill))
        for number, (trigger, target) in enumerate(flow.entry.items()):
            if target in keys:
                key = f"entry{number}"
                drawing.nodes.append(Node(key, ["start" if trigger == "*" else trigger], "entry"))
                drawing.edges.append(Edge(key, keys[target], ""))
        for handler, target in flow.handlers.items():
            if target in keys:
                key = f"handler_{handler}"
                drawing.nodes.append(Node(key, [f"on {handler}"], "handler"))
                drawing.edges.append(Edge(key, keys[target], "", "dashed"))
        for i, state in enumerate(g.states):
            source = keys[state.id]
            for outcome, j in g.succ[i]:
                color = None
                if highlight is not None:
                    color = EXERCISED_EDGE if (state.id, outcome) in highlight.edges else MISSED_EDGE
                drawing.edges.append(Edge(source, f"s{j}", outcome, "solid", color))
            for outcome, j in g.dead[i]:
                if j is not None:
                    drawing.edges.append(Edge(source, f"s{j}", f"{outcome} (never)", "dotted"))
            for name, j in g.refs[i]:
                drawing.edges.append(Edge(source, f"s{j}", "call" if name == "entry" else name, "dashed"))
        drawing.edges = _merge_parallel(drawing.edges)
        return drawing


def _merge_parallel(edges: list[Edge]) -> list[Edge]:
    """One arrow for outcomes that lead to the same state the same way (`busy, no-answer, failed`)."""
    merged: dict[tuple, Edge] = {}
    for edge in edges:
        key = (edge.source, edge.target, edge.style, edge.color)
        if key in merged and edge.label:
            merged[key].label = f"{merged[key].label}, {edge.label}"
        else:
            merged.setdefault(key, Edge(edge.source, edge.target, edge.label, edge.style, edge.color))
    return list(merged.values())


def _shape(op: Op) -> str:
    if op.INPUT:
        return "input"
    if op.kind == "branch":
        return "branch"
    if op.TERMINAL:
        return "terminal"
    if op.kind == "document":
        return "handoff"
    if op.kind == "dial":
        return "dial"
    return "plain"


def op_summary(op: Op, width: int = 44) -> str:
    """One short line for an op: its kind and the first fields that differ from their defaults."""
    if op.kind == "set":
        return _cut(f"set {op.name} = {_value(op.value)}", width)
    if op.kind == "branch":
        return _cut("branch " + "; ".join(f"{c.key}: {_cond(c.when.to_json())}" for c in op.cases), width)
    parts = [op.kind]
    shown = 0
    for f, _ in op_fields(type(op)):
        if f.name in ("leg", "result") or shown == 2:
            continue
        value = getattr(op, f.name)
        default = f.default is not MISSING and value == f.default and type(value) is type(f.default)
        if value is None or value == () or default:
            continue
        text = _value(value)
        parts.append(text if shown == 0 else f"{f.name}={text}")
        shown += 1
    return _cut(" ".join(parts), width)


def _value(value: Any) -> str:
    if isinstance(value, Expr):
        return "{" + value.src + "}"
    if isinstance(value, Op):
        return _value(getattr(value, "text", None) or getattr(value, "url", None) or value.kind)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, (list, tuple)):
        return ",".join(_value(v) if isinstance(v, (Op, Expr)) else str(v) for v in value)
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "key", value))


def _cond(data: Any) -> str:
    if isinstance(data, dict) and "$expr" in data:
        return "{" + str(data.get("src", "")) + "}"
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------------
# DOT


_DOT_SHAPES = {
    "input": 'shape=box, style="rounded,bold"',
    "branch": "shape=diamond",
    "terminal": "shape=doubleoctagon",
    "handoff": "shape=box3d",
    "dial": "shape=hexagon",
    "plain": "shape=box",
    "entry": "shape=circle, style=filled, fillcolor=black, fontcolor=white, fontsize=9, margin=0.02",
    "handler": "shape=note",
}


def _dq(text: str) -> str:
    """A DOT quoted string (a backslash in author text stays a backslash)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
                            for line in lines) + '"'


def to_dot(flow: Flow, highlight: Highlight | None = None) -> str:
    """Graphviz DOT text of the flow (with `highlight`, coloured by coverage)."""
    d = Drawing.of(flow, highlight)
    out = [f"digraph {_dq(d.name)} {{", '  graph [rankdir=TB, fontname="Helvetica"];',
           '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']

    def node_line(node: Node, indent: str) -> str:
        attrs = f"label={_dot_label(node.lines)}, {_DOT_SHAPES[node.shape]}"
        if node.fill:
            style = "rounded,bold,filled" if node.shape == "input" else "filled"
            attrs += f', style="{style}", fillcolor="{node.fill}"'
        return f"{indent}{_dq(node.key)} [{attrs}];"

    def emit(path: tuple[str, ...], indent: str) -> None:
        for node in d.nodes:
            if node.cluster == path:
                out.append(node_line(node, indent))
        children = [p for p in d.clusters if len(p) == len(path) + 1 and p[: len(path)] == path]
        for child in children:
            out.append(f"{indent}subgraph {_dq('cluster_' + '_'.join(child))} {{")
            out.append(f"{indent}  label={_dq(d.clusters[child])}; style=rounded; color=gray50;")
            emit(child, indent + "  ")
            out.append(f"{indent}}}")

    emit((), "  ")
    for edge in d.edges:
        attrs = [f"label={_dq(edge.label)}"] if edge.label else []
        if edge.style != "solid":
            attrs.append(f"style={edge.style}")
        if edge.color:
            attrs.append(f'color="{edge.color}", fontcolor="{edge.color}", penwidth=2')
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f"  {_dq(edge.source)} -> {_dq(edge.target)}{tail};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Mermaid


_MERMAID_SHAPES = {
    "input": ("([", "])"),
    "branch": ("{", "}"),
    "terminal": ("(((", ")))"),
    "handoff": ("[[", "]]"),
    "dial": ("{{", "}}"),
    "plain": ("[", "]"),
    "entry": ("((", "))"),
    "handler": (">", "]"),
}


def _mq(text: str) -> str:
    """Mermaid label text inside double quotes: entity codes for characters Mermaid would parse."""
    text = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return text.replace("\n", " ")


def to_mermaid(flow: Flow, highlight: Highlight | None = None) -> str:
    """Mermaid `flowchart` text of the flow (with `highlight`, coloured by coverage)."""
    d = Drawing.of(flow, highlight)
    out = ["flowchart TD"]

    def node_line(node: Node, indent: str) -> str:
        left, right = _MERMAID_SHAPES[node.shape]
        return f'{indent}{node.key}{left}"{"<br/>".join(_mq(line) for line in node.lines)}"{right}'

    def emit(path: tuple[str, ...], indent: str) -> None:
        for node in d.nodes:
            if node.cluster == path:
                out.append(node_line(node, indent))
        children = [p for p in d.clusters if len(p) == len(path) + 1 and p[: len(path)] == path]
        for child in children:
            out.append(f'{indent}subgraph {"_".join(child)}["{_mq(d.clusters[child])}"]')
            emit(child, indent + "  ")
            out.append(f"{indent}end")

    emit((), "  ")
    arrows = {"solid": "-->", "dashed": "-.->", "dotted": "-.-x"}
    for edge in d.edges:
        label = f'|"{_mq(edge.label)}"|' if edge.label else ""
        out.append(f"  {edge.source} {arrows[edge.style]}{label} {edge.target}")
    if highlight is not None:
        out.append(f"  classDef exercised fill:{EXERCISED},stroke:{EXERCISED_EDGE}")
        out.append(f"  classDef missed fill:{MISSED},stroke:{MISSED_EDGE}")
        for cls, fill in (("exercised", EXERCISED), ("missed", MISSED)):
            keys = [n.key for n in d.nodes if n.fill == fill]
            if keys:
                out.append(f"  class {','.join(keys)} {cls}")
        for number, edge in enumerate(d.edges):
            if edge.color:
                out.append(f"  linkStyle {number} stroke:{edge.color},stroke-width:2px")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Rendering


def render(flow: Flow, fmt: str, highlight: Highlight | None = None) -> str | bytes:
    """The flow drawn as `fmt`: dot and mermaid give text, svg and png give bytes (need `dot`)."""
    if fmt == "dot":
        return to_dot(flow, highlight)
    if fmt == "mermaid":
        return to_mermaid(flow, highlight)
    if fmt in ("svg", "png"):
        return render_dot(to_dot(flow, highlight), fmt)
    raise ValueError(f"unknown graph format {fmt!r} (known: {', '.join(FORMATS)})")


def render_dot(source: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on DOT text; GraphvizMissing when it is not installed."""
    import graphviz

    try:
        return graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing(
            f"cannot draw {fmt}: Graphviz's `dot` program is not installed (Debian/Ubuntu: apt-get install "
            "graphviz; macOS: brew install graphviz); --format dot and --format mermaid need no Graphviz"
        ) from None
