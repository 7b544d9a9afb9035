"""The `flowengine` command. Thin: parse arguments, call one library function, render, exit.

Each subcommand is a module of this package with `register(subparsers)` and `run(args) -> int`;
adding a command is adding a module name to COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

COMMANDS = ["validate", "compile", "simulate", "test", "call", "lint", "graph", "diff", "import", "serve"]
# a command named like a Python keyword lives in a module with a trailing underscore
MODULES = {"import": "import_"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowengine",
        description="Declarative call flows: validate, compile, simulate, test and run them.",
    )
    parser.add_argument("--version", action="version", version=f"flowengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{MODULES.get(name, name.replace('-', '_'))}")
        sub_parser = module.register(sub)
        sub_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
