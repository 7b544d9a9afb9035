"""Checks beyond the JSON Schema (spec 2.10 and issue 5), each one diagnostic at the author's line.

  * every goto / entry / interval / sound reference resolves (with a suggestion when it does not);
  * an option key longer than the context's digit_len, or holding its terminator, can never be collected;
  * variable names are user names; built-ins (caller_id_number, digits, …) are read-only;
  * `${name}` references name a variable or a built-in;
  * contexts that jump to each other without waiting for input or playing media are an error;
  * a voicemail step while `voicemail.enabled` is false is an error;
  * regular expressions, intervals (time ranges, weekdays, dates, months) and timezones are valid;
  * a step has exactly one action; `final` belongs to transfer/queue; transfer has `to` or `var`.
Warnings: steps after an unconditional terminal step, and parameters flowengine accepts but cannot
act on (transfer.simple, ignore_early_media: false, record.format/transcript).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ...diagnostics import DiagnosticBag, did_you_mean
from ...expr.conditions import CondError
from ...expr.intervals import parse_interval, zone_or_error
from ...structured import Document
from . import text as T
from .menu import ACTION_NAMES, PROMPT_ACTIONS, SPECIAL, STEP_KEYS, TERMINAL_ACTIONS, Menu, step_action

DESTINATION = re.compile(r"^(\d{2,6}|\+\d{6,15}|sips?:\S+)$")
WAITS = ("play", "silence", "say_digits", "collect", "survey", "speech_menu", "transfer", "queue", "voicemail")
ON_ANSWER_ACTIONS = PROMPT_ACTIONS + ("send_dtmf",)
ASSIGNED = {"set_var": None, "collect": "var", "survey": "var"}
WEBHOOK_CORE = ("event", "call_id", "caller_id_number", "caller_id_name", "called_number", "ivr", "context",
                "option", "digits")


class Checker:
    """Step checks against what a menu defines (`contexts`: name -> option keys, sounds, intervals)."""

    def __init__(self, doc: Document, bag: DiagnosticBag, *, contexts: dict[str, list[str]], sounds: Iterable[str],
                 intervals: Iterable[str], voicemail_enabled: bool):
        self.doc, self.bag = doc, bag
        self.contexts = contexts
        self.sounds = set(sounds)
        self.intervals = set(intervals)
        self.voicemail_enabled = voicemail_enabled

    def error(self, code: str, message: str, path: tuple, key: bool = False, hint: str | None = None) -> None:
        self.bag.error(code, message, self.doc.span(path, key=key), hint)

    def warning(self, code: str, message: str, path: tuple, key: bool = False) -> None:
        self.bag.warning(code, message, self.doc.span(path, key=key))

    # -- step lists ----------------------------------------------------------------------------------

    def steps(self, steps: list, path: tuple, context: str | None, *, only: tuple[str, ...] | None = None) -> None:
        terminal_at = None
        for index, step in enumerate(steps):
            spath = path + (index,)
            action = self.step(step, spath, context, only)
            if terminal_at is not None:
                self.warning("W_IVR_UNREACHABLE", f"this step never runs: step {terminal_at + 1} always ends the option",
                             spath)
                terminal_at = None
            if action in TERMINAL_ACTIONS and "when" not in step:
                terminal_at = index

    def step(self, step: dict, path: tuple, context: str | None, only: tuple[str, ...] | None) -> str | None:
        actions = [k for k in step if k not in STEP_KEYS]
        if len(actions) != 1:
            found = ", ".join(actions) if actions else "none"
            self.error("E_IVR_STEP", f"a step has exactly one action ({', '.join(ACTION_NAMES)}); found {found}",
                       path, hint="split it into one step per action")
            return None
        action = actions[0]
        if only is not None and action not in only:
            self.error("E_IVR_STEP", f"{action} is not allowed here (allowed: {', '.join(only)})", path + (action,),
                       key=True)
        if "final" in step and action not in ("transfer", "queue"):
            self.error("E_IVR_FINAL", f"'final' applies to transfer and queue steps, not {action}", path + ("final",),
                       key=True)
        if "when" in step:
            self.when(step["when"], path + ("when",))
        params = step[action]
        apath = path + (action,)
        self.texts(params, apath)
        getattr(self, f"_{action}", lambda *a: None)(params, apath, context)
        return action

    def texts(self, value: Any, path: tuple) -> None:
        if isinstance(value, str):
            try:
                T.check_text(value)
            except T.TextError as exc:
                self.error("E_IVR_VAR", exc.message, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in ("on_answer", "on_agent_hangup", "on_timeout", "on_exit_key", "on_no_agents",
                               "on_error", "rules"):
                    self.texts(item, path + (key,))

    def var_name(self, name: str, path: tuple, *, assigned: bool, key: bool = False) -> None:
        if not T.USER_VAR.match(name):
            self.error("E_IVR_VAR", f"invalid variable name {name!r} (lower case letters, digits and _)", path, key=key)
        elif assigned and name in T.BUILTINS:
            self.error("E_IVR_READONLY", f"{name!r} is a read-only built-in variable", path, key=key)

    def sound(self, name: str, path: tuple) -> None:
        if name not in self.sounds:
            self.error("E_IVR_REF", f"unknown sound {name!r}{did_you_mean(name, self.sounds)}", path)

    def context_ref(self, name: str, path: tuple) -> bool:
        if name not in self.contexts:
            self.error("E_IVR_REF", f"unknown context {name!r}{did_you_mean(name, self.contexts)}", path)
            return False
        return True

    def when(self, when: dict, path: tuple) -> None:
        if "interval" in when:
            names = when["interval"] if isinstance(when["interval"], list) else [when["interval"]]
            for index, name in enumerate(names):
                ipath = path + (("interval", index) if isinstance(when["interval"], list) else ("interval",))
                if name not in self.intervals:
                    self.error("E_IVR_REF", f"unknown interval {name!r}{did_you_mean(name, self.intervals)}", ipath)
        for key in ("caller_id", "called"):
            value = when.get(key)
            if isinstance(value, dict):
                for kind, pattern in value.items():
                    self.regex(pattern, path + (key, kind))
        for name, value in when.get("var", {}).items():
            self.var_name(name, path + ("var", name), assigned=False, key=True)
            self.texts(value, path + ("var", name))
        if "not" in when:
            self.when(when["not"], path + ("not",))

    def regex(self, pattern: str, path: tuple) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.error("E_IVR_REGEX", f"invalid regular expression {pattern!r}: {exc}", path)

    # -- actions (only those with checks beyond the schema) -------------------------------------------

    def _play(self, p: dict, path: tuple, context: str | None) -> None:
        sources = [k for k in ("sound", "file", "tts") if k in p]
        if len(sources) != 1:
            self.error("E_IVR_PLAY", f"play needs exactly one of sound, file, tts (found {', '.join(sources) or 'none'})",
                       path)
        if "sound" in p:
            self.sound(p["sound"], path + ("sound",))
        if "sound_var" in p:
            self.var_name(p["sound_var"], path + ("sound_var",), assigned=False)

    def _say_digits(self, p: dict, path: tuple, context: str | None) -> None:
        if ("digits" in p) == ("var" in p):
            self.error("E_IVR_PARAM", "say_digits needs exactly one of digits, var", path)

    def _collect(self, p: dict, path: tuple, context: str | None) -> None:
        self.var_name(p["var"], path + ("var",), assigned=True)
        if p.get("min_digits", 1) > p["max_digits"]:
            self.error("E_IVR_PARAM", "min_digits is larger than max_digits", path + ("min_digits",))
        if "prompt" in p:
            self._play(p["prompt"], path + ("prompt",), context)

    def _survey(self, p: dict, path: tuple, context: str | None) -> None:
        self.var_name(p["var"], path + ("var",), assigned=True)
        self._play(p["prompt"], path + ("prompt",), context)
        if "finish_sound" in p:
            self.sound(p["finish_sound"], path + ("finish_sound",))

    def _set_var(self, p: dict, path: tuple, context: str | None) -> None:
        for name in p:
            self.var_name(name, path + (name,), assigned=True, key=True)

    def _goto(self, p: dict, path: tuple, context: str | None) -> None:
        if p.get("back"):
            if "context" in p or "option" in p:
                self.error("E_IVR_GOTO", "goto back takes no context or option", path)
            if context is None:
                self.error("E_IVR_GOTO", "goto back needs a context to return from", path)
            return
        target = p.get("context", context)
        if target is None:
            self.error("E_IVR_GOTO", "goto needs a context here", path)
            return
        if "context" in p and not self.context_ref(target, path + ("context",)):
            return
        option = p.get("option", "start")
        if option not in self.contexts.get(target, []):
            available = self.contexts.get(target, [])
            self.error("E_IVR_REF", f"context {target!r} has no option {option!r}{did_you_mean(option, available)}",
                       path + ("option",))

    def _transfer(self, p: dict, path: tuple, context: str | None) -> None:
        if ("to" in p) == ("var" in p):
            self.error("E_IVR_TRANSFER", "transfer needs exactly one of to (destinations) or var", path)
        for index, dest in enumerate(p.get("to", [])):
            if "${" not in dest and not DESTINATION.match(dest):
                self.error("E_IVR_DEST", f"{dest!r} is not an extension (2-6 digits), an E.164 number (+ and 6-15 "
                           "digits) or a sip: URI", path + ("to", index))
        if "var" in p:
            self.var_name(p["var"], path + ("var",), assigned=False)
        if p.get("simple"):
            self.warning("W_IVR_IGNORED", "'simple' changes nothing here: flowengine has no incoming-call rules to skip",
                         path + ("simple",), key=True)
        if p.get("ignore_early_media") is False:
            self.warning("W_IVR_IGNORED", "'ignore_early_media: false' is not modelled (the fake channel has no early "
                         "media; live backends use their own setting)", path + ("ignore_early_media",), key=True)
        if "on_answer" in p:
            self.steps(p["on_answer"], path + ("on_answer",), context, only=ON_ANSWER_ACTIONS)
        if "on_agent_hangup" in p:
            self.steps(p["on_agent_hangup"], path + ("on_agent_hangup",), context)

    def _queue(self, p: dict, path: tuple, context: str | None) -> None:
        for key in ("on_timeout", "on_exit_key", "on_no_agents", "on_agent_hangup"):
            if key in p:
                self.steps(p[key], path + (key,), context)
        if "on_exit_key" in p and "exit_key" not in p:
            self.error("E_IVR_PARAM", "on_exit_key needs exit_key", path + ("on_exit_key",), key=True)

    def _voicemail(self, p: dict, path: tuple, context: str | None) -> None:
        if not self.voicemail_enabled:
            self.error("E_IVR_VOICEMAIL", "voicemail is disabled for this IVR (voicemail.enabled: false)", path)
        if "greeting" in p:
            self.sound(p["greeting"], path + ("greeting",))

    def _webhook(self, p: dict, path: tuple, context: str | None) -> None:
        if not p["url"].startswith(("http://", "https://")):
            self.error("E_IVR_URL", "a webhook url starts with http:// or https://", path + ("url",))
        if p.get("method", "GET") == "GET":
            for name in p.get("params", {}):
                if name in WEBHOOK_CORE:
                    self.error("E_IVR_PARAM", f"param {name!r} clashes with a field the webhook always sends",
                               path + ("params", name), key=True)
        if "on_error" in p:
            self.steps(p["on_error"], path + ("on_error",), context)

    def _record(self, p: dict, path: tuple, context: str | None) -> None:
        for key in ("format", "transcript"):
            if key in p:
                self.warning("W_IVR_IGNORED", f"record {key!r} is not modelled: the backend records in its own "
                             "format and flowengine does not transcribe", path + (key,), key=True)

    def _speech_menu(self, p: dict, path: tuple, context: str | None) -> None:
        if "prompt" in p:
            self._play(p["prompt"], path + ("prompt",), context)
        for index, rule in enumerate(p.get("rules", [])):
            self._goto(rule["goto"], path + ("rules", index, "goto"), context)


def check_menu(menu: Menu, bag: DiagnosticBag, contexts: dict[str, list[str]]) -> None:
    """Every check on a whole document. `contexts`: name -> option keys a goto may name."""
    data, doc = menu.data, menu.doc
    checker = Checker(doc, bag, contexts=contexts, sounds=data.get("sounds", {}), intervals=data.get("intervals", {}),
                      voicemail_enabled=menu.voicemail()["enabled"])
    _timezone(checker, data.get("timezone"), ("timezone",))
    for name, definition in data.get("intervals", {}).items():
        try:
            parse_interval({"timezone": definition.get("timezone", menu.timezone),
                            "conditions": definition.get("conditions", [])}, ("intervals", name))
        except CondError as exc:
            checker.error("E_IVR_INTERVAL", exc.message, exc.path)
    if data["entry"] not in menu.contexts:
        checker.context_ref(data["entry"], ("entry",))
    greeting = data.get("voicemail", {}).get("greeting")
    if greeting is not None:
        checker.sound(greeting, ("voicemail", "greeting"))
    for name in data.get("vars", {}):
        checker.var_name(name, ("vars", name), assigned=True, key=True)
    if "on_lifetime" in data:
        checker.steps(data["on_lifetime"], ("on_lifetime",), None)
    for name, ctx in menu.contexts.items():
        path = ("contexts", name)
        digit_len = menu.setting(name, "digit_len")
        terminator = menu.setting(name, "terminator")
        for key, steps in ctx.get("options", {}).items():
            kpath = path + ("options", key)
            if key not in SPECIAL:
                if len(key) > digit_len:
                    checker.error("E_IVR_DIGIT_LEN", f"option {key!r} has {len(key)} digits but {name!r} collects at most "
                                  f"{digit_len} (digit_len): it can never be chosen", kpath, key=True)
                if terminator and terminator in key:
                    checker.error("E_IVR_DIGIT_LEN", f"option {key!r} holds the terminator {terminator!r}: it can never "
                                  "be chosen", kpath, key=True)
            checker.steps(steps, kpath, name)
        any_dial = menu.any_dial(name)
        if any_dial is not None:
            checker.regex(any_dial["pattern"], path + ("allow_any_dial", "pattern"))
        if "confirm" in ctx:
            checker.steps(ctx["confirm"].get("prompts", []), path + ("confirm", "prompts"), name, only=PROMPT_ACTIONS)
            if not menu.has_menu(name):
                checker.error("E_IVR_PARAM", "confirm needs a context that collects input", path + ("confirm",), key=True)
    _loops(checker, menu)


def _timezone(checker: Checker, name: Any, path: tuple) -> None:
    if name is None:
        return
    try:
        zone_or_error(name, path)
    except CondError as exc:
        checker.error("E_IVR_TIMEZONE", exc.message, path)


def _loops(checker: Checker, menu: Menu) -> None:
    """Contexts that jump to each other with no input or media in between would spin forever."""
    edges: dict[tuple[str, str], list[tuple[tuple[str, str], tuple]]] = {}
    for name, ctx in menu.contexts.items():
        options = dict(ctx.get("options", {}))
        if menu.has_menu(name):  # the default timeout/invalid options replay the menu
            for key in ("timeout", "invalid"):
                options.setdefault(key, [{"goto": {"context": name}}])
        for key, steps in options.items():
            node = (name, key)
            edges[node] = []
            for index, step in enumerate(steps):
                action = step_action(step)
                unconditional = "when" not in step
                if action == "goto" and not step["goto"].get("back"):
                    target = (step["goto"].get("context", name), step["goto"].get("option", "start"))
                    edges[node].append((target, ("contexts", name, "options", key, index)))
                    if unconditional:
                        break
                elif action in WAITS and unconditional or action == "hangup" and unconditional:
                    break
    reported: set[frozenset] = set()
    for start in edges:
        stack = [(start, [start], None)]
        while stack:
            node, trail, first_path = stack.pop()
            for target, path in edges.get(node, []):
                where = first_path or path
                if target == start:
                    cycle = frozenset(trail)
                    if cycle not in reported:
                        reported.add(cycle)
                        names = " → ".join(f"{c}" if k == "start" else f"{c}:{k}" for c, k in trail + [start])
                        checker.error("E_IVR_LOOP", f"{names} jump to each other without waiting for input or playing "
                                      "media (the call would spin)", where)
                elif target not in trail and target in edges:
                    stack.append((target, trail + [target], where))
