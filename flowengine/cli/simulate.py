"""`flowengine simulate FLOW [-s SCENARIO]`: one call on the fake channel; prints the transcript.

Exit 0: the call ran to its end (whatever the flow did); 1: the flow is invalid; 2: bad usage or an
invalid scenario (simulation spec §5).
"""

from __future__ import annotations

import json
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
    parser.add_argument("--report", action="store_true",
                        help="IVR flows: print the per-call IVR record (path, inputs, outcome, exit) as JSON "
                             "instead of the transcript")
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
    if args.report and "ivr" not in flow.meta:
        print(f"{args.flow}: --report needs an IVR flow (ivr, pbx, ytel-ivr or fs-ivr), not {flow.dialect}",
              file=sys.stderr)
        return EXIT_USAGE
    transcript = simulate(flow, scenario)
    if args.report:
        from ..formats.ivr.report import call_report

        call = scenario.call
        record = call_report(flow, transcript.events, transcript.steps, transcript.variables, call_id=call.call_id,
                             started_at=call.at.isoformat().replace("+00:00", "Z"))
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return EXIT_OK
    sys.stdout.write(render(transcript.events, args.format))
    return EXIT_OK
