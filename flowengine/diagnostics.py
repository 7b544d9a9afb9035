"""Diagnostics: what is wrong, where, and how to fix it.

Every error or warning about an input file is a `Diagnostic` that renders as
`file:line:col: error[CODE]: message`, optionally followed by the source line with a caret and a hint.
Front ends collect diagnostics and keep going; callers decide whether to raise (`FlowError`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

ERROR = "error"
WARNING = "warning"
NOTE = "note"


@dataclass(frozen=True, slots=True)
class Span:
    """A position in an author's file: 1-based line and column (end optional)."""

    file: str
    line: int = 1
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def to_json(self) -> dict:
        out: dict = {"file": self.file, "line": self.line, "col": self.col}
        if self.end_line is not None:
            out["end_line"] = self.end_line
        if self.end_col is not None:
            out["end_col"] = self.end_col
        return out


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about an input. `severity` is "error", "warning" or "note"."""

    code: str
    message: str
    span: Span | None = None
    severity: str = ERROR
    hint: str | None = None
    file: str | None = None  # used when there is no span (e.g. an unreadable file)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def location(self) -> str:
        if self.span is not None:
            return str(self.span)
        return self.file or "<input>"

    def render(self, source: str | None = None) -> str:
        """`file:line:col: error[CODE]: message`, then the source line and caret when `source` is given."""
        lines = [f"{self.location()}: {self.severity}[{self.code}]: {self.message}"]
        if source is not None and self.span is not None:
            text_lines = source.splitlines()
            if 1 <= self.span.line <= len(text_lines):
                text, caret = _excerpt(text_lines[self.span.line - 1].expandtabs(1), max(self.span.col - 1, 0))
                lines.append(f"  {self.span.line:>4} | {text}")
                lines.append("       | " + " " * caret + "^")
        if self.hint:
            lines.append(f"  = hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        out = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.span is not None:
            out.update(file=self.span.file, line=self.span.line, col=self.span.col)
        elif self.file:
            out["file"] = self.file
        if self.hint:
            out["hint"] = self.hint
        return out


EXCERPT_WIDTH = 100
"""Source lines longer than this are cut around the column (minified XML and JSON are one long line)."""


def _excerpt(text: str, column: int) -> tuple[str, int]:
    """The part of a source line shown under a diagnostic, and the caret's offset in it."""
    if len(text) <= EXCERPT_WIDTH:
        return text, column
    start = min(max(column - EXCERPT_WIDTH // 2, 0), max(len(text) - EXCERPT_WIDTH, 0))
    end = start + EXCERPT_WIDTH
    head = "…" if start else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), column - start + len(head)


def render_all(
    diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None, limit: int = 20
) -> str:
    """Render diagnostics for people, at most `limit` of them, then "… and N more"."""
    diags = list(diagnostics)
    shown = []
    for diag in diags[:limit]:
        src = None
        if sources and diag.span is not None:
            src = sources.get(diag.span.file)
        shown.append(diag.render(src))
    if len(diags) > limit:
        shown.append(f"… and {len(diags) - limit} more")
    return "\n".join(shown)


def did_you_mean(word: str, choices: Sequence[str] | Iterable[str]) -> str:
    """A ` did you mean X?` suffix when a close match exists, else ""."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


class DiagnosticBag:
    """Collects diagnostics while a front end keeps going; `raise_if_errors` ends the compile."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def error(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, ERROR, hint))

    def warning(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, WARNING, hint))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def raise_if_errors(self, error_cls: type | None = None) -> None:
        if self.has_errors:
            from .errors import FlowError

            raise (error_cls or FlowError)(self.items)
