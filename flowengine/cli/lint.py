"""`flowengine lint FLOW...`: static checks of flows (docs/lint.md lists every finding code).

Findings go to stdout as `file:line:col: severity[CODE]: message` with the source line and a fix hint
(or one JSON document with `--format json`). A flow that does not compile is reported with its compile
diagnostics. Exit 0: no error-level finding; 1: an error-level finding, or a flow that does not compile;
2: bad usage (an unknown code in --disable).
"""

from __future__ import annotations

import json
import sys

from .. import formats
from ..diagnostics import did_you_mean
from ..errors import FlowError
from ..ir.analysis import RULES, LintResult, lint
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_dialect_option, print_diagnostics


def register(sub):
    parser = sub.add_parser("lint", help="find unreachable states, dead ends, endless loops, unset variables, …")
    parser.add_argument("flows", nargs="+", metavar="FLOW")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    parser.add_argument("--disable", action="append", default=[], metavar="CODE[@STATE]",
                        help="do not report this finding code (repeatable; CODE@STATE: only at that state)")
    add_dialect_option(parser)
    return parser


def run(args) -> int:
    disable = [item for value in args.disable for item in value.split(",") if item]
    for item in disable:
        code = item.split("@", 1)[0]
        if code not in RULES:
            print(f"flowengine lint: --disable: unknown finding code {code!r}{did_you_mean(code, RULES)}",
                  file=sys.stderr)
            return EXIT_USAGE
    failed = False
    report = []
    for source in args.flows:
        try:
            flow = formats.load(source, args.dialect)
        except FlowError as exc:
            failed = True
            report.append({"file": source, "compiled": False, "diagnostics": [d.to_json() for d in exc.diagnostics]})
            if args.format == "text":
                print_diagnostics(exc.diagnostics, sys.stdout, limit=1000)
                print(f"{source}: does not compile")
            continue
        result = lint(flow, disable=disable)
        failed = failed or result.has_errors
        report.append({"file": source, "compiled": True, **result.to_json()})
        if args.format == "text":
            _print_text(source, result)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        print()
    return EXIT_INVALID if failed else EXIT_OK


def _print_text(source: str, result: LintResult) -> None:
    if result.findings:
        print_diagnostics([f.diagnostic() for f in result.findings], sys.stdout, limit=1000)
    counts = result.counts()
    parts = [f"{counts[k]} {k}{'s' if counts[k] != 1 else ''}" for k in ("error", "warning", "note")]
    suppressed = f" ({len(result.suppressed)} suppressed)" if result.suppressed else ""
    print(f"{source}: {', '.join(parts)}{suppressed}")
