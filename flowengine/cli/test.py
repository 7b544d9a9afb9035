"""`flowengine test [PATH...]`: run flow test files (`*.test.yaml`); ends with `N passed, M failed`."""

from __future__ import annotations

from ..errors import FlowError
from ..testing.runner import find_test_files, run_test_file
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, print_diagnostics


def register(sub):
    parser = sub.add_parser("test", help="run *.test.yaml flow tests")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the transcript of failed cases")
    return parser


def run(args) -> int:
    try:
        files = find_test_files(args.paths)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return EXIT_USAGE
    passed = failed = 0
    for path in files:
        for result in run_test_file(path):
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
    print(f"{passed} passed, {failed} failed")
    return EXIT_INVALID if failed else EXIT_OK
