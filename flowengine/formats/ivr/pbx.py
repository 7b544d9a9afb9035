"""Importer for the hosted-PBX IVR (seed 004): its REST resources, as the API returns them, in one JSON.

    {"extension_id": "201", "ivr": <GET /ivr/>, "contexts": [<GET /ivr/context/ items>],
     "options": {"<context id>": [{"digits": "1"}, …]},
     "rules": {"<context id>": {"<digits>": [<rules, in execution order>]}},
     "intervals": [<GET /interval/ items>], "sounds": [<GET /sound/ items: id, title, filename>]}

Mapping (spec 2.9): ids become names (contexts, sounds, intervals), `transfer_dst` is split on spaces,
timeouts keep their PUT reading (`timeout` = first-digit wait), every context gets `max_failures: 0`
and, when it collects input, `timeout`/`invalid` options that hang up when the export has none (the
PBX's "all options hang up by default"). Interval conditions follow the vendor wiki: dow 1 = Sunday,
pairs of start/end fields, `start/end_datetime` overriding the rest; `sched_*` is refused. The rule
actions and their fields are one table, `RULES`. Fields that do not belong to a rule's action are
ignored (GET returns every field, with defaults); unknown fields are errors.
"""

from __future__ import annotations

from typing import Any, Callable

from ...diagnostics import DiagnosticBag, did_you_mean
from ...structured import Document, load
from .importer import Importer, Names, Output, unknown_fields

TOP = ("extension_id", "ivr", "contexts", "options", "rules", "intervals", "sounds")
IVR_FIELDS = ("entry_context", "lifetime", "lifetime_exp_action", "lifetime_exp_transfer_dst", "sleep_time",
              "vm_enabled", "vm_greeting", "vm_profile", "vm_mailto", "vm_attach_file", "id", "contexts")
CONTEXT_FIELDS = ("id", "name", "description", "timeout", "inter_digit_timeout", "digit_len", "allow_any_dial",
                  "extra_params")
RULE_FIELDS = (
    "id", "action", "name", "order_position", "interval", "caller_id_action", "caller_id", "match_variable_name",
    "match_variable_value", "call_status", "final", "transfer_dst", "transfer_timeout", "transfer_variable",
    "is_simple_transfer", "hangup_cause", "sound", "sound_type", "play_sound_from_variable", "silence_time",
    "digits", "play_digits_method", "play_digits_variable", "context", "context_option", "set_variable_name",
    "set_variable_value", "caller_id_name", "caller_id_number", "record_digits_variable", "record_digits_max",
    "record_digits_timeout", "record_digits_sound", "call_interactive_url", "call_interactive_method",
    "call_interactive_timeout", "max_rate", "voice_helper_rules", "voice_helper_timeout", "voice_helper_digits_max",
    "voice_helper_classic_term",
)
INTERVAL_FIELDS = ("id", "name", "timezone", "conditions", "dealer_id", "extension_id", "client_id")
CONDITION_FIELDS = ("start_dow", "end_dow", "start_time", "end_time", "month", "start_mday", "end_mday",
                    "start_datetime", "end_datetime", "sched_start_date", "sched_active_days", "sched_skip_days", "id")
DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # 1 = Sunday … 7 = Saturday (vendor wiki)
SOUND_TYPES = {"background": "bg", "foreground": "fg", "None": "bg", None: "bg"}
SOUND_VARIABLE = "sound_file"  # play_sound_from_variable does not say which variable [guess]
TRANSFER_FAMILY = ("transfer", "simple_transfer", "transfer_from_variable")


def _given(rule: dict, key: str) -> bool:
    return rule.get(key) not in (None, "")


class _Job:
    """One translation: the source document, the output and the id -> name tables."""

    def __init__(self, doc: Document, out: Output, bag: DiagnosticBag):
        self.doc, self.out, self.bag = doc, out, bag
        self.contexts: dict[str, str] = {}
        self.sounds: dict[str, str] = {}
        self.intervals: dict[str, str] = {}

    def error(self, message: str, path: tuple, code: str = "E_PBX", key: bool = False) -> None:
        self.bag.error(code, message, self.doc.span(path, key=key))

    def pos(self, path: tuple) -> tuple[int, int]:
        span = self.doc.span(path)
        return span.line, span.col

    def ref(self, table: dict[str, str], value: Any, what: str, path: tuple) -> str | None:
        name = table.get(str(value))
        if name is None:
            self.error(f"unknown {what} id {value!r}{did_you_mean(str(value), table)} (known: {', '.join(table) or 'none'})",
                       path)
        return name

    def sound(self, rule: dict, key: str, path: tuple) -> str | None:
        if not _given(rule, key):
            self.error(f"{rule.get('action')} needs {key!r} (a sound id)", path)
            return None
        return self.ref(self.sounds, rule[key], "sound", path + (key,))


