"""The op reference page (`docs/ir-ops.md`), generated from the op declarations like the schema.

Regenerate with `python -m flowengine.ir.reference > docs/ir-ops.md`; a test keeps it current.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING

from .model import OPS, json_name, op_fields
from .values import describe


def _default(f) -> str:
    if f.default is MISSING:
        return "**required**"
    if f.default is None:
        return "null"
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if f.default == ():
        return "[]"
    return f"`{f.default!r}`".replace("'", '"')


def render() -> str:
    lines = [
        "# IR op reference",
        "",
        "Generated from `flowengine/ir/model.py` by `python -m flowengine.ir.reference`; do not edit.",
        "Every op also takes `leg` (default: the frame's focus leg) and `result` (a variable that receives",
        "the op's result object). Fields marked *expr* accept an expression (`{\"$expr\": lang, \"src\": …}`)",
        "evaluated when the state runs. See [ir.md](ir.md) for the concepts.",
        "",
    ]
    for kind in sorted(OPS):
        cls = OPS[kind]
        doc = inspect.cleandoc(cls.__doc__ or "")
        outcomes = ", ".join(f"`{o}`" for o in sorted(cls.OUTCOMES)) or "none (the op never continues)"
        if kind in ("collect", "branch"):
            outcomes += ", `match:<key>`"
        flags = [name for name, on in (("media: answers leg A first when the flow answers lazily", cls.MEDIA),
                                       ("terminal", cls.TERMINAL)) if on]
        lines += [f"## `{kind}`", "", doc, "", f"Outcomes: {outcomes}." + (f" ({'; '.join(flags)})" if flags else ""), ""]
        rows = [(f, tp) for f, tp in op_fields(cls) if f.name not in ("leg", "result")]
        if rows:
            lines += ["| field | type | default | notes |", "|---|---|---|---|"]
            for f, tp in rows:
                notes = f.metadata.get("doc", "")
                if f.metadata.get("ref"):
                    notes = (notes + "; " if notes else "") + "names a state"
                expr = "" if f.metadata.get("static") else " *expr*"
                lines.append(f"| `{json_name(f)}` | {describe(tp)}{expr} | {_default(f)} | {notes} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
