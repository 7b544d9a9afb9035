"""Suppressing lint findings: comments in source files, `meta.lint.disable` in a flow, the command line.

    # flowengine-lint: disable=L_UNUSED_RESULT,L_UNSET_VARIABLE@report -- reported as null on purpose
    <!-- flowengine-lint: disable=L_AFTER_HANDOFF kept for the old platform -->
    "meta": {"lint": {"disable": {"L_UNUSED_RESULT": "kept for the CDR export"}}}

Rules kept here: a suppression names a known code (optionally `CODE@state`), or it is itself reported
(L_BAD_SUPPRESSION, with the closest code), so a typo never silently switches nothing off; a comment
applies to findings in its own file only; the reason is kept with what it silenced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from ..diagnostics import Span, did_you_mean
from .findings import RULES, Finding
from .model import Flow

__all__ = ["Suppression", "parse_suppression", "file_suppressions", "flow_suppressions"]


@dataclass(frozen=True, slots=True)
class Suppression:
    """`code` (optionally only at `state`) is not reported; `origin` says where the author asked."""

    code: str
    state: str | None
    reason: str
    origin: str
    file: str | None = None  # a comment in a file silences findings in that file only

    def matches(self, finding: Finding) -> bool:
        return (finding.code == self.code and (self.state is None or self.state == finding.state)
                and (self.file is None or self.file == finding.location_file))

    def to_json(self) -> dict:
        out = {"code": self.code, "reason": self.reason, "origin": self.origin}
        if self.state is not None:
            out["state"] = self.state
        return out


_COMMENT = re.compile(r"flowengine-lint:\s*disable=(?P<codes>[^\s]+)(?P<rest>[^\n]*)")
_ENTRY = re.compile(r"^(?P<code>[A-Za-z][A-Za-z0-9_]*)(?:@(?P<state>.+))?$")


def parse_suppression(text: str, reason: str, origin: str, file: str | None) -> Suppression | str:
    """A Suppression from `CODE` or `CODE@state`, or the problem with it."""
    match = _ENTRY.match(text.strip())
    code = match.group("code") if match else text.strip()
    if match is None or code not in RULES:
        return f"suppression of unknown code {code!r}{did_you_mean(code, RULES)}"
    return Suppression(code, match.group("state"), reason, origin, file)


def _bad(message: str, span: Span | None, file: str | None) -> Finding:
    rule = RULES["L_BAD_SUPPRESSION"]
    return Finding(rule.code, message, span, None, rule.severity, rule.hint, None if span else file)


def file_suppressions(filename: str, text: str, bad: list[Finding]) -> list[Suppression]:
    """`flowengine-lint: disable=CODE[,CODE@state] -- reason` comments in a source file; each
    silences findings in that file only. Unknown codes are appended to `bad`."""
    out = []
    for match in _COMMENT.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        rest = match.group("rest")
        for closer in ("-->", "*/"):
            rest = rest.split(closer)[0]
        reason = rest.strip().lstrip("-:").strip()
        for item in filter(None, match.group("codes").rstrip(":").split(",")):
            sup = parse_suppression(item, reason, f"{filename}:{line}", filename)
            if isinstance(sup, str):
                bad.append(_bad(sup, Span(filename, line, col), filename))
            else:
                out.append(sup)
    return out


def flow_suppressions(flow: Flow, bad: list[Finding], span: Span | None, file: str | None) -> list[Suppression]:
    """`meta.lint.disable` of the flow: a list of codes, or an object of code → reason. Unknown codes
    are appended to `bad`, at `span` (the top of the flow's file)."""
    config = flow.meta.get("lint") if isinstance(flow.meta, Mapping) else None
    disable = config.get("disable") if isinstance(config, Mapping) else None
    if isinstance(disable, Mapping):
        items = [(str(k), str(v)) for k, v in disable.items()]
    elif isinstance(disable, (list, tuple)):
        items = [(str(k), "") for k in disable]
    else:
        return []
    out = []
    for code, reason in items:
        sup = parse_suppression(code, reason, "meta.lint.disable", None)
        if isinstance(sup, str):
            bad.append(_bad(sup, span, file))
        else:
            out.append(sup)
    return out
