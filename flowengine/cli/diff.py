"""`flowengine diff OLD NEW`: what changed between two versions of a flow, whatever their formats.

Prints one line per change (`+` added, `-` removed, `~` changed) with its source, then a summary; or
one JSON document with `--format json`. Exit codes follow diff(1): 0 no semantic difference, 1
differences found, 2 trouble (a flow that does not compile, bad usage).
"""

from __future__ import annotations

import json
import sys

from ..ir.diff import diff_flows
from ._common import EXIT_OK, EXIT_USAGE, load_flow_or_report

EXIT_DIFFERENT = 1


def register(sub):
    parser = sub.add_parser("diff", help="semantic diff of two flows (states and edges added, removed, changed)")
    parser.add_argument("old", metavar="OLD")
    parser.add_argument("new", metavar="NEW")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    parser.add_argument("--old-dialect", metavar="NAME", help="format of OLD when its file name does not tell")
    parser.add_argument("--new-dialect", metavar="NAME", help="format of NEW when its file name does not tell")
    return parser


def run(args) -> int:
    old = load_flow_or_report(args.old, args.old_dialect)
    new = load_flow_or_report(args.new, args.new_dialect)
    if old is None or new is None:
        return EXIT_USAGE
    result = diff_flows(old, new)
    if args.format == "json":
        json.dump({"old_file": args.old, "new_file": args.new, **result.to_json()}, sys.stdout, indent=2,
                  ensure_ascii=False)
        print()
    else:
        print(f"--- {args.old}\n+++ {args.new}")
        sys.stdout.write(result.to_text())
    return EXIT_DIFFERENT if result else EXIT_OK
