"""Importer for Ytel IVR JSON (research/inboundxml.md §6): one IVR object with menus, options, actions.

Ytel documents the fields, not how a call runs, so these execution rules are ours [G], each one an
entry of the tables below or a line of `translate`:
  * The IVR-wide `say`/`play` greeting plays once per call, to the end (fg), before the entry menu;
    IVR-wide `recording: true` starts a call recording first. With none of them the call enters the
    entry menu (the one menu with `entry: true`) directly.
  * A menu plays its `say`, its `play` and each option's `say` in dtmfKey order, all interruptible
    (bg), then collects up to `maxDigits` digits waiting `timeout` seconds for the first and between
    digits. `minDigits` must be 1 (options are single dtmfKeys). Menu-level `recording` starts a
    recording when the menu is entered.
  * No input or an unknown key counts an attempt and replays the menu; after `maxAttempts` the call
    hangs up (the menu's max_failures).
  * Actions run in order: say/play play to the end; dial rings the number and, when nobody answers,
    goes on with the next action (final: false); an answered dial ends the call when the
    conversation ends; nextMenu and hangup end the option (a terminal action must be last, as Ytel
    says). An option whose actions end without one hangs up.
  * `workflow` (a Ytel campaign workflow) has no flowengine equivalent: its id is kept in the
    variable `ytel_workflow` and a warning says so.
The GET /ivr/ envelope ({status, count, page, payload: [ivr]}) is accepted when it holds one IVR.
"""

from __future__ import annotations

import re
from typing import Any

from ...diagnostics import DiagnosticBag, did_you_mean
from ...structured import load
from .importer import Importer, Names, Output, unknown_fields

IVR_FIELDS = ("accountSid", "ivrName", "configurationOptions", "version", "menus")
CONFIG_FIELDS = ("ttsVoice", "maxAttempts", "timeout", "minDigits", "maxDigits", "say", "play", "recording",
                 "description")
