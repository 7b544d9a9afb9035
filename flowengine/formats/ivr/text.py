"""`${name}` interpolation in IVR string parameters (R12), compiled to `template` expressions.

Rules kept here:
  * A name is a user variable (`^[a-z_][a-z0-9_]*$`, unset reads as "") or a read-only built-in;
    anything else is a diagnostic. `$${` writes a literal `${`.
  * Built-ins are rewritten to where the IR keeps them: the call's own data (`call.from` …), the
    compiler's bookkeeping variables (`IVR_…`, which user names can never spell), or a literal when
    the value is known at compile time (`ivr`, and `context` for steps of a known context).
  * In URLs each value is percent-encoded (the `url-template` language).
"""

from __future__ import annotations

import re
from typing import Any

from ...expr import Expr

USER_VAR = re.compile(r"^[a-z_][a-z0-9_]*$")
USER_VARS_PATTERN = r"^[a-z_][a-z0-9_]*$"
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")

# Bookkeeping variables of compiled IVR flows (upper case: no user variable can clash).
COLLECTED = "IVR_in"  # result of the last collect: {digits, reason}
DIAL_STATUS = "IVR_dial_status"
CALL_STATUS = "IVR_cs"  # failed-dial status within the running option (`when.call_status`)
WEBHOOK = "IVR_wh"  # result of the last webhook request: {ok, status, error}
WEBHOOK_STATUS = "IVR_webhook_status"
CONTEXT = "IVR_context"
REPEAT = "IVR_rep"
CID_NAME = "IVR_cid_name"
CID_NUMBER = "IVR_cid_number"
VOICEMAIL = "IVR_vm"
SPEECH = "IVR_sp"


def failures_var(context: str) -> str:
    return f"IVR_f_{context}"


def timeouts_var(context: str) -> str:
    return f"IVR_t_{context}"


def from_var(context: str) -> str:
    return f"IVR_from_{context}"


# built-in name -> IR path (None: a literal the compiler supplies)
BUILTINS: dict[str, str | None] = {
    "caller_id_number": "call.from",
    "caller_id_name": "call.from_name",
    "called_number": "call.to",
    "call_id": "call.id",
    "ivr": None,
    "context": None,
    "digits": f"{COLLECTED}.digits",
    "dial_status": DIAL_STATUS,
    "webhook_status": WEBHOOK_STATUS,
}


class TextError(ValueError):
    """A bad `${…}` reference; `offset` is where it starts in the string."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message, self.offset = message, offset


def references(text: str) -> list[tuple[str, int]]:
    """The names a string interpolates, with their offsets (`$${` escapes are skipped)."""
    out = []
    for match in _PLACEHOLDER.finditer(text):
        if match.group(0) != "$${":
            out.append((match.group(1).strip(), match.start()))
    return out


def check_text(text: str) -> None:
    """Raise TextError for an unknown or malformed reference."""
    for name, offset in references(text):
        if name not in BUILTINS and not USER_VAR.match(name):
            raise TextError(f"${{{name}}} is not a variable (names: lower case letters, digits and _)", offset)
    tail = _PLACEHOLDER.sub("", text)
    if "${" in tail:
        raise TextError("unterminated ${ placeholder", text.index("${"))


def interpolate(text: str, literals: dict[str, str], *, url: bool = False) -> str | Expr:
    """`text` as an IR value: the string itself, or a (url-)template expression when it interpolates.

    `literals` gives the built-ins known at compile time (`ivr`, `context`)."""
    if "${" not in text:
        return text
    check_text(text)
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position:match.start()])
        position = match.end()
        if match.group(0) == "$${":
            parts.append("$${")
            continue
        name = match.group(1).strip()
        if name in BUILTINS:
            path = BUILTINS[name]
            if path is None:
                parts.append(_escape(literals.get(name, "")))
                continue
            name = path
        parts.append("${" + name + "}")
    parts.append(text[position:])
    source = "".join(parts)
    if "${" not in source.replace("$${", ""):
        return source.replace("$${", "${")
    return Expr("url-template" if url else "template", source)


def _escape(value: str) -> str:
    return value.replace("${", "$${")


def var_path(name: str, literals: dict[str, str]) -> Any:
    """The value of one variable or built-in as an IR value (a `template` expression or a literal)."""
    return interpolate("${" + name + "}", literals)
