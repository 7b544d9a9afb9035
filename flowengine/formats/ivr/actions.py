"""The IVR actions (spec 2.3), one compile function each, looked up in the `ACTIONS` table.

Each function gets the compiler and a `Step` (its parameters, its state id, the state to continue
with, where it runs) and adds the states that perform it. Terminal actions (goto, hangup, voicemail,
an answered transfer/queue, a failed `final` one) never continue (R3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable
from xml.sax.saxutils import escape

from ...expr import Expr
from ...expr.condexpr import cond_expr_source
from ...expr.conditions import parse_cond
from ...ir.model import (
    Branch,
    Case,
    Collect,
    Dial,
    Document,
    Goto,
    Log,
    Op,
    Play,
    Queue,
    Record,
    RecordStart,
    RecordStop,
    Say,
    SayDigits,
    SendDtmf,
    Set,
    Silence,
    Speech,
)
from . import text as T
from .compiler import Compiler, Where
from .menu import step_action

VOICEMAIL_MAX_S = 180.0
# vm_profile (004): `default` ends on # or a long silence; `record_silence` on a short silence [guess]
VOICEMAIL_SILENCE_S = {"default": 10.0, "record_silence": 3.0}
WEBHOOK_FORMAT = "ivr"


@dataclass
class Step:
    params: dict
    sid: str
    next: str
    path: tuple  # of the action's parameters
    where: Where
    step: dict


def compile_step(c: Compiler, step: dict, path: tuple, sid: str, nxt: str, where: Where) -> None:
    """One step: its `when` (a branch that skips it, R3), then its action."""
    action = step_action(step)
    if action is None:  # reported by the checker
        return
    if "when" in step:
        cond = c.when(step["when"], path + ("when",), where)
        if cond is not True:
            do = f"{sid}/do"
            c.add(sid, Branch(cases=(Case("do", cond),)), {"match:do": do, "ok": nxt}, path + ("when",))
            sid = do
    ACTIONS[action](c, Step(step[action], sid, nxt, path + (action,), where, step))


# -- prompts ----------------------------------------------------------------------------------------


def _ssml(text: str, prosody: dict) -> str:
    attrs = " ".join(f'{k}="{v}"' for k, v in prosody.items())
    return f"<speak><prosody {attrs}>{escape(text)}</prosody></speak>"


def _tts(c: Compiler, text: Any, source: dict, params: dict, **extra: Any) -> Say:
    tts_defaults = c.settings["defaults"].get("tts", {})
    fields: dict[str, Any] = {}
    for key in ("voice", "language", "engine"):
        value = params.get(key, source.get(key, tts_defaults.get(key)))
        if value is not None:
            fields[key] = value
    prosody = params.get("prosody", source.get("prosody"))
    if prosody and isinstance(text, str):
        text, fields["ssml"] = _ssml(text, prosody), True
    return Say(text=text, **fields, **extra)


def media_ops(c: Compiler, params: dict, path: tuple, where: Where, *, barge: bool | None = None,
              conds: list | None = None) -> list[Op]:
    """The ops that play a `play` parameter set (a sound, a file or TTS; `sound_var` adds the variable's
    file, played instead when it is not empty). `conds` (IR conditions) must all hold for it to play."""
    conds = list(conds or [])
    extra: dict[str, Any] = {"loop": params.get("loop", 1)}
    if barge is not None:
        extra["barge_in"] = barge

    def enabled(more: list) -> Any:
        parts = conds + more
        if not parts:
            return True
        cond = parts[0] if len(parts) == 1 else {"all": parts}
        return Expr("cond", cond_expr_source(parse_cond(cond)))

    variable = params.get("sound_var")
    unset = [{"eq": [{"$expr": "template", "src": "${" + variable + "}"}, ""]}] if variable else []
    try:
        if "sound" in params:
            sound = c.settings["sounds"].get(params["sound"], {})
            if "file" in sound:
                main: Op = Play(url=sound["file"], **extra, enabled=enabled(unset))
            else:
                main = _tts(c, c.text(sound.get("tts", ""), path + ("sound",), where), sound, params,
                            **extra, enabled=enabled(unset))
        elif "file" in params:
            url = params["file"].startswith(("http://", "https://"))
            main = Play(url=c.text(params["file"], path + ("file",), where, url=url), **extra, enabled=enabled(unset))
        elif "tts" in params:
            main = _tts(c, c.text(params["tts"], path + ("tts",), where), {}, params, **extra, enabled=enabled(unset))
        else:
            c.bag.error("E_IVR_PLAY", "play needs one of sound, file or tts", c.span(path))
            return []
        ops = [main]
        if variable:
            ops.insert(0, Play(url=Expr("template", "${" + variable + "}"), **extra,
                               enabled=enabled([{"not": unset[0]}])))
        return ops
    except Exception as exc:  # IRError / ExprError from a literal value
        c.bag.error("E_IVR_VALUE", f"play: {getattr(exc, 'message', exc)}", c.span(path))
        return []


def prompt_ops(c: Compiler, step: dict, path: tuple, where: Where, *, in_collect: bool) -> list[Op]:
    """The ops of a prompt step (play / silence / say_digits). Inside an input request, `mode` sets
    barge-in per prompt (R5) and the step's `when` becomes the prompt's `enabled`."""
    action = step_action(step)
    params = step[action]
    apath = path + (action,)
    conds = []
    if in_collect and "when" in step:
        cond = c.when(step["when"], path + ("when",), where)
        if cond is not True:
            conds.append(cond)
    barge = params.get("mode", "bg") == "bg" if in_collect else None
    if action == "play":
        return media_ops(c, params, apath, where, barge=barge, conds=conds)
    extra: dict[str, Any] = {}
    if barge is not None:
        extra["barge_in"] = barge
    if conds:
        extra["enabled"] = Expr("cond", cond_expr_source(parse_cond(conds[0])))
    if action == "silence":
        op = c.op(Silence, apath, seconds=params["ms"] / 1000, **extra)
    else:
        digits = params["digits"] if "digits" in params else "${" + params.get("var", "") + "}"
        op = c.op(SayDigits, apath, digits=c.text(digits, apath, where), method=params.get("method", "iterated"),
                  **extra)
    return [op] if op is not None else []


def _sequence(c: Compiler, s: Step, ops: list[Op]) -> None:
    c.chain(s.sid, ops, s.next, s.path)


def play(c: Compiler, s: Step) -> None:
    _sequence(c, s, media_ops(c, s.params, s.path, s.where))


def _prompt_step(c: Compiler, s: Step) -> None:
    action = s.path[-1]
    _sequence(c, s, prompt_ops(c, {action: s.params}, s.path[:-1], s.where, in_collect=False))


# -- input ------------------------------------------------------------------------------------------


def _collect_op(c: Compiler, s: Step, **fields: Any) -> Op | None:
    defaults = c.settings["defaults"]
    prompt = s.params.get("prompt")
    prompts = media_ops(c, prompt, s.path + ("prompt",), s.where, barge=prompt.get("mode", "bg") == "bg") \
        if prompt else []
    return c.op(Collect, s.path, prompts=tuple(prompts), result=T.COLLECTED,
                timeout=s.params.get("timeout_ms", defaults["timeout_ms"]) / 1000, **fields)


def collect(c: Compiler, s: Step) -> None:
    """004 record_digits: collect into a variable ("" on no input or too few digits)."""
    defaults = c.settings["defaults"]
    p = s.params
    op = _collect_op(c, s, max_digits=p["max_digits"], min_digits=p.get("min_digits", 1),
                     inter_digit_timeout=p.get("inter_digit_timeout_ms", defaults["inter_digit_timeout_ms"]) / 1000,
                     finish_on_key=p.get("terminator", defaults["terminator"]))
    got, empty = f"{s.sid}/set", f"{s.sid}/empty"
    c.add(got, Set(name=p["var"], value=Expr("template", "${" + T.COLLECTED + ".digits}")), {"ok": s.next}, s.path)
    c.add(empty, Set(name=p["var"], value=""), {"ok": s.next}, s.path)
    c.add(s.sid, op, {"ok": got, "timeout": empty, "invalid": empty}, s.path)


def survey(c: Compiler, s: Step) -> None:
    """004 quality_rate: a 1..max_rate key, `attempts` tries; then the variable ("" if none)."""
    p = s.params
    rates = tuple(str(n) for n in range(1, p.get("max_rate", 5) + 1))
    attempts = p.get("attempts", 2)
    ids = [s.sid] + [f"{s.sid}/try{i}" for i in range(1, attempts)]
    got, none = f"{s.sid}/rate", f"{s.sid}/none"
    after_rate = s.next
    if p.get("finish_sound"):
        finish = media_ops(c, {"sound": p["finish_sound"]}, s.path + ("finish_sound",), s.where)
        after_rate = c.chain(f"{s.sid}/finish", finish, s.next, s.path)
    c.add(got, Set(name=p["var"], value=Expr("template", "${" + T.COLLECTED + ".digits}")), {"ok": after_rate},
          s.path)
    c.add(none, Set(name=p["var"], value=""), {"ok": s.next}, s.path)
    for index, sid in enumerate(ids):
        op = _collect_op(c, s, max_digits=1, choices=rates, early_match=True, finish_on_key=None)
        retry = ids[index + 1] if index + 1 < len(ids) else none
        c.add(sid, op, {**{f"match:{r}": got for r in rates}, "timeout": retry, "invalid": retry}, s.path)


def speech_menu(c: Compiler, s: Step) -> None:
    """004 voice_helper: listen; a rule whose phrase was heard goes to its target; with
    `dtmf_fallback`, keys pressed instead choose an option of the running context."""
    p = s.params
    prompt = p.get("prompt")
    prompts = media_ops(c, prompt, s.path + ("prompt",), s.where, barge=True) if prompt else []
    phrases = [ph for rule in p.get("rules", []) for ph in rule["phrases"]]
    fallback = p.get("dtmf_fallback", True)
    op = c.op(Speech, s.path, prompts=tuple(prompts), hints=tuple(phrases),
              timeout=p.get("timeout_ms", c.settings["defaults"]["timeout_ms"]) / 1000, dtmf=fallback,
              max_digits=p.get("max_digits"), finish_on_key=None, result=T.SPEECH)
    route = f"{s.sid}/route"
    cases, edges = [], {"ok": s.next}
    heard = Expr("template", "${" + T.SPEECH + ".text}")
    for index, rule in enumerate(p.get("rules", [])):
        words = "|".join(_phrase_regex(ph) for ph in rule["phrases"])
        cases.append(Case(f"r{index}", {"match": [heard, rf"(?is).*\b({words})\b.*"]}))
        edges[f"match:r{index}"] = goto_target(c, rule["goto"], s.where, f"{route}/r{index}", s.path)
    if fallback and s.where.context is not None:
        keys = c.settings["keys"].get(s.where.context, [])
        pressed = Expr("template", "${" + T.SPEECH + ".digits}")
        for key in keys:
            cases.append(Case(f"k{key}", {"eq": [pressed, key]}))
            edges[f"match:k{key}"] = c.option_state(s.where.context, key)
    c.add(route, Branch(cases=tuple(cases)), edges, s.path)
    c.add(s.sid, op, {"ok": route, "timeout": s.next}, s.path)


def _phrase_regex(phrase: str) -> str:
    return r"\s+".join(map(re.escape, phrase.split()))


# -- variables and caller id ------------------------------------------------------------------------


def set_var(c: Compiler, s: Step) -> None:
    ops = [Set(name=name, value=c.text(value, s.path + (name,), s.where)) for name, value in s.params.items()]
    _sequence(c, s, ops)


def set_caller_id(c: Compiler, s: Step) -> None:
    """004 set_caller_id_name/number: what later transfers present (the dial's caller_id/caller_name)."""
    ops = []
    if "name" in s.params:
        ops.append(c.silent(T.CID_NAME, c.text(s.params["name"], s.path + ("name",), s.where)))
    if "number" in s.params:
        ops.append(c.silent(T.CID_NUMBER, c.text(s.params["number"], s.path + ("number",), s.where)))
    _sequence(c, s, ops)


# -- jumps and endings ------------------------------------------------------------------------------


def goto_target(c: Compiler, params: dict, where: Where, sid: str, path: tuple) -> str:
    """The state a `goto` leads to (R9); `back` adds a branch at `sid` over where we came from."""
    if params.get("back"):
        context = where.context
        others = [name for name in c.settings["contexts"] if name != context]
        came_from = Expr("template", "${" + T.from_var(context or "") + "}")
        cases = tuple(Case(f"p{i}", {"eq": [came_from, name]}) for i, name in enumerate(others))
        edges = {f"match:p{i}": c.enter(name, where, back=True) for i, name in enumerate(others)}
        edges["ok"] = c.hangup(f"{sid}/top", path)  # nowhere to go back to: the call ends
        c.add(sid, Branch(cases=cases), edges, path)
        return sid
    context = params.get("context", where.context)
    option = params.get("option", "start")
    if option == "start":
        return c.enter(context, where)
    return c.option_state(context, option)


def goto(c: Compiler, s: Step) -> None:
    target = goto_target(c, s.params, s.where, s.sid, s.path)
    if target != s.sid:
        c.add(s.sid, Goto(), {"ok": target}, s.path)


def hangup(c: Compiler, s: Step) -> None:
    c.hangup(s.sid, s.path, s.params.get("cause", "normal"))


def voicemail(c: Compiler, s: Step) -> None:
    """Greeting, beep, recording, a `log` line for the notification, then hang up."""
    settings = {**c.settings["voicemail"], **s.params}
    box = settings.get("box", c.settings["name"])
    ops: list[Op] = []
    if settings.get("greeting"):
        ops += media_ops(c, {"sound": settings["greeting"], "mode": "fg"}, s.path, s.where)
    record = Record(max_length=VOICEMAIL_MAX_S, finish_on_key="#", beep=True,
                    silence_timeout=VOICEMAIL_SILENCE_S[settings.get("profile", "default")], result=T.VOICEMAIL)
    details = f"voicemail box={box}"
    if settings.get("mailto"):
        details += f" mailto={settings['mailto']} attach_file={str(settings.get('attach_file', True)).lower()}"
    note = Log(message=Expr("template", details.replace("${", "$${") + " url=${" + T.VOICEMAIL + ".url}"))
    end = c.hangup(f"{s.sid}/voicemail", s.path)
    log_id = c.add(f"{s.sid}/log", note, {"ok": end}, s.path)
    record_id = c.add(f"{s.sid}/record", record, {"ok": log_id, "timeout": log_id}, s.path)
    c.chain(s.sid, ops, record_id, s.path) if ops else c.add(s.sid, Goto(), {"ok": record_id}, s.path)


# -- other parties ----------------------------------------------------------------------------------


def _failed(c: Compiler, sid: str, status: str, nxt: str, final: bool, path: tuple) -> str:
    """A dial/queue that did not connect: remember why (dial_status, call_status), then stop (final)
    or continue (R3)."""
    if f"{sid}/{status}" in c.states:  # failed and canceled, exit and no_agents share one
        return f"{sid}/{status}"
    ops = []
    if c.flags["dial_status"]:
        ops.append(c.silent(T.DIAL_STATUS, status))
    if c.flags["call_status"]:
        ops.append(c.silent(T.CALL_STATUS, status))
    end = c.hangup(f"{sid}/final", path, label="failed") if final else nxt
    return c.chain(f"{sid}/{status}", ops, end, path)


def _after_answer(c: Compiler, sid: str, handler: list | None, path: tuple, where: Where) -> str:
    """After the conversation: `on_agent_hangup` steps (then hang up), or hang up (R3)."""
    done = c.hangup(f"{sid}/done", path)
    if not handler:
        return done
    first = c.steps(handler, path + ("on_agent_hangup",), f"{sid}/agent", done, where, indexed=True)
    if c.flags["dial_status"]:
        return c.add(f"{sid}/answered", c.silent(T.DIAL_STATUS, "answered"), {"ok": first}, path)
    return first


def transfer_states(c: Compiler, params: dict, sid: str, nxt: str, path: tuple, where: Where, *, final: bool) -> None:
    """Dial the destinations together (R3: answered = terminal, failed = stop when final)."""
    if "var" in params:
        targets: tuple = (Expr("template", "${" + params["var"] + "}"),)
    else:
        targets = tuple(c.text(t, path + ("to", i), where) if isinstance(t, str) else t
                        for i, t in enumerate(params.get("to", [])))
    caller = params.get("caller_id", {})
    number = c.text(caller["number"], path + ("caller_id", "number"), where) if "number" in caller else (
        Expr("template", "${" + T.CID_NUMBER + "}") if c.flags["caller_id"] else None)
    name = c.text(caller["name"], path + ("caller_id", "name"), where) if "name" in caller else (
        Expr("template", "${" + T.CID_NAME + "}") if c.flags["caller_id"] else None)
    on_answer = None
    if params.get("on_answer"):
        end = c.add(f"{sid}/ans.end", Goto(), None, path)
        on_answer = c.steps(params["on_answer"], path + ("on_answer",), f"{sid}/ans", end, where, indexed=True)
    op = c.op(Dial, path, targets=targets, timeout=float(params.get("timeout_s", c.settings["defaults"]["transfer_timeout_s"])),
              caller_id=number, caller_name=name, on_answer=on_answer, ends_lifetime=True)
    edges = {"answered": _after_answer(c, sid, params.get("on_agent_hangup"), path, where)}
    for outcome, status in (("busy", "busy"), ("no-answer", "no_answer"), ("failed", "failed"), ("canceled", "failed")):
        edges[outcome] = _failed(c, sid, status, nxt, final, path)
    c.add(sid, op, edges, path)


def transfer(c: Compiler, s: Step) -> None:
    transfer_states(c, s.params, s.sid, s.next, s.path, s.where, final=s.step.get("final", True))


def queue(c: Compiler, s: Step) -> None:
    """A queue; an outcome with no `on_*` handler counts as a failed dial (timeout = no_answer)."""
    p = s.params
    final = s.step.get("final", True)
    op = c.op(Queue, s.path, name=c.text(p["name"], s.path + ("name",), s.where),
              max_wait=float(p["max_wait_s"]) if "max_wait_s" in p else None, exit_key=p.get("exit_key"),
              ends_lifetime=True)

    def handler(key: str, status: str) -> str:
        if p.get(key):
            return c.steps(p[key], s.path + (key,), f"{s.sid}/{key}", s.next, s.where, indexed=True)
        return _failed(c, s.sid, status, s.next, final, s.path)

    done = c.hangup(f"{s.sid}/done", s.path)
    edges = {
        "answered": done,
        "agent_hangup": _after_answer(c, s.sid, p.get("on_agent_hangup"), s.path, s.where),
        "timeout": handler("on_timeout", "no_answer"),
        "exit": handler("on_exit_key", "failed"),
        "no_agents": handler("on_no_agents", "failed"),
    }
    c.add(s.sid, op, edges, s.path)


def send_dtmf(c: Compiler, s: Step) -> None:
    op = c.op(SendDtmf, s.path, digits=c.text(s.params["digits"], s.path + ("digits",), s.where))
    c.add(s.sid, op, {"ok": s.next}, s.path)


def record(c: Compiler, s: Step) -> None:
    if s.params.get("action", "start") == "stop":
        op: Op = RecordStop()
    else:
        op = RecordStart(legs=s.params.get("legs", "both"))
    c.add(s.sid, op, {"ok": s.next}, s.path)


# -- webhooks (2.5) ---------------------------------------------------------------------------------


def webhook(c: Compiler, s: Step) -> None:
    """Ask a web service; its JSON answer (vars, actions) is compiled when it arrives (webhook.py)."""
    p = s.params
    method = p.get("method", "GET")
    core = {
        "event": "call_interactive",
        "call_id": Expr("template", "${call.id}"),
        "caller_id_number": Expr("template", "${call.from}"),
        "caller_id_name": Expr("template", "${call.from_name}"),
        "called_number": Expr("template", "${call.to}"),
        "ivr": c.settings["name"],
        "context": s.where.context or "",
        "option": s.where.option or "",
        "digits": Expr("template", "${" + T.COLLECTED + ".digits}"),
    }
    params = {k: c.text(v, s.path + ("params", k), s.where) for k, v in p.get("params", {}).items()}
    fields: dict[str, Any] = {}
    if method == "POST":
        fields["json_body"] = {**core, "vars": Expr("vars", T.USER_VARS_PATTERN), "params": params}
    else:
        fields["params"] = {**core, **params}
    op = c.op(Document, s.path, url=c.text(p["url"], s.path + ("url",), s.where, url=True), method=method,
              timeout=p.get("timeout_ms", 3000) / 1000, format=WEBHOOK_FORMAT, mode="call", inherit=True,
              result=T.WEBHOOK, **fields)
    status = Expr("calc", f'str({T.WEBHOOK}.status) if {T.WEBHOOK}.status else '
                          f'("timeout" if {T.WEBHOOK}.error == "timeout" else "error")')
    on_error = s.next
    if p.get("on_error"):
        on_error = c.steps(p["on_error"], s.path + ("on_error",), f"{s.sid}/err", s.next, s.where, indexed=True)
    failed = c.add(f"{s.sid}/failed", c.silent(T.WEBHOOK_STATUS, status), {"ok": on_error}, s.path)
    c.add(s.sid, op, {"ok": s.next, "error": failed}, s.path)


ACTIONS: dict[str, Callable[[Compiler, Step], None]] = {
    "play": play,
    "silence": _prompt_step,
    "say_digits": _prompt_step,
    "collect": collect,
    "set_var": set_var,
    "set_caller_id": set_caller_id,
    "goto": goto,
    "transfer": transfer,
    "send_dtmf": send_dtmf,
    "queue": queue,
    "voicemail": voicemail,
    "hangup": hangup,
    "webhook": webhook,
    "record": record,
    "survey": survey,
    "speech_menu": speech_menu,
}

__all__ = ["ACTIONS", "compile_step", "media_ops", "prompt_ops", "transfer_states", "goto_target"]
