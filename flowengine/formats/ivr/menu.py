"""The unified IVR document after loading: defaults applied, one place to ask for a setting.

Rules kept here:
  * Defaults live in one table (`DEFAULTS`, spec 2.2): a context inherits `defaults`, which inherit
    the table. Nothing else in the package hard-codes a default.
  * Option keys are digit strings (`^[0-9*#]{1,32}$`) or one of `SPECIAL`.
  * `Menu.settings()` is the JSON-able summary a compiled flow carries in `meta["ivr"]`, so a webhook
    answer can be compiled against the running flow (sounds, intervals, contexts, entry states).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...structured import Document

SPECIAL = ("start", "timeout", "invalid", "exhausted")
OPTION_KEY = re.compile(r"^[0-9*#]{1,32}$")
PROMPT_ACTIONS = ("play", "silence", "say_digits")
TERMINAL_ACTIONS = ("goto", "hangup", "voicemail")
ACTION_NAMES = ("play", "silence", "say_digits", "collect", "set_var", "set_caller_id", "goto", "transfer",
                "send_dtmf", "queue", "voicemail", "hangup", "webhook", "record", "survey", "speech_menu")
STEP_KEYS = ("name", "when", "final")

DEFAULTS: dict[str, Any] = {
    "digit_len": 1,
    "timeout_ms": 5000,  # first-digit wait (004 context.timeout)
    "inter_digit_timeout_ms": 2000,
    "max_failures": 3,  # 0 = unlimited; the 004 importer sets 0
    "terminator": None,
    "transfer_timeout_s": 60,  # 004 incoming-rule default
    "tts": {},
}
VOICEMAIL_DEFAULTS = {"enabled": True, "profile": "default", "attach_file": True}
CONTEXT_DEFAULTS = {"max_timeouts": 0, "early_match": True, "allow_any_dial": False}
DEFAULT_ANY_DIAL_PATTERN = "[0-9]+"
DEFAULT_TIMEZONE = "UTC"


def step_action(step: dict) -> str | None:
    """The action key of a step (None when it has none or several)."""
    keys = [k for k in step if k not in STEP_KEYS]
    return keys[0] if len(keys) == 1 else None


@dataclass
class Menu:
    """A loaded IVR document (`data`) with its positions (`doc`) and the format it came from."""

    data: dict
    doc: Document
    dialect: str = "ivr"
    warnings: list = field(default_factory=list)

    @property
    def name(self) -> str:
        if "name" in self.data:
            return self.data["name"]
        stem = self.doc.filename.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        return re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-") or "ivr"

    @property
    def timezone(self) -> str:
        return self.data.get("timezone", DEFAULT_TIMEZONE)

    @property
    def contexts(self) -> dict[str, dict]:
        return self.data.get("contexts", {})

    def defaults(self) -> dict[str, Any]:
        return {**DEFAULTS, **self.data.get("defaults", {})}

    def setting(self, context: str, key: str) -> Any:
        ctx = self.contexts.get(context, {})
        if key in ctx:
            return ctx[key]
        if key in CONTEXT_DEFAULTS:
            return CONTEXT_DEFAULTS[key]
        return self.defaults()[key]

    def voicemail(self) -> dict[str, Any]:
        return {**VOICEMAIL_DEFAULTS, **self.data.get("voicemail", {})}

    def key_options(self, context: str) -> list[str]:
        options = self.contexts.get(context, {}).get("options", {})
        return [k for k in options if isinstance(k, str) and k not in SPECIAL]

    def any_dial(self, context: str) -> dict | None:
        value = self.setting(context, "allow_any_dial")
        if value is True:
            return {"pattern": DEFAULT_ANY_DIAL_PATTERN}
        return value or None

    def has_menu(self, context: str) -> bool:
        """R4: the context collects input after `start` (it has a key option or allows any dial)."""
        return bool(self.key_options(context)) or self.any_dial(context) is not None


def walk_steps(steps: list, path: tuple):
    """Every step of a list and of the step lists nested in it: (step, path)."""
    for index, step in enumerate(steps or []):
        if not isinstance(step, dict):
            continue
        spath = path + (index,)
        yield step, spath
        action = step_action(step)
        params = step.get(action) if action else None
        if not isinstance(params, dict):
            continue
        for key in ("on_answer", "on_agent_hangup", "on_timeout", "on_exit_key", "on_no_agents", "on_error"):
            if isinstance(params.get(key), list):
                yield from walk_steps(params[key], spath + (action, key))


def all_step_lists(data: dict):
    """(steps, path) for every top-level step list of a document: options, on_lifetime, confirm prompts."""
    if isinstance(data.get("on_lifetime"), list):
        yield data["on_lifetime"], ("on_lifetime",)
    for name, ctx in (data.get("contexts") or {}).items():
        if not isinstance(ctx, dict):
            continue
        for key, steps in (ctx.get("options") or {}).items():
            if isinstance(steps, list):
                yield steps, ("contexts", name, "options", key)
        confirm = ctx.get("confirm")
        if isinstance(confirm, dict) and isinstance(confirm.get("prompts"), list):
            yield confirm["prompts"], ("contexts", name, "confirm", "prompts")


def all_steps(data: dict):
    for steps, path in all_step_lists(data):
        yield from walk_steps(steps, path)
