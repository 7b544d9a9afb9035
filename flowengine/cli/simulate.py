"""`flowengine simulate FLOW [-s SCENARIO]`: one call on the fake channel; prints the transcript.

Exit 0: the call ran to its end (whatever the flow did); 1: the flow is invalid; 2: bad usage or an
invalid scenario (simulation spec §5).
"""

from __future__ import annotations

import sys

from ..errors import FlowError
from ..testing.runner import simulate
from ..testing.scenario import load_scenario
from ..testing.transcript import render
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_dialect_option, load_flow_or_report, print_diagnostics


def register(sub):
    parser = sub.add_parser("simulate", help="run one call on the fake channel and print its transcript")
    parser.add_argument("flow", metavar="FLOW", help="a flow file, or a URL answered by the scenario's http")
    parser.add_argument("-s", "--scenario", metavar="SCENARIO", help="YAML or JSON scenario (default: none)")
    parser.add_argument("--format", choices=["json", "text"], default="json",
                        help="json: JSON Lines (default); text: one readable line per event")
    add_dialect_option(parser)
    return parser


def run(args) -> int:
    try:
        scenario = load_scenario(args.scenario)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_USAGE
    flow = load_flow_or_report(args.flow, args.dialect)
    if flow is None:
        return EXIT_INVALID
    transcript = simulate(flow, scenario)
    sys.stdout.write(render(transcript.events, args.format))
    return EXIT_OK
