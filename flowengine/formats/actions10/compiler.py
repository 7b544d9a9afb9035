"""ACTIONS10 script → IR Flow: structure checks, branches, steps and control flow (digest §4.2-4.7).

Theory of operation:
  * Every step becomes one or more IR states. A step's first state has the id `<branch>.<i>` (nested
    lists add `.then.<i>`, `.else.<i>`, `.<event>.<i>`); states it adds behind it get `<id>:<what>`.
  * Steps are compiled back to front: each knows the state that follows it (`next`), None at the end
    of a branch (the frame ends: the run ends, or the dial that pushed the frame completes).
  * `if:` on an action or a goto is a `branch` state in front of it; `if/then/else` is a `branch` state
    whose `match:then` edge starts the `then` list and whose `ok` edge starts `else` (or goes on).
  * `goto` is a `goto` state whose edge is the target branch's first state (so the loop guard counts it).
  * Special branches: `inbound-call`, `api-initiated`, `inbound-sms` are the flow's entries (triggers
    inbound-call, api, inbound-sms); `hangup` is the flow's hangup handler, behind a `branch` state that
    lets it run for inbound-call runs only (M8).
  * Diagnostics are collected (one per problem) and raised together; warnings go to `meta.warnings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...diagnostics import DiagnosticBag, Span, did_you_mean
from ...errors import FlowError, IRError
from ...expr import Expr, ExprError
from ...expr.conditions import Eq, Truthy
from ...expr.js import TemplatePart, read_names, single_expression, split_template
from ...ir.model import Assign, Branch, Case, Flow, Goto, Op, State
from ...schema import validate as validate_schema
from ...structured import Document
from .catalogue import Action, ActionLookupError, lookup
from .params import ParamProblem, convert_fields

VAR_NAME = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")
BRANCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TRIGGERS = {"inbound-call": "inbound-call", "api-initiated": "api", "inbound-sms": "inbound-sms"}
SPECIAL = (*TRIGGERS, "hangup")
TOP_KEYS = ("description", "compat", "variables", "defaults", "branches")
DEFAULT_KEYS = ("autoAnswer", "language", "voice")
STEP_KEYS = ("action", "params", "result", "events", "if", "goto", "then", "else")
CURRENT_COMPAT = "2025-09-01"
MAX_JUMPS = 100  # M11: gotos without a channel action before E_LOOP_LIMIT
RAW = "_raw"  # scratch variable receiving an IR result before it is reshaped into the author's variable


@dataclass
class Defaults:
    auto_answer: bool = True
    language: str | None = None
    voice: str | None = None


@dataclass
class Step:
    """What an action's `compile` function gets: one step of the script and where it goes next.

    `params` holds the converted parameters the author gave (literals or Exprs); `param(name)` adds the
    catalogue default. `add` creates a state, `edges` sends every outcome of an op to a state, and
    `bind` stores the op's result into `result` through a reshaping JavaScript expression.
    """

    id: str
    span: Span
    action: Action
    params: dict[str, Any]
    result: str | None
    events: dict[str, str | None]
    next: str | None
    compiler: "Compiler"

    @property
    def defaults(self) -> Defaults:
        return self.compiler.defaults

    def param(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        return self.action.params[name].default

    def add(self, suffix: str, op: Op, edges: dict[str, str] | None = None, label: str | None = None) -> str:
        sid = f"{self.id}:{suffix}" if suffix else self.id
        self.compiler.add_state(sid, op, edges or {}, self.span, label)
        return sid

    @staticmethod
    def edges(op: Op, target: str | None) -> dict[str, str]:
        return {outcome: target for outcome in sorted(op.outcomes())} if target else {}

    def scratch(self, stem: str) -> str:
        return self.compiler.scratch(stem)

    def branch(self, name: str) -> str:
        """The first state of branch `name` (the compiler has checked that it exists)."""
        return self.compiler.branch_entry(name)

    def assign(self, suffix: str, variable: str, js: str, target: str | None) -> str:
        """A silent `assign` state: `variable` = the JS expression `js`; then `target`."""
        op = Assign(values={variable: Expr("js", js)}, silent=True)
        return self.add(suffix, op, self.edges(op, target), label=f"result {variable}")

    def single(self, op_class: type[Op], reshape: str | None = None, **fields: Any) -> str:
        """The common shape: one op; with `result:`, a reshaping state (JS over `_raw`) after it."""
        if self.result and reshape:
            op = self.compiler.build(op_class, self, result=RAW, **fields)
            after = self.assign("result", self.result, reshape, self.next)
            return self.add("", op, self.edges(op, after), label=self.action.id)
        op = self.compiler.build(op_class, self, **fields)
        return self.add("", op, self.edges(op, self.next), label=self.action.id)


class _Stop(Exception):
    """The current step is unusable (its diagnostic is already recorded)."""


class Compiler:
    def __init__(self, doc: Document, name: str):
        self.doc = doc
        self.name = name
        self.bag = DiagnosticBag()
        self.states: dict[str, State] = {}
        self.defaults = Defaults()
        self.branches: dict[str, Any] = {}
        self.entries: dict[str, str] = {}
        self.declared: dict[str, Any] = {}
        self.written: set[str] = set()
        self.reads: dict[str, Span] = {}
        self._scratch = 0

    # -- helpers -------------------------------------------------------------------------------------

    def span(self, path: tuple, key: bool = False) -> Span:
        return self.doc.span(path, key=key)

    def error(self, code: str, message: str, path: tuple, key: bool = False, hint: str | None = None) -> None:
        self.bag.error(code, message, self.span(path, key), hint)

    def warning(self, code: str, message: str, path: tuple, key: bool = False) -> None:
        self.bag.warning(code, message, self.span(path, key))

    def scratch(self, stem: str) -> str:
        self._scratch += 1
        return f"_{stem}{self._scratch}"

    def add_state(self, sid: str, op: Op, edges: dict[str, str], span: Span, label: str | None = None) -> None:
        self.states[sid] = State(sid, op, {k: v for k, v in edges.items() if v is not None}, span, label)

    def build(self, op_class: type[Op], step: Step, **fields: Any) -> Op:
        try:
            return op_class(**fields)
        except IRError as exc:
            self.bag.error("E_PARAM_VALUE", f"{step.action.id}: {exc.message}", step.span)
            raise _Stop() from None

    def branch_entry(self, name: str) -> str:
        return self.entries[name]

    def unknown_keys(self, data: dict, allowed: tuple, path: tuple, what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error("E_UNKNOWN_KEY", f"unknown key {key!r} in {what}{did_you_mean(str(key), allowed)}",
                           path + (key,), key=True)

    # -- the document --------------------------------------------------------------------------------

    def compile(self) -> Flow:
        data = self.doc.data
        if not isinstance(data, dict):
            self.error("E_SHAPE", "an ACTIONS10 script is a mapping with `branches`", ())
            raise FlowError(self.bag.items)
        self.unknown_keys(data, TOP_KEYS, (), "the script")
        meta: dict[str, Any] = {}
        if "description" in data:
            if isinstance(data["description"], str):
                meta["description"] = data["description"]
            else:
                self.error("E_SHAPE", "`description` must be text", ("description",))
        compat = self.compat(data.get("compat"))
        if compat:
            meta["compat"] = compat
        self.variables(data.get("variables"))
        self.read_defaults(data.get("defaults"))
        branches = data.get("branches")
        if not isinstance(branches, dict) or not branches:
            self.error("E_SHAPE", "`branches` must be a mapping of branch name → {actions: [...]}",
                       ("branches",) if "branches" in data else (), key="branches" not in data)
            raise FlowError(self.bag.items)
        self.collect_branches(branches)
        for name, steps in self.branches.items():
            self.steps(steps, ("branches", name) + (("actions",) if self._wrapped[name] else ()),
                       f"{name}", None, entry=self.entries[name])
        entry = {TRIGGERS[name]: self.entries[name] for name in TRIGGERS if name in self.branches}
        if not entry:
            self.error("E_NO_ENTRY", "the script has no entry branch: add inbound-call, api-initiated or "
                       "inbound-sms", ("branches",), key=True)
        handlers = {}
        if "hangup" in self.branches:
            guard = Branch(cases=(Case("inbound", Eq(Expr("var", "call.trigger"), "inbound-call")),))
            self.add_state("hangup", guard, {"match:inbound": self.entries["hangup"]},
                           self.span(("branches", "hangup"), key=True), "hangup branch: inbound calls only")
            handlers["hangup"] = "hangup"
        self.undeclared_warnings()
        self.bag.items.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        if self.bag.has_errors:
            raise FlowError(self.bag.items)
        problems = validate_schema("actions10.schema.json", data, self.doc, "E_SCHEMA")
        if problems:  # the compiler and the editor schema disagree: report it rather than guess
            raise FlowError(problems)
        warnings = [d.to_json() for d in self.bag.items if not d.is_error]
        if warnings:
            meta["warnings"] = warnings
        return Flow(
            name=self.name, states=self.states, entry=entry,
            variables={k: v for k, v in self.declared.items() if v is not _UNDEFINED},
            handlers=handlers, answer="start" if self.defaults.auto_answer else "auto", dialect="actions10",
            source=self.doc.filename, meta=meta, declared=tuple(self.declared),
            start_pattern=VAR_NAME.pattern, max_jumps=MAX_JUMPS,
        )

    def compat(self, data: Any) -> str | None:
        if data is None:
            return None
        if not isinstance(data, dict):
            self.error("E_SHAPE", "`compat` must be a mapping with `version`", ("compat",))
            return None
        self.unknown_keys(data, ("version",), ("compat",), "compat")
        version = data.get("version")
        if not isinstance(version, str) or not DATE.match(version):
            self.error("E_SHAPE", f"`compat.version` must be a date YYYY-MM-DD, not {version!r}", ("compat", "version"))
            return None
        if version < CURRENT_COMPAT:
            self.warning("W_COMPAT", f"compat {version}: only the {CURRENT_COMPAT} object shapes (call.cdr, "
                         "$dial.cdr, recording) are implemented; they are used", ("compat", "version"))
        return version

    def variables(self, data: Any) -> None:
        if data is None:
            return
        if not isinstance(data, dict):
            self.error("E_SHAPE", "`variables` must be a mapping of $name → value", ("variables",))
            return
        for name, value in data.items():
            if not isinstance(name, str) or not VAR_NAME.match(name):
                self.error("E_VAR_NAME", f"variable {name!r} must be named $letters_digits (e.g. $target)",
                           ("variables", name), key=True)
                continue
            # `undefined` (the plain YAML scalar) declares the variable as JS undefined (digest §4.1)
            self.declared[name] = _UNDEFINED if value == "undefined" else value

    def read_defaults(self, data: Any) -> None:
        if data is None:
            return
        if not isinstance(data, dict):
            self.error("E_SHAPE", "`defaults` must be a mapping", ("defaults",))
            return
        self.unknown_keys(data, DEFAULT_KEYS, ("defaults",), "defaults")
        from .params import LANGUAGE

        if "autoAnswer" in data:
            if isinstance(data["autoAnswer"], bool):
                self.defaults.auto_answer = data["autoAnswer"]
            else:
                self.error("E_PARAM_TYPE", f"`defaults.autoAnswer` must be true or false, not {data['autoAnswer']!r}",
                           ("defaults", "autoAnswer"))
        if "language" in data:
            value = data["language"]
            if isinstance(value, str) and LANGUAGE.regex.match(value):
                self.defaults.language = value
            else:
                self.error("E_PARAM_VALUE", f"`defaults.language` must be a language tag such as en-US, not {value!r}",
                           ("defaults", "language"))
        if "voice" in data:
            if isinstance(data["voice"], str) and data["voice"]:
                self.defaults.voice = data["voice"]
            else:
                self.error("E_PARAM_TYPE", "`defaults.voice` must be a voice id", ("defaults", "voice"))

    def collect_branches(self, branches: dict) -> None:
        """Find every branch's steps. A broken branch still counts as existing (no cascade of errors)."""
        self._wrapped: dict[str, bool] = {}
        for name, body in branches.items():
            path = ("branches", name)
            if not isinstance(name, str) or not BRANCH_NAME.match(name):
                self.error("E_BRANCH_NAME", f"branch name {name!r} must be letters, digits, - and _", path, key=True)
                continue
            steps, wrapped = [], True
            if isinstance(body, list):
                self.warning("W_BRANCH_SHORTHAND", f"branch {name!r} is a bare list; write `actions:` above it",
                             path, key=True)
                steps, wrapped = body, False
            elif isinstance(body, dict):
                extra = [k for k in body if k != "actions"]
                self.unknown_keys(body, ("actions",), path, f"branch {name!r}")
                if isinstance(body.get("actions"), list):
                    steps = body["actions"]
                elif not extra:
                    self.error("E_SHAPE", f"branch {name!r} needs `actions:` with a list of steps",
                               path + (("actions",) if "actions" in body else ()), key="actions" not in body)
            else:
                self.error("E_SHAPE", f"branch {name!r} must be {{actions: [...]}}", path)
            self.branches[name] = steps
            self._wrapped[name] = wrapped
            self.entries[name] = f"{name}.0" if steps else name

    # -- steps ---------------------------------------------------------------------------------------

    def steps(self, steps: list, path: tuple, prefix: str, after: str | None, entry: str | None = None) -> str | None:
        """Compile a list of steps; returns the id of its first state (or `after` when it is empty)."""
        if not steps:
            if entry is not None and entry == prefix:  # an empty branch still needs a state to jump to
                self.add_state(prefix, Branch(cases=()), {}, self.span(path, key=True), "empty branch")
                return prefix
            return after
        following = after
        for index in range(len(steps) - 1, -1, -1):
            sid = f"{prefix}.{index}"
            try:
                following = self.step(steps[index], path + (index,), sid, following)
            except _Stop:
                following = sid
        return following

    def step(self, data: Any, path: tuple, sid: str, after: str | None) -> str:
        span = self.span(path)
        if not isinstance(data, dict):
            self.error("E_STEP_SHAPE", "a step is a mapping with `action`, `goto` or `if`/`then`", path)
            raise _Stop()
        self.unknown_keys(data, STEP_KEYS, path, "a step")
        kinds = [k for k in ("action", "goto", "then") if k in data]
        if len(kinds) != 1:
            what = " and ".join(f"`{k}`" for k in kinds) if kinds else "none of `action`, `goto`, `then`"
            self.error("E_STEP_SHAPE", f"a step has exactly one of `action`, `goto`, `then`; this one has {what}",
                       path)
            raise _Stop()
        kind = kinds[0]
        for key in ("params", "result", "events"):
            if key in data and kind != "action":
                self.error("E_STEP_SHAPE", f"`{key}` belongs to an `action` step", path + (key,), key=True)
        if "else" in data and kind != "then":
            self.error("E_STEP_SHAPE", "`else` needs `if` and `then`", path + ("else",), key=True)
        if kind == "then" and "if" not in data:
            self.error("E_STEP_SHAPE", "`then` needs an `if`", path + ("then",), key=True)
            raise _Stop()
        if kind == "then":
            return self.if_block(data, path, sid, after, span)
        body_id = f"{sid}:do" if "if" in data else sid
        if kind == "goto":
            self.goto(data["goto"], path + ("goto",), body_id, span)
        else:
            self.action(data, path, body_id, after, span)
        if "if" in data:
            self.guard(data["if"], path + ("if",), sid, body_id, after, span)
        return sid

    def condition(self, data: Any, path: tuple) -> Any:
        if isinstance(data, bool):
            return data
        if not isinstance(data, str) or not data.strip():
            self.error("E_STEP_SHAPE", f"`if` must be a JavaScript expression or true/false, not {data!r}", path)
            raise _Stop()
        try:
            source = single_expression(data) if "${{" in data else None
            expr = Expr("js", source if source is not None else data.strip())
        except ExprError as exc:
            self.expr_error(exc, path, data)
            raise _Stop() from None
        self.note_reads(expr, path)
        return Truthy(expr)

    def guard(self, data: Any, path: tuple, sid: str, body: str, after: str | None, span: Span) -> None:
        when = self.condition(data, path)
        cond = when if not isinstance(when, bool) else Truthy(Expr("js", "true" if when else "false"))
        self.add_state(sid, Branch(cases=(Case("then", cond),)), {"match:then": body, "ok": after}, span, "if")

    def if_block(self, data: dict, path: tuple, sid: str, after: str | None, span: Span) -> str:
        when = self.condition(data["if"], path + ("if",))
        then, otherwise = data["then"], data.get("else", [])
        for key, value in (("then", then), ("else", otherwise)):
            if not isinstance(value, list):
                self.error("E_STEP_SHAPE", f"`{key}` must be a list of steps", path + (key,))
                raise _Stop()
        then_id = self.steps(then, path + ("then",), f"{sid}.then", after)
        else_id = self.steps(otherwise, path + ("else",), f"{sid}.else", after)
        cond = when if not isinstance(when, bool) else Truthy(Expr("js", "true" if when else "false"))
        self.add_state(sid, Branch(cases=(Case("then", cond),)), {"match:then": then_id, "ok": else_id}, span, "if")
        return sid

    def goto(self, data: Any, path: tuple, sid: str, span: Span) -> None:
        if not isinstance(data, dict) or set(data) != {"branch"}:
            if isinstance(data, dict):
                self.unknown_keys(data, ("branch",), path, "goto")
            self.error("E_STEP_SHAPE", "`goto` is {branch: <name>}", path)
            raise _Stop()
        target = self.target(data["branch"], path + ("branch",))
        self.add_state(sid, Goto(), {"ok": target}, span, f"goto {data['branch']}")

    def target(self, name: Any, path: tuple) -> str:
        if not isinstance(name, str) or name not in self.entries:
            self.error("E_UNKNOWN_BRANCH", f"no branch named {name!r}{did_you_mean(str(name), self.entries)}", path)
            raise _Stop()
        return self.entries[name]

    def action(self, data: dict, path: tuple, sid: str, after: str | None, span: Span) -> None:
        try:
            action = lookup(data["action"])
        except ActionLookupError as exc:
            self.error(exc.code, exc.message, path + ("action",))
            raise _Stop() from None
        raw_params = data.get("params", {})
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):
            self.error("E_PARAM_TYPE", f"{action.id}: `params` must be a mapping", path + ("params",))
            raise _Stop()
        try:
            params = convert_fields(action.params, raw_params)
        except ParamProblem as exc:
            where = path + ("params",) + exc.path
            text = _at(raw_params, exc.path)
            if exc.offset is not None and isinstance(text, str):
                span_at = self.offset_span(where, text, exc.offset)
                self.bag.error(exc.code, f"{action.id}: {exc.message}", span_at, exc.hint)
            else:
                self.error(exc.code, f"{action.id}: {exc.message}", where,
                           key=exc.code == "E_UNKNOWN_KEY", hint=exc.hint)
            raise _Stop() from None
        self.note_reads(params, path + ("params",))
        result = data.get("result")
        broken = False  # a bad `result` still lets the checks below report their own problems
        if result is not None:
            if action.result is None:
                self.error("E_STEP_SHAPE", f"{action.id} has no result; remove `result`", path + ("result",))
                broken = True
            elif not isinstance(result, str) or not VAR_NAME.match(result):
                self.error("E_VAR_NAME", f"`result` must name a $variable (e.g. $dial), not {result!r}",
                           path + ("result",))
                broken = True
            else:
                self.written.add(result)
        events = self.events(action, data.get("events"), path + ("events",), sid)
        if action.name == "javascript":
            self.written.update(params["code"].compiled.targets.split(",") if params["code"].compiled.targets else ())
        if "answerOnBranch" in params:
            params["answerOnBranch"] = self.target(params["answerOnBranch"], path + ("params", "answerOnBranch"))
        if broken:
            raise _Stop()
        step = Step(sid, span, action, params, result, events, after, self)
        entry = action.compile(step)
        if entry != sid:  # an action's compile must start at the step's own id
            self.add_state(sid, Goto(), {"ok": entry}, span)

    def events(self, action: Action, data: Any, path: tuple, sid: str) -> dict[str, str | None]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.error("E_STEP_SHAPE", "`events` maps event names to lists of steps", path)
            raise _Stop()
        out: dict[str, str | None] = {}
        for name, steps in data.items():
            if name not in action.events:
                known = f" (it has: {', '.join(action.events)})" if action.events else " (it has none)"
                self.error("E_UNKNOWN_EVENT", f"{action.id} has no event {name!r}{known}", path + (name,), key=True)
                continue
            if not isinstance(steps, list):
                self.error("E_STEP_SHAPE", f"event {name!r} takes a list of steps", path + (name,))
                continue
            out[name] = self.steps(steps, path + (name,), f"{sid}.{name}", None)
        return out

    # -- expressions ---------------------------------------------------------------------------------

    def note_reads(self, value: Any, path: tuple) -> None:
        """Remember the $variables expressions read, for W_UNDECLARED_VAR."""
        if isinstance(value, Expr):
            if value.lang == "js-script":
                names = read_names(value.src)
            elif value.lang == "js-template":
                names = frozenset().union(*(read_names(p.src) for p in split_template(value.src)
                                            if isinstance(p, TemplatePart)))
            else:
                names = read_names(value.src)
            for name in names:
                if name.startswith("$") and name not in self.reads:
                    self.reads[name] = self.span(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.note_reads(item, path + (key,))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                self.note_reads(item, path + (index,))

    def undeclared_warnings(self) -> None:
        known = set(self.declared) | self.written
        for name, span in self.reads.items():
            if name not in known:
                self.bag.warning("W_UNDECLARED_VAR", f"{name} is never declared in `variables`, never a `result` "
                                 "and never assigned by javascript@v1: reading it fails", span)

    def expr_error(self, exc: ExprError, path: tuple, text: str) -> None:
        code = exc.code if exc.code != "E_EXPR" else "E_EXPR_SYNTAX"
        span = self.offset_span(path, text, exc.offset) if exc.offset is not None else self.span(path)
        self.bag.error(code, exc.message, span)

    def offset_span(self, path: tuple, text: str, offset: int) -> Span:
        """Where character `offset` of the scalar at `path` is in the file (best effort)."""
        base = self.span(path)
        lines = self.doc.text.splitlines()
        if not 1 <= base.line <= len(lines):
            return base
        source_line = lines[base.line - 1]
        head = text[:offset]
        rest = source_line[base.col - 1:]
        if rest[:1] in ("|", ">"):  # a block scalar: its text starts on the next line, indented
            line_no = base.line + 1 + head.count("\n")
            if line_no > len(lines):
                return base
            target = lines[line_no - 1]
            indent = len(target) - len(target.lstrip(" "))
            col = indent + len(head.rsplit("\n", 1)[-1]) + 1
            return Span(base.file, line_no, col)
        if "\n" in head:
            return base
        quote = 1 if rest[:1] in ("'", '"') else 0
        return Span(base.file, base.line, base.col + quote + len(head))


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED = _Undefined()


def _at(value: Any, path: tuple) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def compile_document(doc: Document, name: str) -> Flow:
    """Compile a loaded script to a Flow, or raise FlowError with every problem found."""
    from . import actions as _actions  # noqa: F401  (fills the catalogue)

    return Compiler(doc, name).compile()


__all__ = ["Step", "Defaults", "Compiler", "compile_document", "RAW", "VAR_NAME"]