# -- rule actions: (job, rule, path) -> unified action name and params -------------------------------


def _transfer(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if not _given(rule, "transfer_dst"):
        job.error(f"{rule['action']} needs 'transfer_dst'", path)
        return None
    params: dict[str, Any] = {"to": str(rule["transfer_dst"]).split()}
    if _given(rule, "transfer_timeout"):
        params["timeout_s"] = rule["transfer_timeout"]
    if rule["action"] == "simple_transfer":
        params["simple"] = True
    return "transfer", params


def _transfer_from_variable(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if not _given(rule, "transfer_variable"):
        job.error("transfer_from_variable needs 'transfer_variable'", path)
        return None
    params: dict[str, Any] = {"var": rule["transfer_variable"]}
    if rule.get("is_simple_transfer"):
        params["simple"] = True
    if _given(rule, "transfer_timeout"):
        params["timeout_s"] = rule["transfer_timeout"]
    return "transfer", params


def _play_sound(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    name = job.sound(rule, "sound", path)
    if name is None:
        return None
    params: dict[str, Any] = {"sound": name, "mode": SOUND_TYPES.get(rule.get("sound_type"), None) or "bg"}
    if rule.get("sound_type") not in SOUND_TYPES:
        job.error(f"sound_type {rule['sound_type']!r} is not one of background, foreground, None", path + ("sound_type",))
    if rule.get("play_sound_from_variable"):
        params["sound_var"] = SOUND_VARIABLE
        job.bag.warning("W_PBX_GUESS", f"play_sound_from_variable: the PBX API does not say which variable holds the "
                        f"file; flowengine uses {SOUND_VARIABLE!r}", job.doc.span(path + ("play_sound_from_variable",)))
    return "play", params


def _say_digits(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    method = rule.get("play_digits_method")
    params: dict[str, Any] = {"method": "iterated" if method in (None, "None") else method}
    if rule["action"] == "play_digits":
        if not _given(rule, "digits"):
            job.error("play_digits needs 'digits'", path)
            return None
        params["digits"] = str(rule["digits"])
    else:
        if not _given(rule, "play_digits_variable"):
            job.error("play_digits_from_variable needs 'play_digits_variable'", path)
            return None
        params["var"] = rule["play_digits_variable"]
    return "say_digits", params


def _record_digits(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if not _given(rule, "record_digits_variable") or not _given(rule, "record_digits_max"):
        job.error("record_digits needs 'record_digits_variable' and 'record_digits_max'", path)
        return None
    try:
        most = int(rule["record_digits_max"])  # an integer param, a string in the resource
    except (TypeError, ValueError):
        job.error(f"record_digits_max {rule['record_digits_max']!r} is not a number", path + ("record_digits_max",))
        return None
    params: dict[str, Any] = {"var": rule["record_digits_variable"], "max_digits": most}
    if _given(rule, "record_digits_timeout"):
        params["timeout_ms"] = rule["record_digits_timeout"]
    if _given(rule, "record_digits_sound"):
        sound = job.ref(job.sounds, rule["record_digits_sound"], "sound", path + ("record_digits_sound",))
        if sound:
            params["prompt"] = {"sound": sound}
    return "collect", params


def _webhook(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if not _given(rule, "call_interactive_url"):
        job.error("call_interactive needs 'call_interactive_url'", path)
        return None
    method = rule.get("call_interactive_method")
    params: dict[str, Any] = {"url": rule["call_interactive_url"], "method": "GET" if method in (None, "None") else method}
    if _given(rule, "call_interactive_timeout"):
        params["timeout_ms"] = rule["call_interactive_timeout"]  # no unit in the API: milliseconds [guess]
    return "webhook", params


def _speech(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if rule.get("voice_helper_rules"):
        job.error("voice_helper_rules are not supported: the PBX API never defines their element", path +
                  ("voice_helper_rules",), code="E_PBX_UNSUPPORTED")
        return None
    params: dict[str, Any] = {"dtmf_fallback": rule.get("voice_helper_classic_term", True) is not False, "rules": []}
    if _given(rule, "sound"):
        sound = job.ref(job.sounds, rule["sound"], "sound", path + ("sound",))
        if sound:
            params["prompt"] = {"sound": sound}
    if _given(rule, "voice_helper_timeout"):
        params["timeout_ms"] = rule["voice_helper_timeout"]
    if _given(rule, "voice_helper_digits_max"):
        params["max_digits"] = int(rule["voice_helper_digits_max"])
    return "speech_menu", params


def _survey(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    name = job.sound(rule, "sound", path)
    if name is None:
        return None
    return "survey", {"var": "quality_rate", "max_rate": rule.get("max_rate") or 5, "prompt": {"sound": name}}


def _jump(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
    if not _given(rule, "context"):
        job.error("jump_to_context needs 'context' (a context id)", path)
        return None
    target = job.ref(job.contexts, rule["context"], "context", path + ("context",))
    if target is None:
        return None
    params = {"context": target}
    if _given(rule, "context_option"):
        params["option"] = str(rule["context_option"])
    return "goto", params


def _simple(action: str, build: Callable[[dict], dict], *required: str) -> Callable:
    def convert(job: _Job, rule: dict, path: tuple) -> tuple[str, dict] | None:
        missing = [k for k in required if not _given(rule, k)]
        if missing:
            job.error(f"{rule['action']} needs {', '.join(repr(k) for k in missing)}", path)
            return None
        return action, build(rule)
    return convert


RULES: dict[str, Callable[[_Job, dict, tuple], tuple[str, dict] | None]] = {
    "transfer": _transfer,
    "simple_transfer": _transfer,
    "transfer_from_variable": _transfer_from_variable,
    "hangup": _simple("hangup", lambda r: {"cause": r.get("hangup_cause") or "normal"}),
    "play_sound": _play_sound,
    "play_silence": _simple("silence", lambda r: {"ms": r["silence_time"]}, "silence_time"),
    "jump_to_context": _jump,
    "play_digits": _say_digits,
    "play_digits_from_variable": _say_digits,
    "call_interactive": _webhook,
    "set_variable": _simple("set_var", lambda r: {r["set_variable_name"]: str(r.get("set_variable_value") or "")},
                            "set_variable_name"),
    "voicemail": _simple("voicemail", lambda r: {}),
    "set_caller_id_name": _simple("set_caller_id", lambda r: {"name": r["caller_id_name"]}, "caller_id_name"),
    "set_caller_id_number": _simple("set_caller_id", lambda r: {"number": str(r["caller_id_number"])},
                                    "caller_id_number"),
    "record_digits": _record_digits,
    "quality_rate": _survey,
    "voice_helper": _speech,
    "start_record": _simple("record", lambda r: {"action": "start"}),
}


class PbxImporter(Importer):
    name = "pbx"
    suffixes = (".pbx.json",)
    description = "hosted-PBX IVR export (seed 004 REST resources)"

    def sniff(self, text: str, filename: str) -> bool:
        head = text[:4096]
        return head.lstrip().startswith("{") and '"extension_id"' in head and '"ivr"' in head

    def translate(self, text: str, filename: str, out: Output, bag: DiagnosticBag, **options: Any) -> None:
        doc = load(text, filename, json_only=filename.endswith(".json"))
        data = doc.data
        if not isinstance(data, dict) or "ivr" not in data or "contexts" not in data:
            bag.error("E_PBX", "a PBX export is an object with extension_id, ivr, contexts, options, rules, intervals "
                      "and sounds", doc.span(()))
            return
        job = _Job(doc, out, bag)
        unknown_fields(bag, doc, data, TOP, (), "export")
        extension = str(data.get("extension_id", "ivr"))
        out.data["name"] = Names().make(f"pbx-{extension}".replace("-", "_"), "pbx").replace("_", "-")[:64]
        out.data["description"] = f"Imported from the hosted PBX (extension {extension})"
        self._sounds(job, data.get("sounds") or [])
        self._intervals(job, data.get("intervals") or [])
        contexts = data.get("contexts") or []
        names = Names("c")
        for index, ctx in enumerate(contexts):
            if isinstance(ctx, dict) and "id" in ctx:
                job.contexts[str(ctx["id"])] = names.make(ctx.get("name"), f"context_{ctx['id']}")
            else:
                job.error("a context needs an 'id'", ("contexts", index))
        self._ivr(job, data["ivr"])
        out.data["contexts"] = {}
        out.at(("contexts",), job.pos(("contexts",)))
        for index, ctx in enumerate(contexts):
            if isinstance(ctx, dict) and "id" in ctx:
                self._context(job, ctx, ("contexts", index), data)

    # -- catalogues ----------------------------------------------------------------------------------

    def _sounds(self, job: _Job, sounds: list) -> None:
        names = Names("s")
        catalogue = {}
        for index, sound in enumerate(sounds):
            path = ("sounds", index)
            if not isinstance(sound, dict) or "id" not in sound or not _given(sound, "filename"):
                job.error("a sound needs 'id' and 'filename'", path)
                continue
            name = names.make(sound.get("title"), f"sound_{sound['id']}")
            job.sounds[str(sound["id"])] = name
            catalogue[name] = {"file": sound["filename"]}
            job.out.at(("sounds", name), job.pos(path))
        if catalogue:
            job.out.data["sounds"] = catalogue

    def _intervals(self, job: _Job, intervals: list) -> None:
        names = Names("i")
        out = {}
        for index, interval in enumerate(intervals):
            path = ("intervals", index)
            if not isinstance(interval, dict) or "id" not in interval:
                job.error("an interval needs an 'id'", path)
                continue
            unknown_fields(job.bag, job.doc, interval, INTERVAL_FIELDS, path, "interval")
            name = names.make(interval.get("name"), f"interval_{interval['id']}")
            job.intervals[str(interval["id"])] = name
            if not _given(interval, "timezone"):
                job.error("an interval needs a 'timezone' (required by the API)", path)
            conditions = []
            for cindex, condition in enumerate(interval.get("conditions") or []):
                converted = self._condition(job, condition, path + ("conditions", cindex))
                if converted is not None:
                    job.out.at(("intervals", name, "conditions", len(conditions)), job.pos(path + ("conditions", cindex)))
                    conditions.append(converted)
            out[name] = {"timezone": interval.get("timezone") or "UTC", "conditions": conditions}
            job.out.at(("intervals", name), job.pos(path))
        if out:
            job.out.data["intervals"] = out

    def _condition(self, job: _Job, condition: Any, path: tuple) -> dict | None:
        if not isinstance(condition, dict):
            job.error("an interval condition is an object", path)
            return None
        unknown_fields(job.bag, job.doc, condition, CONDITION_FIELDS, path, "interval condition")
        given = {k: v for k, v in condition.items() if v not in (None, "") and k != "id"}
        for key in ("sched_start_date", "sched_active_days", "sched_skip_days"):
            if key in given:
                job.error(f"{key}: 'scheduled days' intervals are not supported", path + (key,), "E_PBX_UNSUPPORTED")
                return None
        if "start_datetime" in given or "end_datetime" in given:
            if not ("start_datetime" in given and "end_datetime" in given):
                job.error("start_datetime and end_datetime go together", path)
                return None
            ignored = [k for k in given if k not in ("start_datetime", "end_datetime")]
            if ignored:
                job.bag.warning("W_PBX_IGNORED", f"with start/end_datetime the PBX ignores {', '.join(ignored)}",
                                job.doc.span(path))
            return {"dates": f"{_datetime(given['start_datetime'])}..{_datetime(given['end_datetime'])}"}
        out: dict[str, Any] = {}
        for start, end, key, convert in (("start_dow", "end_dow", "days", _dow), ("start_time", "end_time", "time", str),
                                         ("start_mday", "end_mday", "mdays", str)):
            if (start in given) != (end in given):
                job.error(f"{start} and {end} go together", path + (start if start in given else end,))
                return None
            if start in given:
                try:
                    out[key] = f"{convert(given[start])}-{convert(given[end])}"
                except ValueError as exc:
                    job.error(str(exc), path + (start,))
                    return None
        if "month" in given:
            out["months"] = [given["month"]] if isinstance(given["month"], int) else str(given["month"])
        if not out:
            job.error("an interval condition needs at least one field", path)
            return None
        return out

    # -- the IVR and its contexts ---------------------------------------------------------------------

    def _ivr(self, job: _Job, ivr: Any) -> None:
        out = job.out.data
        if not isinstance(ivr, dict):
            job.error("'ivr' is the object GET /ivr/ returns", ("ivr",))
            return
        unknown_fields(job.bag, job.doc, ivr, IVR_FIELDS, ("ivr",), "ivr")
        if not _given(ivr, "entry_context"):
            job.error("the IVR has no entry_context", ("ivr",))
        else:
            entry = job.ref(job.contexts, ivr["entry_context"], "context", ("ivr", "entry_context"))
            if entry:
                out["entry"] = entry
                job.out.at(("entry",), job.pos(("ivr", "entry_context")))
        if _given(ivr, "sleep_time"):
            out["sleep_ms"] = ivr["sleep_time"]
            job.out.at(("sleep_ms",), job.pos(("ivr", "sleep_time")))
        if _given(ivr, "lifetime"):
            out["lifetime_s"] = ivr["lifetime"]
            job.out.at(("lifetime_s",), job.pos(("ivr", "lifetime")))
            action = ivr.get("lifetime_exp_action") or "hangup"
            if action == "transfer":
                if not _given(ivr, "lifetime_exp_transfer_dst"):
                    job.error("lifetime_exp_action 'transfer' needs lifetime_exp_transfer_dst", ("ivr", "lifetime_exp_action"))
                else:
                    out["on_lifetime"] = [{"transfer": {"to": str(ivr["lifetime_exp_transfer_dst"]).split()}}]
            elif action == "hangup":
                out["on_lifetime"] = [{"hangup": {}}]
            else:
                job.error(f"lifetime_exp_action {action!r} is not one of hangup, transfer", ("ivr", "lifetime_exp_action"))
            job.out.at(("on_lifetime",), job.pos(("ivr", "lifetime_exp_action")))
        voicemail: dict[str, Any] = {"enabled": bool(ivr.get("vm_enabled", False))}  # PBX default: False
        if _given(ivr, "vm_greeting"):
            greeting = job.ref(job.sounds, ivr["vm_greeting"], "sound", ("ivr", "vm_greeting"))
            if greeting:
                voicemail["greeting"] = greeting
        if _given(ivr, "vm_profile"):
            voicemail["profile"] = ivr["vm_profile"]
        if _given(ivr, "vm_mailto"):
            voicemail["mailto"] = ivr["vm_mailto"]
        if "vm_attach_file" in ivr and ivr["vm_attach_file"] is not None:
            voicemail["attach_file"] = bool(ivr["vm_attach_file"])
        out["voicemail"] = voicemail
        job.out.at(("voicemail",), job.pos(("ivr",)))

    def _context(self, job: _Job, ctx: dict, path: tuple, data: dict) -> None:
        cid = str(ctx["id"])
        name = job.contexts[cid]
        unknown_fields(job.bag, job.doc, ctx, CONTEXT_FIELDS, path, "context")
        out: dict[str, Any] = {}
        upath = ("contexts", name)
        job.out.at(upath, job.pos(path))
        if _given(ctx, "description"):
            out["description"] = ctx["description"]
        if ctx.get("name") and ctx["name"] != name:
            out["description"] = f"{ctx['name']}" + (f": {ctx['description']}" if _given(ctx, "description") else "")
        for source, target in (("timeout", "timeout_ms"), ("inter_digit_timeout", "inter_digit_timeout_ms"),
                               ("digit_len", "digit_len")):
            if _given(ctx, source):
                out[target] = ctx[source]
                job.out.at(upath + (target,), job.pos(path + (source,)))
        out["max_failures"] = 0
        if ctx.get("allow_any_dial"):
            out["allow_any_dial"] = {"pattern": r"\d+"}  # the export cannot know the extension plan
            job.out.at(upath + ("allow_any_dial",), job.pos(path + ("allow_any_dial",)))
        if _given(ctx, "extra_params"):
            out["extra"] = str(ctx["extra_params"])
        options: dict[str, list] = {}
        rules = (data.get("rules") or {}).get(cid) or {}
        declared = []
        for index, option in enumerate((data.get("options") or {}).get(cid) or []):
            if not isinstance(option, dict) or not _given(option, "digits"):
                job.error("an option is {\"digits\": …}", ("options", cid, index))
                continue
            digits = str(option["digits"])
            declared.append(digits)
            if digits not in ("start", "timeout", "invalid") and not all(ch in "0123456789*#" for ch in digits):
                job.error(f"option {digits!r} is neither DTMF digits nor start, timeout or invalid", ("options", cid, index))
                continue
            opath = ("rules", cid, digits) if digits in rules else ("options", cid, index)
            options[digits] = self._rules(job, rules.get(digits) or [], ("rules", cid, digits), name, digits)
            job.out.at(upath + ("options", digits), job.pos(opath))
        for digits in rules:
            if digits not in declared:
                job.error(f"rules for option {digits!r}, which context {cid} does not have", ("rules", cid, digits),
                          key=True)
        if any(k not in ("start", "timeout", "invalid") for k in options) or out.get("allow_any_dial"):
            for special in ("timeout", "invalid"):  # the PBX hangs up by default
                options.setdefault(special, [{"hangup": {}}])
        if "digit_len" not in out:
            keys = [k for k in options if k not in ("start", "timeout", "invalid")]
            out["digit_len"] = max([len(k) for k in keys] + [1])
        out["options"] = options
        job.out.data["contexts"][name] = out

    def _rules(self, job: _Job, rules: list, path: tuple, context: str, option: str) -> list:
        steps = []
        for index, rule in enumerate(rules):
            rpath = path + (index,)
            if not isinstance(rule, dict) or not _given(rule, "action"):
                job.error("a rule needs an 'action'", rpath)
                continue
            unknown_fields(job.bag, job.doc, rule, RULE_FIELDS, rpath, "rule")
            action = rule["action"]
            convert = RULES.get(action)
            if convert is None:
                job.error(f"unknown rule action {action!r}{did_you_mean(str(action), RULES)}", rpath + ("action",))
                continue
            converted = convert(job, rule, rpath)
            if converted is None:
                continue
            name, params = converted
            step: dict[str, Any] = {}
            if _given(rule, "name"):
                step["name"] = str(rule["name"])
            when = self._when(job, rule, rpath)
            if when:
                step["when"] = when
            if action in TRANSFER_FAMILY and rule.get("final") is False:
                step["final"] = False
            step[name] = params
            upath = ("contexts", context, "options", option, len(steps))
            job.out.at(upath, job.pos(rpath))
            for key in params:
                source = _SOURCE_FIELD.get((action, key))
                if source and source in rule:
                    job.out.at(upath + (name, key), job.pos(rpath + (source,)))
            steps.append(step)
        return steps

    def _when(self, job: _Job, rule: dict, path: tuple) -> dict:
        when: dict[str, Any] = {}
        if _given(rule, "interval"):
            name = job.ref(job.intervals, rule["interval"], "interval", path + ("interval",))
            if name:
                when["interval"] = name
        action = rule.get("caller_id_action") or "any"
        if action in ("matches", "not_matches"):
            if not _given(rule, "caller_id"):
                job.error(f"caller_id_action {action!r} needs 'caller_id'", path + ("caller_id_action",))
            else:
                when["caller_id"] = {"match" if action == "matches" else "not_match": str(rule["caller_id"])}
        elif action == "anonymous":
            when["caller_id"] = "anonymous"
        elif action != "any":
            job.error(f"caller_id_action {action!r} is not one of matches, not_matches, anonymous, any",
                      path + ("caller_id_action",))
        if _given(rule, "match_variable_name"):
            when["var"] = {rule["match_variable_name"]: str(rule.get("match_variable_value") or "")}
        status = rule.get("call_status") or "any"
        if status in ("no_answer", "busy"):
            when["call_status"] = status
        elif status != "any":
            job.error(f"call_status {status!r} is not one of no_answer, busy, any", path + ("call_status",))
        return when


# (PBX action, unified param) -> PBX field, so diagnostics on a param point at the field's line
_SOURCE_FIELD = {
    ("transfer", "to"): "transfer_dst", ("simple_transfer", "to"): "transfer_dst",
    ("transfer", "timeout_s"): "transfer_timeout", ("simple_transfer", "timeout_s"): "transfer_timeout",
    ("play_silence", "ms"): "silence_time", ("call_interactive", "timeout_ms"): "call_interactive_timeout",
    ("call_interactive", "url"): "call_interactive_url", ("call_interactive", "method"): "call_interactive_method",
    ("record_digits", "max_digits"): "record_digits_max", ("record_digits", "timeout_ms"): "record_digits_timeout",
    ("jump_to_context", "option"): "context_option", ("hangup", "cause"): "hangup_cause",
}


def _dow(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
        raise ValueError(f"{value!r} is not a day of the week 1..7 (1 = Sunday)")
    return DOW[value - 1]


def _datetime(value: Any) -> str:
    return str(value).replace("T", " ").rstrip("Z")


__all__ = ["PbxImporter", "RULES"]
