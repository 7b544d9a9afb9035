"""`flowengine validate FILE...`: compile each file and report every diagnostic (exit 1 on errors)."""

from __future__ import annotations

import json
import sys

from .. import formats
from ..diagnostics import WARNING, Diagnostic, Span
from ..errors import FlowError
from ._common import EXIT_INVALID, EXIT_OK, add_dialect_option, print_diagnostics


def register(sub):
    parser = sub.add_parser("validate", help="check flow files and report problems with file:line:col")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_dialect_option(parser)
    return parser


def run(args) -> int:
    failed = False
    report = []
    for source in args.files:
        try:
            flow = formats.load(source, args.dialect)
        except FlowError as exc:
            failed = failed or any(d.is_error for d in exc.diagnostics)
            report.append({"file": source, "ok": False, "diagnostics": [d.to_json() for d in exc.diagnostics]})
            if args.format == "text":
                print_diagnostics(exc.diagnostics)
            continue
        warnings = compile_warnings(flow)
        report.append({"file": source, "ok": True, "states": len(flow.states),
                       "diagnostics": [d.to_json() for d in warnings]})
        if args.format == "text":
            if warnings:
                print_diagnostics(warnings)
            if formats.is_url(source):  # nothing is fetched here: the documents are checked as calls fetch them
                print(f"{source}: ok ({flow.dialect} from a URL: its documents are compiled when a call fetches "
                      "them; validate a saved copy to check one)")
            else:
                print(f"{source}: ok ({flow.dialect}, {len(flow.states)} states)")
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        print()
    return EXIT_INVALID if failed else EXIT_OK


def compile_warnings(flow) -> list[Diagnostic]:
    """Warnings a compiler left in `flow.meta["warnings"]` (Diagnostic.to_json form)."""
    out = []
    for item in flow.meta.get("warnings", ()):
        span = Span(item["file"], item.get("line", 1), item.get("col", 1)) if "file" in item else None
        out.append(Diagnostic(item["code"], item["message"], span, item.get("severity", WARNING), item.get("hint")))
    return out
