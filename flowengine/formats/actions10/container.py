"""Reading an ACTIONS10 script: a bare YAML script, or CALLR's container `{"format": "YAML", "script": "…"}`.

Rules kept here (digest §4.1):
  * the container is told from the content: a mapping whose keys are `format` and `script` (and no
    `branches`). `format` is compared case-insensitively with "yaml" (E_FORMAT); `script` is a string of
    1..32768 characters (E_SCRIPT_SIZE). Positions inside the script are lines of the script text,
    reported in the pseudo-file `<file>#script`.
  * YAML 1.2 through `flowengine.structured` (yes/no stay text, no tags, size and depth limits); a
    duplicate key is E_YAML here, as the digest names it.
"""

from __future__ import annotations

from ...diagnostics import Diagnostic, Span
from ...errors import FlowError
from ...structured import Document, load

MAX_SCRIPT = 32768
CONTAINER_KEYS = frozenset({"format", "script"})


def _load(text: str, filename: str) -> Document:
    try:
        return load(text, filename)
    except FlowError as exc:
        raise FlowError([Diagnostic("E_YAML", d.message, d.span, d.severity, d.hint, d.file)
                         if d.code == "E_DUPLICATE_KEY" else d for d in exc.diagnostics]) from None


def is_container(data: object) -> bool:
    return isinstance(data, dict) and "script" in data and "branches" not in data and set(data) <= CONTAINER_KEYS | {
        "name", "sid", "version", "numbers", "created", "updated"}


def load_script(text: str, filename: str) -> Document:
    """The script's Document (unwrapped from its container when there is one)."""
    outer = _load(text, filename)
    if not is_container(outer.data):
        return outer
    data = outer.data
    fmt = data.get("format")
    if not isinstance(fmt, str) or fmt.lower() != "yaml":
        span = outer.span(("format",)) if "format" in data else outer.span(("script",), key=True)
        raise FlowError([Diagnostic("E_FORMAT", f"the container's format must be \"YAML\", not {fmt!r}", span)])
    script = data["script"]
    if not isinstance(script, str) or not 1 <= len(script) <= MAX_SCRIPT:
        size = f"{len(script)} characters" if isinstance(script, str) else f"not text ({type(script).__name__})"
        raise FlowError([Diagnostic("E_SCRIPT_SIZE", f"the script must be text of 1..{MAX_SCRIPT} characters; "
                                    f"it is {size}", outer.span(("script",)))])
    inner = _load(script, f"{filename}#script")
    if inner.data is None:
        raise FlowError([Diagnostic("E_SCRIPT_SIZE", "the script is empty", Span(inner.filename))])
    return inner
