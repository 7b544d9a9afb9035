"""Helpers shared by the subcommands: loading flows with diagnostics, printing them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, TextIO

from .. import formats
from ..diagnostics import Diagnostic, render_all
from ..errors import FlowError
from ..ir.model import Flow

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def source_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def print_diagnostics(diagnostics: Iterable[Diagnostic], stream: TextIO | None = None, limit: int = 20) -> None:
    diagnostics = list(diagnostics)
    stream = stream or sys.stderr
    sources = {}
    for diag in diagnostics:
        if diag.span is not None and diag.span.file not in sources:
            text = source_text(diag.span.file)
            if text is not None:
                sources[diag.span.file] = text
    print(render_all(diagnostics, sources, limit), file=stream)


def add_dialect_option(parser) -> None:
    parser.add_argument("--dialect", metavar="NAME",
                        help="input format, when the file name does not tell (ir, inboundxml, actions10, ivr, …)")


def load_flow_or_report(source: str, dialect: str | None) -> Flow | None:
    """The compiled flow, or None after printing its diagnostics to stderr."""
    try:
        return formats.load(source, dialect)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return None
