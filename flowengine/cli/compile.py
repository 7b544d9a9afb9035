"""`flowengine compile FLOW`: print the IR JSON a flow compiles to."""

from __future__ import annotations

import json
import sys

from ..ir.codec import encode
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_dialect_option, load_flow_or_report, write_output


def register(sub):
    parser = sub.add_parser("compile", help="print the IR (JSON) of a flow")
    parser.add_argument("flow", metavar="FLOW")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_dialect_option(parser)
    return parser


def run(args) -> int:
    flow = load_flow_or_report(args.flow, args.dialect)
    if flow is None:
        return EXIT_INVALID
    text = json.dumps(encode(flow), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        if not write_output(args.output, text):
            return EXIT_USAGE
    else:
        sys.stdout.write(text)
    return EXIT_OK
