"""Helpers shared by the subcommands: loading flows with diagnostics, printing them."""

from __future__ import annotations

import argparse
import contextlib
import os
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


def write_output(path: str, data: str | bytes) -> bool:
    """Write `-o FILE` whole or not at all (a temporary file renamed into place). False after printing
    `FILE: error[E_OUTPUT]: …` when it cannot be written (the caller exits with EXIT_USAGE)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        print(f"{path}: error[E_OUTPUT]: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _dialect(name: str) -> str:
    """argparse type of --dialect: an unknown format or a bad option is bad usage (exit 2), found before
    any file is read."""
    try:
        formats.get(name)
    except FlowError as exc:
        raise argparse.ArgumentTypeError(exc.diagnostics[0].message) from None
    return name


def add_dialect_option(parser) -> None:
    parser.add_argument("--dialect", metavar="NAME", type=_dialect,
                        help="input format, when the file name does not tell (ir, inboundxml, actions10, ivr, …)")


def load_flow_or_report(source: str, dialect: str | None) -> Flow | None:
    """The compiled flow, or None after printing its diagnostics to stderr."""
    try:
        return formats.load(source, dialect)
    except FlowError as exc:
        print_diagnostics(exc.diagnostics)
        return None
