"""Importer for FreeSWITCH IVR menus (`autoload_configs/ivr.conf.xml`, or `<include>` files of `<menu>`s).

    <menu name="main" greet-long="say:Press 1 for sales" greet-short="say:1 sales" timeout="10000"
          invalid-sound="ivr/invalid.wav" exit-sound="voicemail/vm-goodbye.wav" max-failures="3" digit-len="4">
      <entry action="menu-exec-app" digits="1" param="transfer 1001 XML default"/>
      <entry action="menu-sub" digits="2" param="support"/>
    </menu>

Semantics follow switch_ivr_menu.c (`switch_ivr_menu_execute`, `play_and_collect`):
  * greet-long plays on the first pass, greet-short (if any) on every replay, both interruptible by a
    key; input is then collected up to max(digit-len, the longest entry) digits, `timeout` ms for the
    first digit (default 10000), `inter-digit-timeout` between digits (default timeout/2), ended by #.
    There is no early match: FreeSWITCH waits for the digits or the timeout (`early_match: false`).
  * No input counts a timeout, a wrong entry a failure (errs reset on a match); each has its own limit,
    max-timeouts defaulting to max-failures (3 by default) (`max_timeouts` of the unified context).
    invalid-sound plays after a wrong entry only, to the end; then the menu replays.
  * Reaching a limit leaves the menu: the entry menu plays exit-sound and the call ends; a sub-menu
    returns to the menu that opened it (`goto: {back: true}`), which starts again with greet-long.
  * menu-sub opens a menu (itself: a replay), menu-back returns (from the entry menu: exit-sound, end),
    menu-top goes to the entry menu, menu-exit plays the entry menu's exit-sound and ends the call,
    menu-play-sound plays a sound then replays the menu.
  * menu-exec-app runs an application: transfer and bridge become dials (a failed bridge replays the
    menu; a transfer leaves the IVR, `final`); hangup, playback, speak, sleep and set map to steps; any
    other application is refused. A regex entry `/^(…)$/` with `transfer $1 …` becomes allow_any_dial.
  * confirm-macro + confirm-key: after an entry, the digits are read back (the phrase macro's own words
    cannot be rendered without FreeSWITCH; a warning says so) and the caller presses confirm-key, up
    to confirm-attempts (3) times; another key or silence rejects the entry (a failure, no
    invalid-sound).
  * Prompts: `say:text` is TTS with tts-engine/tts-voice, `silence_stream://N` a pause, anything else a
    file; `phrase:` macros and `$${…}` pre-processor variables are refused.
Parsing is lxml without DTDs, entities or network, with the usual size and depth limits.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from ...diagnostics import DiagnosticBag, Span, did_you_mean
from .importer import Importer, Names, Output

MENU_ATTRS = ("name", "greet-long", "greet-short", "invalid-sound", "exit-sound", "timeout", "inter-digit-timeout",
              "max-failures", "max-timeouts", "digit-len", "confirm-macro", "confirm-key", "confirm-attempts",
              "tts-engine", "tts-voice", "exec-on-max-failures", "exec-on-max-timeouts", "pin", "pin-file",
              "bad-pin-file", "description")
UNSUPPORTED_ATTRS = {
    "exec-on-max-failures": "exec-on-max-failures/-timeouts are not supported: the unified menu has one `exhausted` "
                            "option for both limits",
    "exec-on-max-timeouts": "exec-on-max-failures/-timeouts are not supported: the unified menu has one `exhausted` "
                            "option for both limits",
    "pin": "menu PINs (pin, pin-file, bad-pin-file) are not supported",
    "pin-file": "menu PINs (pin, pin-file, bad-pin-file) are not supported",
    "bad-pin-file": "menu PINs (pin, pin-file, bad-pin-file) are not supported",
}
ENTRY_ATTRS = ("action", "digits", "param")
ACTIONS = ("menu-exit", "menu-sub", "menu-exec-app", "menu-play-sound", "menu-back", "menu-top")
HANGUP_CAUSES = {"": "normal", "NORMAL_CLEARING": "normal", "USER_BUSY": "busy"}
DESTINATION = re.compile(r"^(\d{2,6}|\+\d{6,15})$")
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32


class _Menu:
    def __init__(self, element: Any, name: str, context: str):
        self.element, self.name, self.context = element, name, context
        self.attrs = dict(element.attrib)


class FsIvrImporter(Importer):
    name = "fs-ivr"
    suffixes = ("ivr.conf.xml",)
    description = "FreeSWITCH ivr.conf.xml menus"

    def sniff(self, text: str, filename: str) -> bool:
        head = text[:4096]
        return "<menu" in head and ("ivr.conf" in head or "greet-long" in head or "<entry" in head)

    def translate(self, text: str, filename: str, out: Output, bag: DiagnosticBag, **options: Any) -> None:
        job = _Job(text, filename, out, bag)
        root = job.parse()
        if root is None:
            return
        containers = [root] + [el for el in root.iter() if el.tag in ("menus", "include")]
        elements = [el for parent in containers for el in parent if el.tag == "menu"]
        if root.tag == "menu":
            elements = [root]
        if not elements:
            job.error("no <menu> found (expected <configuration name=\"ivr.conf\"><menus><menu …>)", root)
            return
        names = Names("m")
        for element in elements:
            name = element.get("name")
            if not name:
                job.error("a <menu> needs a name", element)
                continue
            if name in job.menus:
                job.error(f"menu {name!r} is defined twice", element)
                continue
            job.menus[name] = _Menu(element, name, names.make(name, "menu"))
        if not job.menus:
            return
        wanted = options.get("entry")
        if wanted is not None and wanted not in job.menus:
            bag.error("E_FS", f"no menu named {wanted!r}{did_you_mean(wanted, job.menus)}", Span(filename, 1, 1))
            return
        job.entry = job.menus[wanted] if wanted else next(iter(job.menus.values()))
        job.subs = {el.get("param") for m in job.menus.values() for el in m.element
                    if el.tag == "entry" and el.get("action") == "menu-sub" and el.get("param") != m.name}
        out.data["name"] = Names().make(f"fs_{job.entry.context}", "fs").replace("_", "-")[:64]
        out.data["description"] = f"Imported from FreeSWITCH menus ({', '.join(job.menus)})"
        out.data["entry"] = job.entry.context
        out.data["contexts"] = {}
        for menu in job.menus.values():
            context = job.menu(menu)
            if context is not None:
                out.data["contexts"][menu.context] = context
                out.at(("contexts", menu.context), job.pos(menu.element))


class _Job:
    def __init__(self, text: str, filename: str, out: Output, bag: DiagnosticBag):
        self.text, self.filename, self.out, self.bag = text, filename, out, bag
        self.menus: dict[str, _Menu] = {}
        self.entry: _Menu | None = None
        self.subs: set[str] = set()

    # -- parsing -------------------------------------------------------------------------------------

    def parse(self) -> Any:
        if len(self.text.encode("utf-8")) > MAX_BYTES:
            self.bag.error("E_TOO_LARGE", f"input is larger than the {MAX_BYTES} byte limit", Span(self.filename))
            return None
        if re.search(r"<!DOCTYPE|<!ENTITY", self.text, re.I):
            self.bag.error("E_XML", "DTDs and entities are not allowed in IVR menus", Span(self.filename, 1, 1))
            return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                 remove_comments=True, remove_pis=True)
        try:
            root = etree.fromstring(self.text.encode("utf-8"), parser)
        except etree.XMLSyntaxError as exc:
            line, col = exc.position if exc.position else (1, 1)
            self.bag.error("E_XML", str(exc.msg or exc), Span(self.filename, line or 1, (col or 0) + 1))
            return None
        if max((len(list(el.iterancestors())) for el in root.iter()), default=0) > MAX_DEPTH:
            self.bag.error("E_TOO_DEEP", f"nesting deeper than {MAX_DEPTH} levels", Span(self.filename, 1, 1))
            return None
        return root

    def span(self, element: Any) -> Span:
        return Span(self.filename, element.sourceline or 1, 1)

    def pos(self, element: Any) -> tuple[int, int]:
        return element.sourceline or 1, 1

    def error(self, message: str, element: Any, code: str = "E_FS") -> None:
        self.bag.error(code, message, self.span(element))

    def warning(self, message: str, element: Any, code: str = "W_FS") -> None:
        self.bag.warning(code, message, self.span(element))

    # -- menus ---------------------------------------------------------------------------------------

    def number(self, menu: _Menu, attr: str, default: int) -> int:
        value = menu.attrs.get(attr, "")
        if value.strip() == "":
            return default
        try:
            return int(value)
        except ValueError:
            self.error(f"{attr}={value!r} is not a number", menu.element)
            return default

    def menu(self, menu: _Menu) -> dict | None:
        element, attrs = menu.element, menu.attrs
        for attr in attrs:
            if attr not in MENU_ATTRS:
                self.error(f"unknown <menu> attribute {attr!r}{did_you_mean(attr, MENU_ATTRS)}", element)
            elif attr in UNSUPPORTED_ATTRS and attrs[attr].strip():
                self.error(UNSUPPORTED_ATTRS[attr], element, "E_FS_UNSUPPORTED")
        timeout = self.number(menu, "timeout", 10000)
        timeout = timeout if timeout > 0 else 10000
        inter = self.number(menu, "inter-digit-timeout", 0) or timeout // 2
        failures = self.number(menu, "max-failures", 0)
        failures = failures if failures > 0 else 3
        timeouts = self.number(menu, "max-timeouts", 0) if attrs.get("max-timeouts", "").strip() else failures
        timeouts = timeouts if timeouts > 0 else 3
        is_entry = menu is self.entry
        options: dict[str, list] = {}
        any_dial = None
        literal_lengths = []
        for entry in element:
            if entry.tag != "entry":
                self.error(f"unexpected <{entry.tag}> in a menu (only <entry>)", entry)
                continue
            for attr in entry.attrib:
                if attr not in ENTRY_ATTRS:
                    self.error(f"unknown <entry> attribute {attr!r}{did_you_mean(attr, ENTRY_ATTRS)}", entry)
            action, digits, param = entry.get("action", ""), entry.get("digits", ""), entry.get("param", "")
            if action not in ACTIONS:
                self.error(f"unsupported entry action {action!r}{did_you_mean(action, ACTIONS)} "
                           f"(supported: {', '.join(ACTIONS)})", entry, "E_FS_UNSUPPORTED")
                continue
            if not digits:
                self.error("an <entry> needs digits", entry)
                continue
            if digits.startswith("/"):
                any_dial = self.regex_entry(menu, entry, action, digits, param, any_dial)
                continue
            if not re.fullmatch(r"[0-9*#]{1,32}", digits):
                self.error(f"digits {digits!r} are not DTMF keys (0-9 * #) or a /regex/", entry)
                continue
            literal_lengths.append(len(digits))
            steps = self.entry_steps(menu, entry, action, param)
            if steps is None:
                continue
            path = ("contexts", menu.context, "options", digits)
            if digits not in options:
                self.out.at(path, self.pos(entry))
            for step in steps:
                self.out.at(path + (len(options.get(digits, [])),), self.pos(entry))
                options.setdefault(digits, []).append(step)  # FreeSWITCH runs every matching entry, in order
        start = []
        long, short = attrs.get("greet-long"), attrs.get("greet-short")
        if long:
            prompt = self.prompt(menu, long, "bg")
            if prompt:
                start.append({"when": {"repeat": False}, **prompt} if short else prompt)
        if short:
            prompt = self.prompt(menu, short, "bg")
            if prompt:
                start.append({"when": {"repeat": True}, **prompt})
        options = {"start": start, **options}
        if attrs.get("invalid-sound"):
            prompt = self.prompt(menu, attrs["invalid-sound"], "fg")
            options["invalid"] = ([prompt] if prompt else []) + [{"goto": {"context": menu.context}}]
        options["exhausted"] = self.leave(menu)
        context: dict[str, Any] = {
            "digit_len": max([self.number(menu, "digit-len", 0)] + literal_lengths + [1]),
            "timeout_ms": timeout,
            "inter_digit_timeout_ms": inter,
            "terminator": "#",
            "max_failures": failures,
            "max_timeouts": timeouts,
            "early_match": False,
            "options": options,
        }
        if any("#" in k for k in options if k not in ("start", "invalid", "exhausted")):
            context["terminator"] = None
            self.warning("an entry uses #, so # does not end input in this menu", element)
        if any_dial:
            context["allow_any_dial"] = any_dial
        confirm = self.confirm(menu)
        if confirm:
            context["confirm"] = confirm
        if not is_entry and menu.name not in self.subs:
            self.warning(f"menu {menu.name!r} is never entered (not the entry menu, no menu-sub names it)", element)
        return context

    def leave(self, menu: _Menu) -> list:
        """Leaving a menu: the entry menu plays its exit-sound and the call ends; a sub-menu returns."""
        if menu is not self.entry:
            return [{"goto": {"back": True}}]
        exit_sound = self.entry.attrs.get("exit-sound")
        prompt = self.prompt(self.entry, exit_sound, "fg") if exit_sound else None
        return ([prompt] if prompt else []) + [{"hangup": {}}]

    def confirm(self, menu: _Menu) -> dict | None:
        macro, key = menu.attrs.get("confirm-macro"), menu.attrs.get("confirm-key")
        if not macro:
            if key:
                self.warning("confirm-key without confirm-macro does nothing in FreeSWITCH", menu.element)
            return None
        if not key or not re.fullmatch(r"[0-9*#]", key):
            self.error("confirm-macro needs a one-key confirm-key (without one FreeSWITCH rejects every entry)",
                       menu.element)
            return None
        self.warning(f"confirm-macro {macro!r}: the phrase macro's words cannot be rendered; the entry is read "
                     "back as digits", menu.element)
        return {"prompts": [{"say_digits": {"var": "digits", "mode": "bg"}}], "key": key,
                "attempts": self.number(menu, "confirm-attempts", 0) or 3}

    def prompt(self, menu: _Menu, sound: str, mode: str) -> dict | None:
        element = menu.element
        if "$${" in sound:
            self.error(f"{sound!r} uses a FreeSWITCH pre-processor variable ($${{…}}), which only FreeSWITCH can "
                       "expand", element, "E_FS_UNSUPPORTED")
            return None
        if sound.startswith("phrase:"):
            self.error(f"{sound!r}: phrase macros need FreeSWITCH's phrase engine and are not supported", element,
                       "E_FS_UNSUPPORTED")
            return None
        if sound.startswith("say:"):
            params: dict[str, Any] = {"tts": sound[4:]}
            if menu.attrs.get("tts-engine") and menu.attrs.get("tts-voice"):
                params.update(engine=menu.attrs["tts-engine"], voice=menu.attrs["tts-voice"])
            return {"play": {**params, "mode": mode}}
        silence = re.fullmatch(r"silence_stream://(\d+)(,\d+)?", sound)
        if silence:
            return {"silence": {"ms": int(silence.group(1)), "mode": mode}}
        return {"play": {"file": sound, "mode": mode}}

    def again(self, menu: _Menu) -> dict:
        return {"goto": {"context": menu.context}}

    def entry_steps(self, menu: _Menu, entry: Any, action: str, param: str) -> list | None:
        if action == "menu-exit":
            return self.leave(self.entry)
        if action == "menu-top":
            return [{"goto": {"context": self.entry.context}}]
        if action == "menu-back":
            return self.leave(menu)
        if action == "menu-sub":
            target = self.menus.get(param)
            if target is None:
                self.error(f"menu-sub names no menu {param!r}{did_you_mean(param, self.menus)}", entry)
                return None
            return [self.again(menu)] if target is menu else [{"goto": {"context": target.context}}]
        if action == "menu-play-sound":
            prompt = self.prompt(menu, param, "fg")
            return None if prompt is None else [prompt, self.again(menu)]
        return self.application(menu, entry, param)

    def application(self, menu: _Menu, entry: Any, param: str) -> list | None:
        app, _, args = param.strip().partition(" ")
        args = args.strip()
        if "$${" in args:
            self.error(f"{param!r} uses a FreeSWITCH pre-processor variable ($${{…}}), which only FreeSWITCH can "
                       "expand", entry, "E_FS_UNSUPPORTED")
            return None
        if app == "transfer":
            dest, *rest = args.split()
            if rest and rest[0] != "XML":
                self.error(f"transfer to the {rest[0]!r} dialplan is not supported (only XML)", entry, "E_FS_UNSUPPORTED")
                return None
            if not DESTINATION.match(dest):
                self.error(f"transfer destination {dest!r} is not an extension or an E.164 number", entry)
                return None
            return [{"transfer": {"to": [dest]}}]
        if app == "bridge":
            targets = self.dialstring(args, entry)
            if targets is None:
                return None
            return [{"final": False, "transfer": {"to": targets}}, self.again(menu)]
        if app == "hangup":
            cause = HANGUP_CAUSES.get(args.upper())
            if cause is None:
                self.error(f"hangup cause {args!r} is not supported (NORMAL_CLEARING, USER_BUSY)", entry,
                           "E_FS_UNSUPPORTED")
                return None
            return [{"hangup": {"cause": cause}}]
        if app == "playback":
            prompt = self.prompt(menu, args, "fg")
            return None if prompt is None else [prompt, self.again(menu)]
        if app == "speak":
            parts = args.split("|", 2)
            if len(parts) != 3:
                self.error("speak takes engine|voice|text", entry)
                return None
            return [{"play": {"tts": parts[2], "engine": parts[0], "voice": parts[1], "mode": "fg"}}, self.again(menu)]
        if app == "sleep":
            if not args.isdigit():
                self.error("sleep takes milliseconds", entry)
                return None
            return [{"silence": {"ms": int(args)}}, self.again(menu)]
        if app == "set":
            name, sep, value = args.partition("=")
            if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                self.error(f"set {args!r}: expected name=value with a lower-case name", entry)
                return None
            return [{"set_var": {name: value}}, self.again(menu)]
        self.error(f"menu-exec-app {app!r} is not supported (supported: transfer, bridge, hangup, playback, speak, "
                   "sleep, set)", entry, "E_FS_UNSUPPORTED")
        return None

    def dialstring(self, text: str, entry: Any) -> list[str] | None:
        """bridge targets: user/EXT, sofia/gateway/GW/NUMBER, sofia/PROFILE/USER@HOST, loopback/EXT; ","
        rings together; "|" (one after another) is refused."""
        if "|" in text:
            self.error("bridge with | (one target after another) is not supported", entry, "E_FS_UNSUPPORTED")
            return None
        if re.match(r"^[{\[]", text):
            self.error("bridge channel variables ({…} / […]) are not supported", entry, "E_FS_UNSUPPORTED")
            return None
        targets = []
        for part in text.split(","):
            part = part.strip()
            match = (re.fullmatch(r"(?:user|loopback)/(\d{2,6})(?:@\S+)?", part)
                     or re.fullmatch(r"sofia/gateway/[^/]+/(\+?\d{6,15})", part))
            if match:
                number = match.group(1)
                targets.append(number if DESTINATION.match(number) else "+" + number)
                continue
            match = re.fullmatch(r"sofia/[^/]+/([^@/]+@[^/]+)", part)
            if match:
                targets.append("sip:" + match.group(1))
                continue
            self.error(f"bridge target {part!r} is not supported (user/EXT, sofia/gateway/GW/NUMBER, "
                       "sofia/PROFILE/USER@HOST)", entry, "E_FS_UNSUPPORTED")
            return None
        return targets

    def regex_entry(self, menu: _Menu, entry: Any, action: str, digits: str, param: str, current: Any) -> Any:
        """`/^(…)$/` + `transfer $1 …`: dial what the caller typed (allow_any_dial)."""
        match = re.fullmatch(r"/\^?\((.+)\)\$?/", digits)
        app, _, args = param.strip().partition(" ")
        target = args.split()[0] if args.split() else ""
        if action != "menu-exec-app" or app != "transfer" or target != "$1" or not match or current is not None:
            self.error("regex digits are supported once per menu, as /^(pattern)$/ with "
                       "param=\"transfer $1 …\" (the unified allow_any_dial)", entry, "E_FS_UNSUPPORTED")
            return current
        try:
            re.compile(match.group(1))
        except re.error as exc:
            self.error(f"invalid regular expression {digits!r}: {exc}", entry)
            return current
        return {"pattern": match.group(1)}


__all__ = ["FsIvrImporter"]
