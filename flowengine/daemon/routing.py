"""Which flow answers a call: routes matched on what the switch says about the call.

Switch-neutral: a listener (FastAGI today, Event Socket later) describes each call as CallAttributes,
and the Router picks the first matching route in this order, whatever the order in the file:
  1. `path`      the script path the dialplan named (agi://host/<path>), exact, query string ignored
  2. `number`    the called number (DNID), exact or an Asterisk pattern
  3. `extension` the dialplan extension, exact or an Asterisk pattern
  4. `default`   the route of last resort
Within a kind, routes are tried in file order. Patterns follow Asterisk's dialplan syntax: a leading
`_`, then X = 0-9, Z = 1-9, N = 2-9, [1-5a] a set or range, `.` one or more, `!` zero or more characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .config import RouteConfig

__all__ = ["CallAttributes", "Router", "pattern_matches"]

KINDS = ("path", "number", "extension")


@dataclass(frozen=True, slots=True)
class CallAttributes:
    """What a listener knows about a call, for routing. None = the switch did not say."""

    path: str | None = None
    number: str | None = None
    extension: str | None = None


class Router:
    def __init__(self, routes: Iterable[RouteConfig]):
        self.routes = list(routes)
        self._by_kind = {kind: [r for r in self.routes if getattr(r, kind) is not None] for kind in KINDS}
        self._default = next((r for r in self.routes if r.default), None)

    def route(self, call: CallAttributes) -> RouteConfig | None:
        path = call.path.split("?", 1)[0].strip("/") if call.path else None
        if path:
            for route in self._by_kind["path"]:
                if route.path is not None and route.path.strip("/") == path:
                    return route
        for kind, value in (("number", call.number), ("extension", call.extension)):
            if value:
                for route in self._by_kind[kind]:
                    if pattern_matches(getattr(route, kind), value):
                        return route
        return self._default


def pattern_matches(pattern: str, value: str) -> bool:
    """An exact match, or an Asterisk `_` pattern matching the whole value."""
    if not pattern.startswith("_"):
        return pattern == value
    return _compile(pattern).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    index, body = 0, pattern[1:]
    while index < len(body):
        ch = body[index]
        upper = ch.upper()
        if upper == "X":
            out.append("[0-9]")
        elif upper == "Z":
            out.append("[1-9]")
        elif upper == "N":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.find("]", index)
            if end < 0:
                out.append(re.escape(ch))
            else:
                out.append("[" + "".join("\\" + c if c in "\\^" else c for c in body[index + 1:end]) + "]")
                index = end
        else:
            out.append(re.escape(ch))
        index += 1
    return re.compile("".join(out))
