"""`when` conditions of IVR steps (spec 2.4) compiled to IR conditions (expr/conditions.py).

    interval: office | [office, saturday]   any named interval holds (in its timezone, R13)
    caller_id: anonymous | any | {match: RE} | {not_match: RE}     Python re.fullmatch on call.from
    called: {match: RE} | {not_match: RE}   the number called (DID)
    var: {lang: fr}                         every pair string-equal; "" tests unset
    call_status: no_answer | busy | failed | any    the last failed dial of the running option
    repeat: true | false                    the context was re-entered from itself (a replay)
    not: {…}                                negation

Fields of one `when` are ANDed. `anonymous` is an empty number or one of anonymous, restricted,
unknown, private (any case).
"""

from __future__ import annotations

from typing import Any, Callable

from . import text as T

ANONYMOUS = r"(?i)(anonymous|restricted|unknown|private)?"


def _var(path: str) -> dict:
    return {"$expr": "var", "src": path}


def _regex(value: Any, path: str) -> dict:
    if "match" in value:
        return {"match": [_var(path), value["match"]]}
    return {"not": {"match": [_var(path), value["not_match"]]}}


def compile_when(when: dict, interval: Callable[[str], dict], literals: dict[str, str]) -> Any:
    """The IR condition (JSON form) of a `when` mapping. `interval(name)` gives a named interval's
    definition (already checked)."""
    parts: list[Any] = []
    for key, value in when.items():
        if key == "interval":
            names = value if isinstance(value, list) else [value]
            items = [{"interval": interval(name)} for name in names]
            parts.append(items[0] if len(items) == 1 else {"any": items})
        elif key == "caller_id":
            if value == "any":
                parts.append(True)
            elif value == "anonymous":
                parts.append({"match": [_var("call.from"), ANONYMOUS]})
            else:
                parts.append(_regex(value, "call.from"))
        elif key == "called":
            parts.append(_regex(value, "call.to"))
        elif key == "var":
            for name, expected in value.items():
                actual = T.interpolate("${" + name + "}", literals)
                expected_value = T.interpolate(expected, literals)
                parts.append({"eq": [_json(actual), _json(expected_value)]})
        elif key == "call_status":
            parts.append(True if value == "any" else {"eq": [{"$expr": "template", "src": "${" + T.CALL_STATUS + "}"}, value]})
        elif key == "repeat":
            test = {"eq": [{"$expr": "template", "src": "${" + T.REPEAT + "}"}, "1"]}
            parts.append(test if value else {"not": test})
        elif key == "not":
            parts.append({"not": compile_when(value, interval, literals)})
    parts = [p for p in parts if p is not True]
    if not parts:
        return True
    return parts[0] if len(parts) == 1 else {"all": parts}


def _json(value: Any) -> Any:
    return value.to_json() if hasattr(value, "to_json") else value


def uses(when: dict, key: str) -> bool:
    """Whether a `when` (or a nested `not`) tests `key`."""
    return key in when or ("not" in when and uses(when["not"], key))
