"""Which flow an API request runs: a route's flow by its name, a built-in flow, or a document URL.

    catalog = FlowCatalog(daemon, builtin_dir)
    ref = catalog.get("otp")                    # FlowRef; UnknownFlow ("did you mean 'otp'?") otherwise
    entry = catalog.for_api(ref)                # the FlowEntry to run with trigger "api"

Rule kept here: a flow with an `api` entry (ACTIONS10 `api-initiated`, IR `entry.api`) places its own
calls. Any other flow is written for an answered call, so for the API it is wrapped: a first state
dials `call.to` (caller id `call.caller_id`, ring time `call.timeout`), and on answer the flow starts at
its own entry, like Ytel's Make Call fetching its document once the called party answers. Files are
never named by an API caller: only routes, built-ins and http(s) URLs (checked by the SSRF guard).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import formats
from ..diagnostics import did_you_mean
from ..errors import FlowError
from ..expr import Expr
from ..ir.model import Flow, State, OPS
from ..ir.validate import validate_flow
from ..ir.values import FrozenDict
from ..daemon.config import RouteConfig
from ..daemon.registry import FlowEntry, FlowRegistry

__all__ = ["FlowCatalog", "FlowRef", "UnknownFlow", "ORIGINATE_STATE", "default_builtin_dir", "wrap_for_api"]

ORIGINATE_STATE = "api:originate"
BUILTIN_SUFFIX = ".flow.json"


class UnknownFlow(Exception):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"unknown flow {name!r}{did_you_mean(name, known)} (known: {', '.join(sorted(known))})")


def default_builtin_dir() -> Path:
    """flows/builtin of the checkout, shipped in the package as flowengine/builtin_flows (a symlink here)."""
    return Path(__file__).resolve().parent.parent / "builtin_flows"


@dataclass(frozen=True)
class FlowRef:
    name: str
    """The label in logs, metrics, records and the API."""
    entry: FlowEntry

    @property
    def flow(self) -> Flow:
        return self.entry.flow

    @property
    def places_calls(self) -> bool:
        return "api" in self.flow.entry

    @property
    def answers_calls(self) -> bool:
        return self.flow.entry_for("inbound-call") is not None

    def route(self, key: str | None = None) -> RouteConfig:
        return RouteConfig(flow=key or self.entry.key, name=self.name)


def wrap_for_api(flow: Flow) -> Flow:
    """`flow` behind a first state that places the call (see the module docstring)."""
    start = flow.entry_for("inbound-call")
    if start is None:
        raise ValueError(f"flow {flow.name!r} has no entry for an answered call")
    dial = OPS["dial"](
        targets=(Expr("var", "call.to"),), timeout=Expr("calc", "call.timeout if call.timeout else 30"),
        caller_id=Expr("var", "call.caller_id"))
    states = dict(flow.states)
    states[ORIGINATE_STATE] = State(ORIGINATE_STATE, dial, FrozenDict({"answered": start}), label="place the call")
    wrapped = replace(flow, states=FrozenDict(states), entry=FrozenDict({**flow.entry, "api": ORIGINATE_STATE}))
    problems = [d for d in validate_flow(wrapped) if d.is_error]
    if problems:
        raise FlowError(problems)
    return wrapped


class FlowCatalog:
    def __init__(self, daemon: Any, builtin_dir: Path | None = None):
        self.daemon = daemon
        directory = builtin_dir or default_builtin_dir()
        sources = sorted((f"builtin:{p.name[:-len(BUILTIN_SUFFIX)]}", str(p), None)
                         for p in directory.glob(f"*{BUILTIN_SUFFIX}"))
        self.builtins = FlowRegistry(sources)
        self._urls: dict[tuple[str, str], FlowEntry] = {}
        self._wrapped: dict[tuple[str, int], FlowEntry] = {}

    def load(self) -> None:
        """Compile the built-in flows (FlowError when one is broken)."""
        self.builtins.load_all()

    def names(self) -> list[str]:
        routes = [r.label for r in self.daemon.config.routes]
        return routes + [key.split(":", 1)[1] for key in self.builtins.entries]

    def get(self, name: str) -> FlowRef:
        for route in self.daemon.config.routes:
            if route.label == name:
                return FlowRef(name, self.daemon.registry.get(self.daemon.flow_key(route)))
        entry = self.builtins.entries.get(f"builtin:{name}")
        if entry is None:
            raise UnknownFlow(name, self.names())
        return FlowRef(name, entry)

    def from_url(self, url: str, fmt: str = "inboundxml") -> FlowRef:
        """A flow that fetches the document at `url` (compiled once per URL)."""
        entry = self._urls.get((url, fmt))
        if entry is None:
            entry = FlowEntry(f"url:{url}", url, fmt, formats.load(url, fmt), 1, None)
            if len(self._urls) > 1024:
                self._urls.clear()
            self._urls[(url, fmt)] = entry
        return FlowRef(url, entry)

    def for_api(self, ref: FlowRef) -> FlowEntry:
        """The entry an API-started run uses: the flow itself, or the flow wrapped to place the call."""
        if ref.places_calls:
            return ref.entry
        key = (ref.entry.key, ref.entry.version)
        entry = self._wrapped.get(key)
        if entry is None:
            base = ref.entry
            entry = FlowEntry(f"{base.key}#api", base.path, base.format, wrap_for_api(base.flow), base.version, None)
            self._wrapped = {k: v for k, v in self._wrapped.items() if k[0] != base.key}
            self._wrapped[key] = entry
        return entry
