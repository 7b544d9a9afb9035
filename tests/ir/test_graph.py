"""`flowengine graph` (flowengine/ir/graph.py): DOT and Mermaid checked structurally, SVG/PNG through `dot`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine import formats
from flowengine.cli import main
from flowengine.ir import decode
from flowengine.ir.flowgraph import FlowGraph
from flowengine.ir.graph import GraphvizMissing, Highlight, render, to_dot, to_mermaid
from tests.ir.flowgen import flows

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows" / "demo-menu.flow.json"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")

# -- tiny structural parsers -------------------------------------------------------------------------------

_Q = r'"((?:[^"\\]|\\.)*)"'
DOT_NODE = re.compile(rf"^\s*{_Q} \[(.*)\];$")
DOT_EDGE = re.compile(rf"^\s*{_Q} -> {_Q}(?: \[(.*)\])?;$")
DOT_LABEL = re.compile(rf"label={_Q}")


def _unq(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_dot(text: str) -> tuple[dict, list, list]:
    """(nodes: key → (label lines, attrs), edges: (src, dst, label, attrs), cluster labels)."""
    nodes, edges, clusters = {}, [], []
    for line in text.splitlines():
        if m := DOT_EDGE.match(line):
            attrs = m.group(3) or ""
            label = DOT_LABEL.search(attrs)
            edges.append((_unq(m.group(1)), _unq(m.group(2)), _unq(label.group(1)) if label else "", attrs))
        elif m := DOT_NODE.match(line):
            nodes[_unq(m.group(1))] = (_unq(DOT_LABEL.search(m.group(2)).group(1)).split("\n"), m.group(2))
        elif "label=" in line and "cluster" not in line and line.strip().startswith("label="):
            clusters.append(_unq(DOT_LABEL.search(line).group(1)))
    return nodes, edges, clusters


MM_NODE = re.compile(r'^\s*(s\d+|entry\d+|handler_\w+)(\(\(\(|\(\[|\[\[|\{\{|\(\(|\[|\{|>)"([^"]*)"(\)\)\)|\]\)|\]\]|\}\}|\)\)|\]|\})$')
MM_EDGE = re.compile(r'^\s*(\S+) (-->|-\.->|-\.-x)(?:\|"([^"]*)"\|)? (\S+)$')


def parse_mermaid(text: str) -> tuple[dict, list]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes, edges, depth = {}, [], 0
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("subgraph "):
            depth += 1
        elif stripped == "end":
            depth -= 1
        elif m := MM_EDGE.match(line):
            edges.append((m.group(1), m.group(4), m.group(3) or "", m.group(2)))
        elif m := MM_NODE.match(line):
            nodes[m.group(1)] = m.group(3).split("<br/>")
        elif not stripped.startswith(("classDef ", "class ", "linkStyle ")):
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
        assert depth >= 0
    assert depth == 0
    return nodes, edges


def check_structure(flow, nodes: dict, edges: list, first_line) -> None:
    """Every state is a node labelled with its id and op; every takeable edge is drawn with its outcome."""
    key_of = {}
    for key, lines in nodes.items():
        if key.startswith("s"):
            key_of[first_line(lines)] = key
    g = FlowGraph(flow)
    assert sorted(key_of) == sorted(flow.states)
    for sid, state in flow.states.items():
        lines = nodes[key_of[sid]]
        lines = lines[0] if isinstance(lines, tuple) else lines
        assert any(line.startswith(state.op.kind) for line in lines), (sid, lines)
    for i in range(len(g)):
        for outcome, j in g.succ[i]:
            assert any(s == key_of[g.ids[i]] and d == key_of[g.ids[j]] and outcome in label.split(", ")
                       for s, d, label, *_ in edges), (g.ids[i], outcome, g.ids[j])


def _dot_first(lines):
    return lines[0][0]


def _mm_first(lines):
    return lines[0].replace("#quot;", '"').replace("#lt;", "<").replace("#gt;", ">").replace("#35;", "#")


# -- DOT -------------------------------------------------------------------------------------------------


def test_dot_of_the_demo_has_every_state_edge_entry_and_handler():
    flow = formats.load(DEMO)
    text = to_dot(flow)
    nodes, edges, _ = parse_dot(text)
    check_structure(flow, nodes, edges, _dot_first)
    menu = next(lines for lines, _ in nodes.values() if lines[0] == "menu")
    assert menu[1].startswith("collect") and menu[2] == "line 9"
    assert nodes["entry0"][0] == ["start"] and ("entry0", "s0") == edges[0][:2]
    handler = nodes["handler_hangup"]
    assert handler[0] == ["on hangup"]
    assert any(s == "handler_hangup" and "style=dashed" in attrs for s, d, label, attrs in edges)
    assert "shape=diamond" not in text and "shape=doubleoctagon" in text  # the hangup state


def test_dot_marks_subroutines_dead_edges_and_triggers():
    flow = decode({"entry": {"inbound-call": "menu", "api": "d"}, "states": {
        "menu": {"op": "collect", "choices": ["1"], "edges": {"ok": "d", "match:1": "d", "timeout": "d"}},
        "d": {"op": "dial", "targets": ["+1"], "on_answer": "whisper", "edges": {"answered": "b"}},
        "whisper": {"op": "say", "text": "hi"},
        "b": {"op": "branch", "cases": [{"key": "k", "when": True}], "edges": {"match:k": "d"}},
    }})
    nodes, edges, _ = parse_dot(to_dot(flow))
    menu_to_dial = [(label, attrs) for s, d, label, attrs in edges if (s, d) == ("s0", "s1")]
    assert menu_to_dial == [("match:1, timeout", 'label="match:1, timeout"'),
                            ("ok (never)", 'label="ok (never)", style=dotted')]
    assert ("s1", "s2", "on_answer", 'label="on_answer", style=dashed') in edges
    assert {nodes["entry0"][0][0], nodes["entry1"][0][0]} == {"inbound-call", "api"}
    assert "shape=diamond" in nodes["s3"][1] and "shape=hexagon" in nodes["s1"][1]


def test_dot_clusters_groups_and_files():
    flow = decode({"entry": "main.0", "meta": {"groups": [
        {"name": "main", "kind": "branch", "states": ["main.0"]},
        {"name": "answered", "kind": "branch", "states": ["answered.0"]}]},
        "states": {
            "main.0": {"op": "say", "text": "a", "next": "answered.0", "span": {"file": "a.yaml", "line": 3, "col": 5}},
            "answered.0": {"op": "say", "text": "b", "next": "other", "span": {"file": "a.yaml", "line": 7, "col": 5}},
            "other": {"op": "hangup", "span": {"file": "b.yaml", "line": 1, "col": 1}},
        }})
    text = to_dot(flow)
    assert text.count("subgraph ") == 4  # two files, two branches inside the first
    _, _, clusters = parse_dot(text)
    assert clusters == ["a.yaml", "branch main", "branch answered", "b.yaml"]
    nodes, _, _ = parse_dot(text)
    assert nodes["s0"][0][-1] == "a.yaml:3"  # with several files, the line says which file
    mermaid = to_mermaid(flow)
    assert 'subgraph f0["a.yaml"]' in mermaid and 'subgraph f0_g0["branch main"]' in mermaid


def test_highlight_colours_exercised_and_missed():
    flow = formats.load(DEMO)
    text = to_dot(flow, Highlight(frozenset({"welcome", "menu"}), frozenset({("welcome", "ok")})))
    nodes, edges, _ = parse_dot(text)
    assert 'fillcolor="#c6efce"' in nodes["s0"][1] and 'fillcolor="#ffc7ce"' in nodes["s2"][1]
    welcome_ok = next(attrs for s, d, label, attrs in edges if (s, d) == ("s0", "s1"))
    assert "#2e7d32" in welcome_ok
    assert all("#c62828" in attrs for s, d, label, attrs in edges if s == "s1")
    mermaid = to_mermaid(flow, Highlight(frozenset({"welcome"}), frozenset({("welcome", "ok")})))
    assert "class s0 exercised" in mermaid and "linkStyle 2 stroke:#2e7d32" in mermaid


def test_awkward_text_is_escaped():
    flow = decode({"entry": 'a"b\\', "states": {
        'a"b\\': {"op": "say", "text": 'He said "hi" \\ then # <b>', "next": "c"},
        "c": {"op": "hangup"}}})
    nodes, edges, _ = parse_dot(to_dot(flow))
    assert nodes["s0"][0][:2] == ['a"b\\', 'say "He said "hi" \\ then # <b>"']
    mm_nodes, _ = parse_mermaid(to_mermaid(flow))
    assert mm_nodes["s0"][1] == "say #quot;He said #quot;hi#quot; \\ then #35; #lt;b#gt;#quot;"


# -- Mermaid ---------------------------------------------------------------------------------------------


def test_mermaid_of_the_demo_has_every_state_and_edge():
    flow = formats.load(DEMO)
    nodes, edges = parse_mermaid(to_mermaid(flow))
    check_structure(flow, nodes, edges, _mm_first)
    assert nodes["handler_hangup"] == ["on hangup"] and ("handler_hangup", "s16", "", "-.->") in edges


# -- every flow --------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.one_of(flows(), flows(dialect="actions10")))  # a dialect's flow is clustered by its ids
def test_dot_and_mermaid_draw_every_valid_flow(flow):
    nodes, edges, _ = parse_dot(to_dot(flow))
    check_structure(flow, nodes, edges, _dot_first)
    nodes, edges = parse_mermaid(to_mermaid(flow))
    check_structure(flow, nodes, edges, _mm_first)


@needs_dot
@settings(max_examples=15, deadline=None)
@given(flows())
def test_dot_accepts_what_we_write(flow):
    subprocess.run(["dot", "-Tcanon"], input=to_dot(flow).encode(), check=True, capture_output=True)


# -- SVG and PNG -------------------------------------------------------------------------------------------


@needs_dot
def test_svg_and_png():
    flow = formats.load(DEMO)
    svg = render(flow, "svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and b"menu" in svg
    assert render(flow, "png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_dot_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(formats.load(DEMO), "svg")
    assert main(["graph", str(DEMO), "--format", "png", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "error[E_NO_GRAPHVIZ]" in err and "--format dot" in err
    assert not (tmp_path / "x.png").exists()


def test_cli_graph(tmp_path, capsys):
    assert main(["graph", str(DEMO)]) == 0
    assert capsys.readouterr().out.startswith('digraph "demo-menu" {')
    assert main(["graph", str(DEMO), "--format", "mermaid", "-o", str(tmp_path / "g.mmd")]) == 0
    assert (tmp_path / "g.mmd").read_text().startswith("flowchart TD")
    assert main(["graph", str(ROOT / "tests" / "ir" / "fixtures" / "missing-target.flow.json")]) == 1
    assert "E_UNKNOWN_STATE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["graph", str(DEMO), "--format", "gif"])
    assert exc.value.code == 2
