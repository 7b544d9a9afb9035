"""`flowengine graph FLOW --format dot|mermaid|svg|png`: draw a flow (states, outcomes, entry, handlers).

dot and mermaid are text; svg and png need Graphviz's `dot` program. Output goes to stdout, or to
`-o FILE`. Exit 0: drawn; 1: the flow does not compile; 2: bad usage, `dot` is needed and missing, or FILE cannot
be written.
"""

from __future__ import annotations

import sys

from ..ir.graph import FORMATS, GraphvizMissing, render
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_dialect_option, load_flow_or_report, write_output


def register(sub):
    parser = sub.add_parser("graph", help="draw a flow as Graphviz dot, Mermaid, SVG or PNG")
    parser.add_argument("flow", metavar="FLOW")
    parser.add_argument("--format", choices=FORMATS, default="dot", help="output format (default: dot)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_dialect_option(parser)
    return parser


def run(args) -> int:
    flow = load_flow_or_report(args.flow, args.dialect)
    if flow is None:
        return EXIT_INVALID
    try:
        drawn = render(flow, args.format)
    except GraphvizMissing as exc:
        print(f"{args.flow}: error[E_NO_GRAPHVIZ]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data = drawn.encode("utf-8") if isinstance(drawn, str) else drawn
    if args.output:
        if not write_output(args.output, data):
            return EXIT_USAGE
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK
