"""Compile a checked IVR menu to the IR (spec 2.8): one group of states per context, per option, per step.

State ids say where a state comes from, and the per-call report reads them (report.py):

    C.reset / C.back / C.again   entering context C from elsewhere / by `back` / from itself (R2, R9)
    C:start                      the `start` option; `C:K` is option K's first state (R6, R9)
    C:K.3                        step 3 of option K; `C:K.3/do` its action when it has a `when`
    C:menu                       the collect phase (R5), or C:start itself when `start` is only prompts;
                                 C.hit.K, C.fail.timeout… its bookkeeping (R6, R7)
    …/done  …/final  …/voicemail the hang-ups after an answered transfer/queue, a failed `final` one,
                                 a voicemail; `C:K.end` the fall-through hang-up (R4, R8)
    IVR:boot, IVR:lifetime       the flow's entry (R1) and lifetime handler (R10)

Bookkeeping is kept in upper-case `IVR_…` variables (text.py), assigned by silent `set` ops, so the
transcript shows only what the author's flow did. Only what a flow uses is emitted: a menu without
`max_failures` has no counter, one without `repeat` conditions no repeat flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...diagnostics import DiagnosticBag, Span
from ...errors import IRError
from ...expr import Expr, ExprError
from ...expr.condexpr import cond_expr_source
from ...expr.conditions import CondError, parse_cond
from ...ir.model import Branch, Case, Collect, Flow, Goto, Hangup, Op, Set, State
from ...ir.values import FrozenDict, freeze
from ...structured import Document
from . import text as T
from .menu import PROMPT_ACTIONS, Menu, all_steps, step_action
from .when import compile_when, uses

@dataclass
class Where:
    """Where a step list runs: its context and option (None when unknown, e.g. the lifetime handler)."""

    context: str | None
    option: str | None


class Compiler:
    """Builds the states of one flow (or of one webhook answer, against a parent's settings)."""

    def __init__(self, menu: Menu | None, settings: dict, doc: Document, bag: DiagnosticBag):
        self.menu = menu
        self.settings = settings
        self.doc = doc
        self.bag = bag
        self.states: dict[str, State] = {}
        self.flags: dict[str, Any] = settings["flags"]

    # -- plumbing -----------------------------------------------------------------------------------

    def span(self, path: tuple) -> Span:
        return self.doc.span(path)

    def add(self, sid: str, op: Op | None, edges: dict | None = None, path: tuple = (), label: str | None = None) -> str:
        if op is not None:
            assert sid not in self.states, f"state id {sid!r} used twice"
            self.states[sid] = State(sid, op, FrozenDict(edges or {}), self.span(path), label)
        return sid

    def op(self, cls: type[Op], path: tuple, **fields: Any) -> Op | None:
        """An op, or None after a diagnostic at `path` (an invalid literal value)."""
        try:
            return cls(**fields)
        except IRError as exc:
            self.bag.error("E_IVR_VALUE", f"{cls.kind}: {exc.message}", self.span(path))
        except (ExprError, CondError) as exc:
            self.bag.error("E_IVR_VALUE", f"{cls.kind}: {exc.message}", self.span(path))
        return None

    def text(self, value: str, path: tuple, where: Where, *, url: bool = False) -> Any:
        """A string parameter with `${name}` interpolation (R12)."""
        literals = {"ivr": self.settings["name"]}
        if where.context is not None:
            literals["context"] = where.context
        try:
            return T.interpolate(value, literals, url=url)
        except T.TextError as exc:
            self.bag.error("E_IVR_VAR", exc.message, self.span(path))
        except ExprError as exc:
            self.bag.error("E_IVR_VAR", exc.message, self.span(path))
        return value

    def silent(self, name: str, value: Any) -> Set:
        return Set(name=name, value=value, silent=True)

    def chain(self, prefix: str, ops: list[Op], end: str, path: tuple) -> str:
        """States `prefix`, `prefix/1`, … running `ops` in order, then `end`; the first id (or `end`)."""
        if not ops:
            return end
        ids = [prefix] + [f"{prefix}/{i}" for i in range(1, len(ops))]
        for index, (sid, op) in enumerate(zip(ids, ops)):
            self.add(sid, op, {"ok": ids[index + 1] if index + 1 < len(ids) else end}, path)
        return ids[0]

    def when(self, when: dict, path: tuple, where: Where) -> Any:
        """The IR condition (JSON) of a `when` mapping."""
        literals = {"ivr": self.settings["name"], **({"context": where.context} if where.context else {})}
        try:
            return compile_when(when, self.interval, literals)
        except (T.TextError, ExprError) as exc:
            self.bag.error("E_IVR_WHEN", getattr(exc, "message", str(exc)), self.span(path))
            return True

    def interval(self, name: str) -> dict:
        definition = self.settings["intervals"].get(name, {"conditions": []})
        return {"name": name, "timezone": definition.get("timezone", self.settings["timezone"]),
                "conditions": definition.get("conditions", [])}

    def enabled(self, when: dict | None, path: tuple, where: Where) -> Any:
        """A prompt's `enabled` value for a `when` (a `cond` expression, or True)."""
        if not when:
            return True
        cond = self.when(when, path + ("when",), where)
        if cond is True:
            return True
        return Expr("cond", cond_expr_source(parse_cond(cond)))

    # -- entering contexts ---------------------------------------------------------------------------

    def entries(self, context: str) -> dict[str, str]:
        return self.settings["entries"][context]

    def enter(self, target: str, where: Where, back: bool = False) -> str:
        """The state that enters `target` from the running context (R2, R9)."""
        entries = self.entries(target)
        if back:
            return entries["back"]
        if where.context == target:
            return entries["again"]
        return entries["reset"]

    def option_state(self, context: str, option: str) -> str:
        return f"{context}:{option}"

    # -- step lists ----------------------------------------------------------------------------------

    def steps(self, steps: list, path: tuple, base: str, end: str, where: Where, *, indexed: bool = False) -> str:
        """Compile a step list: step i at `base` (i = 0, unless `indexed`) or `base.i`; the fall-through
        goes to `end`. Returns the first state id."""
        from .actions import compile_step

        if not steps:
            return end
        ids = [base if (i == 0 and not indexed) else f"{base}.{i}" for i in range(len(steps))]
        for index, step in enumerate(steps):
            nxt = ids[index + 1] if index + 1 < len(steps) else end
            compile_step(self, step, path + (index,), ids[index], nxt, where)
        return ids[0]

    def hangup(self, sid: str, path: tuple, cause: str = "normal", label: str | None = None) -> str:
        """A hang-up state; several outcomes may share one (`…/final`, `…/done`)."""
        if sid in self.states:
            return sid
        return self.add(sid, Hangup(cause=cause), None, path, label)


# -- whole flows ----------------------------------------------------------------------------------------


def analyse(menu: Menu) -> dict[str, Any]:
    """What the flow needs besides the author's steps (settings["flags"])."""
    data = menu.data
    steps = list(all_steps(data))
    actions = [step_action(s) for s, _ in steps]
    backs = sorted({p[1] for s, p in steps if p[0] == "contexts" and step_action(s) == "goto"
                    and s["goto"].get("back")})
    webhooks = "webhook" in actions
    texts = _all_text(data)
    refers = lambda name: any(f"${{{name}}}" in t for t in texts)  # noqa: E731
    whens = [s["when"] for s, _ in steps if isinstance(s.get("when"), dict)]
    flags = {
        "webhooks": webhooks,
        # `back` may be used by webhook answers in any context: then every context records where it came from
        "record_from": sorted(menu.contexts) if webhooks else backs,
        "repeat": any(uses(w, "repeat") for w in whens),
        "call_status": any(uses(w, "call_status") for w in whens) or webhooks,
        "dial_status": refers("dial_status") or any(uses(w, "var") and _tests_var(w, "dial_status") for w in whens)
                       or webhooks,
        "caller_id": "set_caller_id" in actions,
    }
    flags["context_var"] = bool(flags["record_from"]) or refers("context")
    return flags


def _tests_var(when: dict, name: str) -> bool:
    return name in when.get("var", {}) or ("not" in when and _tests_var(when["not"], name))


def _all_text(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _all_text(v)]
    if isinstance(value, list):
        return [t for v in value for t in _all_text(v)]
    return []


def settings_of(menu: Menu, flags: dict) -> dict[str, Any]:
    """The JSON-able summary stored in the flow's meta (see menu.py)."""
    contexts = {}
    entries = {}
    for name in menu.contexts:
        options = list(menu.contexts[name].get("options", {}))
        if menu.has_menu(name):
            options += [k for k in ("timeout", "invalid", "exhausted") if k not in options]
        if "start" not in options:
            options.insert(0, "start")
        contexts[name] = options
        entries[name] = _entry_ids(menu, name, flags)
    return {
        "name": menu.name,
        "timezone": menu.timezone,
        "defaults": menu.defaults(),
        "voicemail": menu.voicemail(),
        "sounds": menu.data.get("sounds", {}),
        "intervals": menu.data.get("intervals", {}),
        "contexts": contexts,
        "keys": {name: menu.key_options(name) for name in menu.contexts},
        "entries": entries,
        "flags": flags,
    }


def _counters(menu: Menu, context: str) -> tuple[bool, bool]:
    """(failures counter, separate timeouts counter) for a context with a collect phase."""
    if not menu.has_menu(context):
        return False, False
    return menu.setting(context, "max_failures") > 0, menu.setting(context, "max_timeouts") > 0


def _entry_ids(menu: Menu, context: str, flags: dict) -> dict[str, str]:
    start = f"{context}:start"
    failures, timeouts = _counters(menu, context)
    back_ops = failures or timeouts or flags["context_var"] or flags["repeat"]
    back = f"{context}.back" if back_ops else start
    reset = f"{context}.reset" if context in flags["record_from"] else back
    again = f"{context}.again" if flags["repeat"] else start
    return {"reset": reset, "back": back, "again": again}


def compile_menu(menu: Menu, bag: DiagnosticBag) -> Flow | None:
    """The Flow of a checked menu (None when compiling found errors, reported in `bag`)."""
    flags = analyse(menu)
    settings = settings_of(menu, flags)
    c = Compiler(menu, settings, menu.doc, bag)
    for name in menu.contexts:
        _context(c, menu, name)
    # R10: lifetime handler (default: hang up)
    lifetime = menu.data.get("lifetime_s", 0)
    handlers = {}
    if lifetime:
        steps = menu.data.get("on_lifetime") or [{"hangup": {}}]
        path = ("on_lifetime",) if "on_lifetime" in menu.data else ("lifetime_s",)
        handlers["lifetime"] = c.steps(steps, path, "IVR:lifetime", c.hangup("IVR:lifetime.end", path),
                                       Where(None, None))
    # R1: answer (flow.answer), sleep, enter `entry`
    entry = settings["entries"][menu.data["entry"]]["reset"]
    sleep = menu.data.get("sleep_ms", 0)
    if sleep:
        from ...ir.model import Silence

        entry = c.add("IVR:boot", Silence(seconds=sleep / 1000), {"ok": entry}, ("sleep_ms",))
    if bag.has_errors:
        return None
    _prune(c.states, entry, handlers)
    variables = {name: value for name, value in menu.data.get("vars", {}).items()}
    meta = {"ivr": settings}
    if menu.data.get("report_vars"):
        meta["report_vars"] = list(menu.data["report_vars"])
    if menu.warnings:
        meta["warnings"] = [d.to_json() for d in menu.warnings]
    return Flow(
        name=menu.name, states=FrozenDict(c.states), entry=FrozenDict({"*": entry}), variables=freeze(variables),
        handlers=FrozenDict(handlers), lifetime=float(lifetime) if lifetime else None,
        answer="start" if menu.data.get("answer", True) else "auto", dialect=menu.dialect,
        source=menu.doc.filename, meta=freeze(meta),
    )


def _prune(states: dict[str, State], entry: str, handlers: dict[str, str]) -> None:
    """Drop the fall-through hang-ups no step can reach (after a terminal last step)."""
    used = {entry, *handlers.values()}
    for state in states.values():
        used.update(state.edges.values())
        used.update(state.op.refs().values())
    for sid in [s for s in states if s not in used and s.endswith((".end", "/final", "/done"))]:
        del states[sid]


def _context(c: Compiler, menu: Menu, name: str) -> None:
    ctx = menu.contexts[name]
    path = ("contexts", name)
    opath = path + ("options",)
    options = ctx.get("options", {})
    where = Where(name, "start")
    flags = c.flags
    failures, timeouts = _counters(menu, name)
    has_menu = menu.has_menu(name)
    start_id = f"{name}:start"

    # entering (R2): record the predecessor, reset counters, remember the context
    entries = c.entries(name)
    back_ops: list[Op] = []
    if failures:
        back_ops.append(c.silent(T.failures_var(name), 0))
    if timeouts:
        back_ops.append(c.silent(T.timeouts_var(name), 0))
    if flags["context_var"]:
        back_ops.append(c.silent(T.CONTEXT, name))
    if flags["repeat"]:
        back_ops.append(c.silent(T.REPEAT, ""))
    c.chain(f"{name}.back", back_ops, start_id, path)
    if name in flags["record_from"]:
        c.add(f"{name}.reset", c.silent(T.from_var(name), Expr("template", "${" + T.CONTEXT + "}")),
              {"ok": entries["back"]}, path)
    if flags["repeat"]:
        c.add(f"{name}.again", c.silent(T.REPEAT, "1"), {"ok": start_id}, path)

    # start (R2-R4): the prompts that lead into the collect phase belong to the collect (barge-in, R5)
    start = options.get("start", [])
    tail = 0
    if has_menu:
        while tail < len(start) and step_action(start[len(start) - 1 - tail]) in PROMPT_ACTIONS:
            tail += 1
    body = start[: len(start) - tail]
    # with nothing but prompts before it, the collect phase is the `start` state itself
    menu_id = f"{name}:menu" if body else start_id
    after_start = menu_id if has_menu else c.hangup(f"{name}:start.end", opath + ("start",))
    if body:
        c.steps(body, opath + ("start",), start_id, after_start, where)
    elif not has_menu:
        c.add(start_id, Goto(), {"ok": after_start}, opath + ("start",) if "start" in options else path)

    if has_menu:
        _collect_phase(c, menu, name, start[len(body):], len(body), menu_id)

    # options (R6, R8, R9)
    defaults = {"timeout": [{"goto": {"context": name}}], "invalid": [{"goto": {"context": name}}],
                "exhausted": [{"hangup": {}}]}
    keys = list(options) + ([k for k in defaults if k not in options] if has_menu else [])
    for key in keys:
        if key == "start":
            continue
        steps = options.get(key, defaults.get(key))
        kpath = opath + (key,) if key in options else path
        _option(c, name, key, steps, kpath)


def _option(c: Compiler, context: str, key: str, steps: list, path: tuple) -> None:
    where = Where(context, key)
    base = c.option_state(context, key)
    end = c.hangup(f"{base}.end", path, label="failed" if key == "exhausted" else None)
    if c.flags["call_status"]:
        first = c.steps(steps, path, base, end, where, indexed=True)
        c.add(base, c.silent(T.CALL_STATUS, ""), {"ok": first}, path)
    elif steps:
        c.steps(steps, path, base, end, where)
    else:
        c.add(base, Goto(), {"ok": end}, path)


def _collect_phase(c: Compiler, menu: Menu, name: str, prompt_steps: list, offset: int, menu_id: str) -> None:
    """R5-R7: collect digits, then dispatch to an option, any-dial, or a counted failure."""
    from .actions import prompt_ops

    path = ("contexts", name)
    where = Where(name, "start")
    keys = menu.key_options(name)
    any_dial = menu.any_dial(name)
    confirm = menu.contexts[name].get("confirm")
    failures, timeouts = _counters(menu, name)
    prompts: list[Op] = []
    for index, step in enumerate(prompt_steps):
        spath = path + ("options", "start", offset + index)
        prompts += prompt_ops(c, step, spath, where, in_collect=True)
    terminator = menu.setting(name, "terminator")
    collect = c.op(
        Collect, path,
        prompts=tuple(prompts), max_digits=menu.setting(name, "digit_len"), min_digits=1,
        timeout=menu.setting(name, "timeout_ms") / 1000,
        inter_digit_timeout=menu.setting(name, "inter_digit_timeout_ms") / 1000,
        finish_on_key=terminator, barge_in=True, choices=tuple(keys) or None,
        early_match=bool(menu.setting(name, "early_match")) and any_dial is None and confirm is None,
        result=T.COLLECTED,
    )

    def counted(kind: str, counter: str | None, limit: int, then: str) -> str:
        """Count a failure (R7); `exhausted` once the limit is reached, else `then`."""
        if counter is None or limit <= 0:
            return then
        sid = f"{name}.fail.{kind}"
        check = Branch(cases=(Case("exhausted", {"$expr": "calc", "src": f"{counter} >= {limit}"}),))
        c.add(sid, c.silent(counter, Expr("calc", f"{counter} + 1")), {"ok": f"{sid}.check"}, path)
        c.add(f"{sid}.check", check, {"match:exhausted": f"{name}:exhausted", "ok": then}, path)
        return sid

    f_var = T.failures_var(name) if failures else None
    t_var = T.timeouts_var(name) if timeouts else f_var
    t_limit = menu.setting(name, "max_timeouts") if timeouts else menu.setting(name, "max_failures")
    on_timeout = counted("timeout", t_var, t_limit, f"{name}:timeout")
    on_invalid = counted("invalid", f_var, menu.setting(name, "max_failures"), f"{name}:invalid")
    hits = {}
    for key in keys:
        target = c.option_state(name, key)
        if f_var:
            target = c.add(f"{name}.hit.{key}", c.silent(f_var, 0), {"ok": target}, path)
        hits[key] = target
    if any_dial is not None:
        on_invalid = _any_dial(c, menu, name, any_dial, on_invalid)
    if confirm is not None:
        dispatch = f"{name}.dispatch"
        cases = tuple(Case(f"k{i}", {"eq": [Expr("template", "${" + T.COLLECTED + ".digits}"), key]})
                      for i, key in enumerate(keys))
        c.add(dispatch, Branch(cases=cases), {**{f"match:k{i}": hits[k] for i, k in enumerate(keys)},
                                              "ok": on_invalid}, path)
        rejected = counted("reject", f_var, menu.setting(name, "max_failures"), c.entries(name)["again"])
        confirmed = _confirm(c, name, confirm, dispatch, rejected, menu)
        edges = {"timeout": on_timeout, "invalid": confirmed, "ok": confirmed,
                 **{f"match:{k}": confirmed for k in keys}}
    else:
        edges = {"timeout": on_timeout, "invalid": on_invalid, "ok": on_invalid,
                 **{f"match:{k}": hits[k] for k in keys}}
    if collect is not None:
        allowed = collect.outcomes()
        c.add(menu_id, collect, {k: v for k, v in edges.items() if k in allowed}, path)


def _any_dial(c: Compiler, menu: Menu, name: str, any_dial: dict, otherwise: str) -> str:
    """R6: input matching allow_any_dial's pattern is transferred to (final); other input fails."""
    from .actions import transfer_states

    path = ("contexts", name, "allow_any_dial")
    sid = f"{name}.anydial"
    digits = Expr("template", "${" + T.COLLECTED + ".digits}")
    c.add(sid, Branch(cases=(Case("dial", {"match": [digits, any_dial["pattern"]]}),)),
          {"match:dial": f"{sid}/dial", "ok": otherwise}, path)
    params = {"to": [digits], "timeout_s": any_dial.get("timeout_s", menu.defaults()["transfer_timeout_s"])}
    transfer_states(c, params, f"{sid}/dial", otherwise, path, Where(name, "invalid"), final=True)
    return sid


def _confirm(c: Compiler, name: str, confirm: dict, accepted: str, rejected: str, menu: Menu) -> str:
    """Read the entry back and wait for the confirm key, `attempts` times (FreeSWITCH confirm-*)."""
    from .actions import prompt_ops

    path = ("contexts", name, "confirm")
    where = Where(name, "start")
    prompts: list[Op] = []
    for index, step in enumerate(confirm.get("prompts", [])):
        prompts += prompt_ops(c, step, path + ("prompts", index), where, in_collect=True)
    attempts = confirm.get("attempts", 3)
    ids = [f"{name}.confirm.{i}" for i in range(attempts)]
    for index, sid in enumerate(ids):
        op = c.op(Collect, path, prompts=tuple(prompts), max_digits=1, min_digits=1,
                  timeout=menu.setting(name, "timeout_ms") / 1000, finish_on_key=None,
                  choices=(confirm["key"],), early_match=True, result="IVR_cf")
        if op is not None:
            retry = ids[index + 1] if index + 1 < len(ids) else rejected
            c.add(sid, op, {f"match:{confirm['key']}": accepted, "invalid": rejected, "timeout": retry}, path)
    return ids[0]