MENU_FIELDS = ("ivrName", "menuId", "say", "play", "recording", "entry", "version", "options")
OPTION_FIELDS = ("say", "dtmfKey", "actions")
ACTION_FIELDS = ("type", "value")
TERMINAL = ("nextMenu", "hangup")
E164 = re.compile(r"^\+\d{6,15}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
WORKFLOW_VAR = "ytel_workflow"
# The 58 voice keys of the IVR folder description (inboundxml.md §6.5)
VOICES = frozenset(
    [f"de-de-premium-{g}-{n}" for g in ("female", "male") for n in (1, 2)]
    + ["de-de-standard-female-1", "de-de-standard-male-1"]
    + [f"en-{c}-{t}-{g}-{n}" for c in ("au", "gb") for t in ("premium", "standard") for g in ("female", "male")
       for n in (1, 2)]
    + [f"en-us-premium-{g}-{n}" for g in ("female", "male") for n in (1, 2, 3)]
    + [f"en-us-standard-{g}-{n}" for g in ("female", "male") for n in (1, 2)]
    + ["es-es-standard-female-1"]
    + [f"fr-ca-standard-{g}-{n}" for g in ("female", "male") for n in (1, 2)]
    + [f"fr-fr-{t}-{g}-{n}" for t in ("premium", "standard") for g in ("female", "male") for n in (1, 2)]
    + [f"{lang}-{t}-female-1" for lang in ("it-it", "ja-jp", "ko-kr", "nl-nl", "sv-se", "tr-tr") for t in ("premium", "standard")]
    + ["pt-br-standard-female-1"]
)
ACTIONS = {  # Ytel action type -> how it becomes a unified step
    "say": lambda value, menus: {"play": {"tts": value, "mode": "fg"}},
    "play": lambda value, menus: {"play": {"file": value, "mode": "fg"}},
    "dial": lambda value, menus: {"final": False, "transfer": {"to": [value]}},
    "nextMenu": lambda value, menus: {"goto": {"context": menus[value]}},
    "hangup": lambda value, menus: {"hangup": {}},
    "workflow": lambda value, menus: {"set_var": {WORKFLOW_VAR: value}},
}


def _language(voice: str) -> str:
    lang, country = voice.split("-")[:2]
    return f"{lang}-{country.upper()}"


class YtelImporter(Importer):
    name = "ytel-ivr"
    suffixes = (".ytel.json",)
    description = "Ytel IVR JSON (menus, dtmfKey options, actions)"

    def sniff(self, text: str, filename: str) -> bool:
        head = text[:4096]
        return '"ivrName"' in head and '"menus"' in head

    def translate(self, text: str, filename: str, out: Output, bag: DiagnosticBag, **options: Any) -> None:
        doc = load(text, filename, json_only=filename.endswith(".json"))
        data, root = doc.data, ()
        if isinstance(data, dict) and "payload" in data and "ivrName" not in data:
            payload = data.get("payload")
            if not isinstance(payload, list) or len(payload) != 1:
                bag.error("E_YTEL", "this GET /ivr/ answer holds several IVRs: import them one by one", doc.span(("payload",)))
                return
            data, root = payload[0], ("payload", 0)

        def error(message: str, path: tuple, key: bool = False, code: str = "E_YTEL") -> None:
            bag.error(code, message, doc.span(root + path, key=key))

        def pos(path: tuple) -> tuple[int, int]:
            span = doc.span(root + path)
            return span.line, span.col

        if not isinstance(data, dict) or "menus" not in data:
            error("a Ytel IVR is an object with ivrName, configurationOptions and menus", ())
            return
        unknown_fields(bag, doc, data, IVR_FIELDS, root, "IVR")
        config = data.get("configurationOptions") or {}
        unknown_fields(bag, doc, config, CONFIG_FIELDS, root + ("configurationOptions",), "configurationOptions")
        cpath = ("configurationOptions",)
        out.data["name"] = Names().make(str(data.get("ivrName", "ytel")).replace("-", "_"), "ytel").replace("_", "-")
        description = str(config.get("description") or "").strip()
        version = data.get("version")
        out.data["description"] = (description + " " if description else "") + \
            f"(Ytel IVR {data.get('ivrName', '')!s} v{version})".replace(" v None", "")
        voice = config.get("ttsVoice")
        if voice is not None:
            if voice not in VOICES:
                error(f"unknown ttsVoice {voice!r}{did_you_mean(str(voice), VOICES)}", cpath + ("ttsVoice",))
            else:
                out.data["defaults"] = {"tts": {"voice": voice, "language": _language(voice)}}
        attempts = config.get("maxAttempts", 3)
        timeout = config.get("timeout", 5)
        min_digits, max_digits = config.get("minDigits", 1), config.get("maxDigits", 1)
        for key, value, low in (("maxAttempts", attempts, 1), ("timeout", timeout, 1), ("maxDigits", max_digits, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                error(f"{key} must be an integer of at least {low}", cpath + (key,))
        if min_digits != 1:
            error("minDigits other than 1 is not supported: options are single dtmfKeys", cpath + ("minDigits",),
                  code="E_YTEL_UNSUPPORTED")
        if version is not None:
            out.data["vars"] = {"ivr_version": str(version)}
            out.data["report_vars"] = ["ivr_version"]
        menus = [m for m in data.get("menus") or [] if isinstance(m, dict)]
        names = Names("m")
        by_id: dict[str, str] = {}
        for index, menu in enumerate(menus):
            menu_id = menu.get("menuId")
            if not isinstance(menu_id, str) or not menu_id:
                error("a menu needs a menuId", ("menus", index))
            elif menu_id in by_id:
                error(f"menuId {menu_id!r} is used twice (a menu is identified by its menuId)", ("menus", index, "menuId"))
            else:
                by_id[menu_id] = names.make(menu_id, f"menu_{index + 1}")
        entries = [i for i, m in enumerate(menus) if m.get("entry") is True]
        if len(entries) != 1:
            error(f"exactly one menu has entry: true (found {len(entries)})", ("menus",))
            return
        contexts: dict[str, Any] = {}
        out.data["contexts"] = contexts
        greeting = []
        if config.get("recording"):
            greeting.append({"record": {"action": "start"}})
        if config.get("say"):
            greeting.append({"play": {"tts": config["say"], "mode": "fg"}})
        if config.get("play"):
            greeting.append({"play": {"file": config["play"], "mode": "fg"}})
        entry = by_id.get(menus[entries[0]].get("menuId"))
        if greeting and entry:
            boot = names.make("greeting", "greeting")
            contexts[boot] = {"description": "the IVR-wide greeting, once per call",
                              "options": {"start": greeting + [{"goto": {"context": entry}}]}}
            out.at(("contexts", boot), pos(cpath))
            entry = boot
        if entry:
            out.data["entry"] = entry
        for index, menu in enumerate(menus):
            mpath = ("menus", index)
            name = by_id.get(menu.get("menuId"))
            if name is None:
                continue
            unknown_fields(bag, doc, menu, MENU_FIELDS, root + mpath, "menu")
            out.at(("contexts", name), pos(mpath))
            start: list[dict] = []
            if menu.get("recording"):
                start.append({"record": {"action": "start"}})
            if menu.get("say"):
                start.append({"play": {"tts": menu["say"], "mode": "bg"}})
            if menu.get("play"):
                start.append({"play": {"file": menu["play"], "mode": "bg"}})
            options: dict[str, list] = {}
            seen: set[str] = set()
            for oindex, option in sorted(enumerate(menu.get("options") or []),
                                         key=lambda item: str(item[1].get("dtmfKey")) if isinstance(item[1], dict) else ""):
                opath = mpath + ("options", oindex)
                if not isinstance(option, dict):
                    error("an option is an object {say, dtmfKey, actions}", opath)
                    continue
                unknown_fields(bag, doc, option, OPTION_FIELDS, root + opath, "option")
                key = option.get("dtmfKey")
                if isinstance(key, bool) or not (isinstance(key, int) and 0 <= key <= 9
                                                 or isinstance(key, str) and re.fullmatch(r"[0-9]", key)):
                    error(f"dtmfKey {key!r} is not a key 0-9", opath + ("dtmfKey",))
                    continue
                key = str(key)
                if key in seen:
                    error(f"dtmfKey {key} is used twice in menu {menu.get('menuId')!r}", opath + ("dtmfKey",))
                    continue
                seen.add(key)
                if option.get("say"):
                    start.append({"play": {"tts": option["say"], "mode": "bg"}})
                options[key] = self._actions(option.get("actions") or [], opath, by_id, error, bag, doc, root, out,
                                             name, key)
                out.at(("contexts", name, "options", key), pos(opath))
            contexts[name] = {
                "description": f"Ytel menu {menu.get('menuId')}",
                "digit_len": max_digits if isinstance(max_digits, int) else 1,
                "timeout_ms": timeout * 1000 if isinstance(timeout, int) else 5000,
                "inter_digit_timeout_ms": timeout * 1000 if isinstance(timeout, int) else 5000,
                "max_failures": attempts if isinstance(attempts, int) else 3,
                "options": {"start": start, **options},
            }

    def _actions(self, actions: list, path: tuple, menus: dict, error, bag: DiagnosticBag, doc, root: tuple,
                 out: Output, context: str, key: str) -> list[dict]:
        steps = []
        for index, action in enumerate(actions):
            apath = path + ("actions", index)
            if not isinstance(action, dict):
                error("an action is an object {type, value}", apath)
                continue
            unknown_fields(bag, doc, action, ACTION_FIELDS, root + apath, "action")
            kind, value = action.get("type"), action.get("value")
            if kind not in ACTIONS:
                error(f"unknown action type {kind!r}{did_you_mean(str(kind), ACTIONS)} (types: {', '.join(ACTIONS)})",
                      apath + ("type",))
                continue
            if steps and next(iter(steps[-1])) in ("goto", "hangup"):
                error(f"{actions[index - 1].get('type')} is a terminal action: nothing may follow it", apath)
                continue
            if kind != "hangup" and (not isinstance(value, str) or not value):
                error(f"a {kind} action needs a value", apath)
                continue
            if kind == "nextMenu" and value not in menus:
                error(f"nextMenu {value!r} names no menu{did_you_mean(str(value), menus)}", apath + ("value",))
                continue
            if kind == "dial" and not E164.match(value):
                error(f"dial {value!r} is not an E.164 number (+ and 6-15 digits)", apath + ("value",))
                continue
            if kind == "workflow":
                if not UUID.match(value):
                    bag.warning("W_YTEL_WORKFLOW", f"workflow id {value!r} is not a UUID", doc.span(root + apath))
                bag.warning("W_YTEL_WORKFLOW", f"Ytel workflows cannot run in flowengine: the id is kept in the "
                            f"variable {WORKFLOW_VAR!r}", doc.span(root + apath + ("type",)))
            out.at(("contexts", context, "options", key, len(steps)), (doc.span(root + apath).line, doc.span(root + apath).col))
            steps.append(ACTIONS[kind](value, menus))
        return steps
