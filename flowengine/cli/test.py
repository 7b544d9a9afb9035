"""`flowengine test [PATH...]`: run flow test files (`*.test.yaml`); ends with `N passed, M failed`."""

from __future__ import annotations

import sys

from ..errors import FlowError
from ..testing.coverage import Coverage
from ..testing.runner import find_test_files, run_test_file
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, print_diagnostics


def register(sub):
    parser = sub.add_parser("test", help="run *.test.yaml flow tests")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the transcript of failed cases")
    parser.add_argument("--coverage", action="store_true",
                        help="report which states and edges the cases exercised, and the untested edges")
    parser.add_argument("--coverage-html", metavar="DIR",
                        help="also write DIR/index.html: each flow drawn coloured by coverage (implies --coverage)")
    return parser


def run(args) -> int:
    try:
        files = find_test_files(args.paths)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_USAGE
    if not files:  # like pytest's "no tests ran": a CI job pointed at the wrong folder must not pass
        print(f"flowengine test: no flow test files (*.test.yaml) under {', '.join(args.paths or ['.'])}",
              file=sys.stderr)
        print("0 passed, 0 failed")
        return EXIT_USAGE
    passed = failed = 0
    coverage = Coverage() if args.coverage or args.coverage_html else None
    for path in files:
        for result in run_test_file(path):
            if coverage is not None and result.flow is not None and result.transcript is not None:
                coverage.record(result.flow, result.transcript.steps)
            if result.passed:
                passed += 1
                print(f"PASS {result.file}: {result.name}")
                continue
            failed += 1
            print(f"FAIL {result.file}: {result.name}")
            for failure in result.failures:
                print("  " + failure.replace("\n", "\n  "))
            if args.verbose and result.transcript is not None:
                print("  full transcript:")
                print("  " + result.transcript.to_text().rstrip("\n").replace("\n", "\n  "))
    if coverage is not None:
        print(coverage.report(), end="")
        if args.coverage_html:
            try:
                print(f"coverage page: {coverage.write_html(args.coverage_html)}")
            except OSError as exc:
                print(f"{args.coverage_html}: error[E_OUTPUT]: cannot write the coverage page: "
                      f"{exc.strerror or exc}", file=sys.stderr)
                return EXIT_USAGE
    print(f"{passed} passed, {failed} failed")
    return EXIT_INVALID if failed else EXIT_OK
