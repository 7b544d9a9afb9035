"""Call-path coverage: which states and which edges of each flow the simulated calls exercised.

Fed from `Transcript.steps` — (flow name, state id, outcome) per executed state — so it measures what the
interpreter really did. Rules kept here:

  1. A state is exercised when it ran; an edge (state, outcome) when the state ran and produced that
     outcome. Edges for outcomes the op can never produce (lint's L_DEAD_EDGE) are not counted: they
     could never be covered.
  2. Flows are keyed by their file (the absolute path of their states' span file), or by name when
     they have no spans.
     Steps of other flows (documents fetched during the call) are ignored, as are step ids the flow
     does not have.
  3. The text report lists percentages, then every untested edge with its source line, in source order.
     The HTML page draws each flow coloured by coverage: inline SVG when Graphviz's `dot` is installed,
     else a Mermaid diagram (drawn in the browser), always followed by the same lists as tables.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..diagnostics import Span
from ..ir.flowgraph import FlowGraph
from ..ir.graph import GraphvizMissing, Highlight, op_summary, render_dot, to_dot, to_mermaid
from ..ir.model import Flow

__all__ = ["Coverage", "FlowCoverage", "flow_key"]

Step = tuple[str, str, str]


def flow_key(flow: Flow) -> str:
    """How coverage names a flow: the absolute path of the file its states come from, else its name
    (so `menu.flow.json` and `/work/flows/menu.flow.json` count as one flow)."""
    file = next((s.span.file for s in flow.states.values() if s.span is not None), None)
    if file is None:
        return flow.name
    return os.path.abspath(file) if os.path.exists(file) else file


@dataclass(frozen=True)
class EdgeInfo:
    state: str
    outcome: str
    target: str
    span: Span | None


@dataclass
class FlowCoverage:
    """What the calls of one flow exercised."""

    key: str
    flow: Flow
    states: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)
    calls: int = 0

    def __post_init__(self) -> None:
        g = FlowGraph(self.flow)
        self.all_edges = [EdgeInfo(g.ids[i], outcome, g.ids[j], g.span(i))
                          for i in range(len(g)) for outcome, j in g.succ[i]]

    def record(self, steps: Iterable[Step]) -> None:
        self.calls += 1
        states = self.flow.states
        for name, sid, outcome in steps:
            if name != self.flow.name or sid not in states:
                continue
            self.states.add(sid)
            if outcome in states[sid].edges:
                self.edges.add((sid, outcome))

    @property
    def state_total(self) -> int:
        return len(self.flow.states)

    @property
    def edge_total(self) -> int:
        return len(self.all_edges)

    @property
    def edges_covered(self) -> int:
        return sum(1 for e in self.all_edges if (e.state, e.outcome) in self.edges)

    def untested_edges(self) -> list[EdgeInfo]:
        """Edges no call took, in source order."""
        missed = [e for e in self.all_edges if (e.state, e.outcome) not in self.edges]
        return sorted(missed, key=lambda e: _span_key(e.span))

    def untested_states(self) -> list[str]:
        return sorted((sid for sid in self.flow.states if sid not in self.states),
                      key=lambda sid: _span_key(self.flow.states[sid].span))

    def highlight(self) -> Highlight:
        return Highlight(frozenset(self.states), frozenset(self.edges))

    def summary(self) -> str:
        return (f"states {len(self.states)}/{self.state_total} ({_percent(len(self.states), self.state_total)}), "
                f"edges {self.edges_covered}/{self.edge_total} ({_percent(self.edges_covered, self.edge_total)}), "
                f"{self.calls} call{'s' if self.calls != 1 else ''}")


class Coverage:
    """Coverage of every flow the calls ran, keyed by `flow_key`."""

    def __init__(self) -> None:
        self.flows: dict[str, FlowCoverage] = {}

    def record(self, flow: Flow, steps: Iterable[Step], key: str | None = None) -> None:
        """Count one call of `flow` (its transcript's `steps`)."""
        key = key or flow_key(flow)
        if key not in self.flows:
            self.flows[key] = FlowCoverage(key, flow)
        self.flows[key].record(steps)

    def report(self) -> str:
        """The text report: per flow, percentages, untested edges with their source lines, states never run."""
        if not self.flows:
            return "flow coverage: no flow ran\n"
        lines = ["flow coverage:"]
        for key in sorted(self.flows):
            cov = self.flows[key]
            lines.append(f"  {_shown(key)} ({cov.flow.name}): {cov.summary()}")
            missed = cov.untested_edges()
            if missed:
                lines.append("    untested edges:")
                for e in missed:
                    where = _shown(str(e.span)) if e.span else _shown(key)
                    lines.append(f"      {where}: {e.state} --{e.outcome}--> {e.target}")
            never = cov.untested_states()
            if never:
                lines.append("    states never run: " + ", ".join(
                    f"{sid} (line {cov.flow.states[sid].span.line})" if cov.flow.states[sid].span else sid
                    for sid in never))
        states = sum(len(c.states) for c in self.flows.values())
        state_total = sum(c.state_total for c in self.flows.values())
        edges = sum(c.edges_covered for c in self.flows.values())
        edge_total = sum(c.edge_total for c in self.flows.values())
        lines.append(f"  total: states {states}/{state_total} ({_percent(states, state_total)}), "
                     f"edges {edges}/{edge_total} ({_percent(edges, edge_total)})")
        return "\n".join(lines) + "\n"

    def write_html(self, directory: str | Path, graphs: str = "auto") -> Path:
        """Write `directory/index.html`; `graphs`: auto (SVG when `dot` is installed), svg or mermaid."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        out = path / "index.html"
        tmp = out.with_suffix(".html.tmp")
        tmp.write_text(self.html(graphs), encoding="utf-8")
        tmp.replace(out)
        return out

    def html(self, graphs: str = "auto") -> str:
        body = []
        uses_mermaid = False
        for key in sorted(self.flows):
            cov = self.flows[key]
            body.append(f'<section><h2>{_e(key)} <small>({_e(cov.flow.name)})</small></h2>')
            body.append(f"<p>{_e(cov.summary())}</p>")
            picture = None
            if graphs in ("auto", "svg"):
                try:
                    svg = render_dot(to_dot(cov.flow, cov.highlight()), "svg").decode("utf-8")
                    picture = f'<div class="graph">{svg[svg.find("<svg"):]}</div>'
                except GraphvizMissing:
                    if graphs == "svg":
                        raise
            if picture is None:
                uses_mermaid = True
                picture = f'<pre class="mermaid">{_e(to_mermaid(cov.flow, cov.highlight()))}</pre>'
            body.append(picture)
            body.append(_table("Untested edges", ["source", "state", "outcome", "target"],
                               [(str(e.span) if e.span else "", e.state, e.outcome, e.target)
                                for e in cov.untested_edges()], "missed"))
            body.append(_table("States", ["source", "state", "op", "ran"],
                               [(str(s.span) if s.span else "", sid, op_summary(s.op),
                                 "yes" if sid in cov.states else "no")
                                for sid, s in cov.flow.states.items()], None, cov.states))
            body.append("</section>")
        script = ('<script type="module">import mermaid from "https://cdn.jsdelivr.net/npm/mermaid@11/dist/'
                  'mermaid.esm.min.mjs"; mermaid.initialize({startOnLoad: true});</script>') if uses_mermaid else ""
        return _PAGE.format(summary=_e(self.report().splitlines()[-1].strip()), body="\n".join(body), script=script)


def _table(title: str, header: list[str], rows: list[tuple], row_class: str | None,
           exercised: set[str] | None = None) -> str:
    if not rows:
        return f"<h3>{_e(title)}</h3><p>none</p>"
    out = [f"<h3>{_e(title)}</h3><table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cls = row_class or ("exercised" if exercised is not None and row[1] in exercised else "missed")
        out.append(f'<tr class="{cls}">' + "".join(f"<td>{_e(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _percent(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%" if total else "100.0%"


def _shown(path: str) -> str:
    """A file path (or `file:line:col`) relative to the working directory when it lies below it."""
    cwd = str(Path.cwd()) + os.sep
    return path[len(cwd):] if path.startswith(cwd) else path


def _span_key(span: Span | None) -> tuple:
    return (span.file, span.line, span.col) if span else ("", 0, 0)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowengine coverage</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; font-size: 90%; }}
tr.exercised {{ background: #c6efce; }} tr.missed {{ background: #ffc7ce; }}
.graph svg {{ max-width: 100%; height: auto; }}
</style></head>
<body><h1>flowengine call-path coverage</h1><p>{summary}</p>
{body}
{script}
</body></html>
"""
