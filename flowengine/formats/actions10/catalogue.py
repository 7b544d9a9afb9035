"""The action catalogue: every `name@vN` a script may use, as one table keyed by (name, version).

An `Action` declares its parameters (types, defaults, docs), whether it has a result object, which
`events` it accepts, and a `compile(step) -> state id` function that adds IR states for one step
(see `compiler.Step`). The built-in actions live in `actions.py`; nothing else special-cases them.

Plugins add actions without forking: a package declares an entry point in the group
`flowengine.actions10` whose object is an `Action`, a list of them, or a callable returning them,
or it calls `register_action` when imported. Names the digest lists but no source documents
(`memcache@v1`, `voicebot@v1`) are refused with E_UNSUPPORTED_ACTION until a plugin registers them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ...diagnostics import did_you_mean
from .params import Param

if TYPE_CHECKING:
    from .compiler import Step

__all__ = ["Action", "ACTIONS", "UNSUPPORTED", "ENTRY_POINT_GROUP", "register_action", "lookup", "ActionLookupError"]

ENTRY_POINT_GROUP = "flowengine.actions10"
ACTION_ID = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)@v([0-9]+)$")


@dataclass(frozen=True)
class Action:
    """One versioned action. `compile(step)` adds the step's states and returns the first one's id."""

    name: str
    version: int
    compile: Callable[["Step"], str]
    params: dict[str, Param] = field(default_factory=dict)
    result: str | None = None  # what the result object holds (None: the action has no result)
    events: dict[str, str] = field(default_factory=dict)  # event name -> what it means
    doc: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"


ACTIONS: dict[tuple[str, int], Action] = {}
"""The catalogue. Built-ins are added by `actions.py`; plugins by `register_action`."""

UNSUPPORTED: dict[tuple[str, int], str] = {
    ("memcache", 1): "CALLR lists memcache@v1 but documents none of its parameters",
    ("voicebot", 1): "CALLR lists voicebot@v1 (a voice AI agent) but documents none of its parameters",
}
"""Actions named by CALLR that this engine cannot run unless a plugin provides them (digest §4.6)."""


def register_action(action: Action, *, replace: bool = False) -> Action:
    """Add an action to the catalogue (a plugin's way in). Re-registering needs `replace=True`."""
    key = (action.name, action.version)
    if key in ACTIONS and ACTIONS[key] is not action and not replace:
        raise ValueError(f"{action.id} is already registered")
    ACTIONS[key] = action
    return action


_plugins_loaded = False


def load_plugins() -> None:
    """Import the `flowengine.actions10` entry points once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        for action in _actions_of(ep.load()):
            register_action(action, replace=True)


def _actions_of(obj: Any) -> Iterable[Action]:
    if isinstance(obj, Action):
        return [obj]
    if callable(obj) and not isinstance(obj, type):
        return _actions_of(obj())
    if isinstance(obj, (list, tuple)):
        return [a for item in obj for a in _actions_of(item)]
    return []  # a module that registered its actions when imported


class ActionLookupError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def lookup(action_id: Any) -> Action:
    """The catalogue entry for `name@vN`, or ActionLookupError (E_UNKNOWN_ACTION, E_UNSUPPORTED_ACTION)."""
    load_plugins()
    if not isinstance(action_id, str):
        raise ActionLookupError("E_UNKNOWN_ACTION", f"an action is written name@vN, not {action_id!r}")
    match = ACTION_ID.match(action_id)
    if match is None:
        known = sorted(a.id for a in ACTIONS.values())
        raise ActionLookupError("E_UNKNOWN_ACTION", f"{action_id!r} is not an action id (name@vN)"
                                f"{did_you_mean(action_id, known)}")
    key = (match.group(1), int(match.group(2)))
    if key in ACTIONS:
        return ACTIONS[key]
    if key in UNSUPPORTED:
        raise ActionLookupError("E_UNSUPPORTED_ACTION", f"{action_id} is not supported: {UNSUPPORTED[key]} "
                                f"(a plugin in the {ENTRY_POINT_GROUP!r} entry-point group can provide it)")
    versions = sorted(f"{n}@v{v}" for n, v in ACTIONS if n == key[0])
    if versions:
        raise ActionLookupError("E_UNKNOWN_ACTION", f"{action_id}: unknown version of {key[0]} "
                                f"(known: {', '.join(versions)})")
    known = sorted({a.id for a in ACTIONS.values()} | {f"{n}@v{v}" for n, v in UNSUPPORTED})
    raise ActionLookupError("E_UNKNOWN_ACTION", f"unknown action {action_id!r}{did_you_mean(action_id, known)}")
