"""Lint finding codes and findings: each code declared once, with its severity, title and fix hint.

Rules kept here: a code never changes meaning (users suppress findings by code, CI greps for them);
docs/lint.md shows every code with an example and a fix, and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import ERROR, NOTE, WARNING, Diagnostic, Span

__all__ = ["Rule", "RULES", "Finding"]


@dataclass(frozen=True, slots=True)
class Rule:
    """What a finding code means: its severity, a title for docs, and the default fix hint."""

    code: str
    severity: str
    title: str
    hint: str


RULES: dict[str, Rule] = {rule.code: rule for rule in (
    Rule("L_UNREACHABLE", WARNING, "unreachable state",
         "connect it from a state that runs (an edge, the entry or a handler), or delete it"),
    Rule("L_UNUSED_BRANCH", WARNING, "branch, context or sub-document that never runs",
         "jump to it from somewhere (goto, answerOnBranch, an option), or delete it"),
    Rule("L_DEAD_EDGE", WARNING, "edge for an outcome the op can never produce",
         "move the edge to an outcome the op produces (for a collect with choices: match:<key>), or delete it"),
    Rule("L_AFTER_HANDOFF", WARNING, "state after an unconditional hand-off",
         "a redirect, hangup, reject or fail never continues: move these steps before it, or delete them"),
    Rule("L_DEAD_END", WARNING, "input state without a path for no input or invalid input",
         "add edges for timeout (no input) and invalid, e.g. to a retry with a counter or a goodbye"),
    Rule("L_ENDLESS_LOOP", ERROR, "loop with no way out",
         "give the loop an exit (an attempt counter with a branch, or an edge that leaves it), or set a lifetime"),
    Rule("L_UNBOUNDED_LOOP", WARNING, "loop that can repeat forever without input",
         "count the attempts (set tries = tries + 1, then branch on tries) or set a lifetime on the flow"),
    Rule("L_UNSET_VARIABLE", WARNING, "variable read before any write on some path",
         "declare it with an initial value in the flow's variables, or set it on every path before this state"),
    Rule("L_UNUSED_VARIABLE", WARNING, "variable written or declared but never read",
         "read it somewhere, or delete the declaration or the set"),
    Rule("L_UNUSED_RESULT", NOTE, "op result stored but never read",
         "drop the op's result name, or use the value"),
    Rule("L_UNUSED_SOUND", WARNING, "declared sound that nothing plays",
         "play it somewhere, or delete it from the sounds"),
    Rule("L_NEVER_ACTIVE", WARNING, "condition (e.g. an IVR interval) that can never hold",
         "fix the condition (days, times, dates) or the order of the cases, or delete the case"),
    Rule("L_DIAL_NO_ANSWER", WARNING, "dial without a no-answer path while the flow continues after it",
         "add a no-answer edge (and busy, failed), e.g. to voicemail or an apology"),
    Rule("L_BAD_SUPPRESSION", WARNING, "suppression that names no known finding code",
         "use one of the codes listed in docs/lint.md"),
)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding. `state` is the state it is about, when there is one (suppressions may name it)."""

    code: str
    message: str
    span: Span | None = None
    state: str | None = None
    severity: str = WARNING
    hint: str | None = None
    file: str | None = None  # where it is, when there is no span

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.span, self.severity, self.hint, self.file)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def location_file(self) -> str | None:
        return self.span.file if self.span is not None else self.file

    def to_json(self) -> dict:
        out = self.diagnostic().to_json()
        if self.state is not None:
            out["state"] = self.state
        return out
