"""The flow daemon: listeners bring calls in, the router picks a flow, the interpreter runs it.

    daemon = Daemon(load_config("flowengine.toml"))
    await daemon.serve_forever()                 # until SIGTERM/SIGINT, then a graceful drain

Switch-neutral: a Listener (FastAGI in daemon/asterisk.py; an Event Socket one can sit beside it) turns
each new call into an IncomingCall and hands it to `run_call`. Rules kept here (uvicorn's ServerState
and Server.shutdown):
  * Every connection and call is one task in `self.tasks`, removed by its done-callback.
  * Admission is an answer, not a stall: over `max_calls` live calls or `max_calls_per_second` new ones,
    or while draining, the call is refused at once (hang-up cause 34, "no circuit available").
  * A call's failures stay in that call: a crash of the flow or the channel is logged as one line (with
    its traceback in the JSON `exc` field), recorded, counted, and the switch connection is closed.
  * Drain is a fixed sequence: stop the listeners, wait up to `drain_timeout` for live calls, cancel the
    rest (`task.cancel(msg="drain timeout")`), then close the switch clients, the HTTP server and the
    call records. CancelledError is never swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Coroutine, Protocol

from .. import formats
from ..diagnostics import Diagnostic
from ..errors import FlowError
from ..ir.model import Flow
from ..runtime.channel import Channel
from ..runtime.clock import RealClock
from ..runtime.http import HttpClient, HttpxClient
from ..runtime.ids import RandomIds, new_call_id
from ..runtime.interpreter import CallInfo, Interpreter, Limits, RunResult
from .config import RouteConfig, ServeConfig
from .logs import call_id_var
from .metrics import CONTENT_TYPE_LATEST, Metrics, TimedHttp
from .records import CallRecord, RecordStore
from .registry import FlowEntry, FlowRegistry
from .routing import CallAttributes, Router

__all__ = ["Daemon", "IncomingCall", "Listener", "Admission", "LiveCall", "CAUSE_OVERLOAD", "CAUSE_NO_ROUTE",
           "CAUSE_FAILURE"]

log = logging.getLogger("flowengine.daemon")

CAUSE_OVERLOAD = 34  # Q.850 "no circuit/channel available": the caller's switch may try elsewhere
CAUSE_NO_ROUTE = 1  # Q.850 "unallocated number"
CAUSE_FAILURE = 41  # Q.850 "temporary failure": the flow failed, not the caller's number


class IncomingCall(Protocol):
    """A call a listener brought in, before and while its flow runs."""

    backend: str
    attributes: CallAttributes

    def call_info(self, *, call_id: str, at: datetime, trigger: str, variables: dict[str, Any]) -> CallInfo: ...

    def channel(self, route: RouteConfig, clock: RealClock) -> Channel: ...

    async def refuse(self, cause: int) -> None:
        """End the call at once without running a flow."""
        ...

    async def close(self) -> None:
        """The flow is over: release the switch connection (never raises)."""
        ...

    @property
    def failure(self) -> str | None:
        """Why the switch connection ended abnormally (a protocol error), else None."""
        ...


class Listener(Protocol):
    name: str

    async def start(self, daemon: "Daemon") -> None: ...

    async def stop(self) -> None:
        """Stop accepting new calls (live ones go on)."""
        ...

    async def close(self) -> None:
        """Release everything (after the drain)."""
        ...


class Admission:
    """Max concurrent calls and a token bucket of new calls per second (burst = the rate)."""

    def __init__(self, max_calls: int, per_second: float, now: Callable[[], float]):
        self.max_calls = max_calls
        self.per_second = per_second
        self.now = now
        self._tokens = max(1.0, per_second)
        self._at = now()

    def admit(self, live: int) -> str | None:
        """None when the call may run, else the reason it may not."""
        if live >= self.max_calls:
            return "max_calls"
        t = self.now()
        self._tokens = min(max(1.0, self.per_second), self._tokens + (t - self._at) * self.per_second)
        self._at = t
        if self._tokens < 1.0:
            return "rate"
        self._tokens -= 1.0
        return None


@dataclass
class LiveCall:
    call_id: str
    flow: str
    backend: str
    started_at: datetime
    incoming: Any
    task: asyncio.Task | None = None
    info: CallInfo | None = None
    interpreter: Any = None  # the running Interpreter: the control API reads its legs and position


@dataclass
class _Run:
    """What one call's run produced, for metrics and records."""

    outcome: str = "crash"
    cause: str | None = None
    steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None


class _Uvicorn:
    """uvicorn's Server without its own signal handling (the daemon owns SIGTERM for the drain)."""

    @staticmethod
    def make(app: Any, sock: socket.socket):
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):
                yield

        server = Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False, ws="none"))
        return server, server.serve(sockets=[sock])


class Daemon:
    """See the module docstring. `start()`, then `stop()`; or `serve_forever()` for both with signals."""

    def __init__(self, config: ServeConfig, *, listeners: list[Listener] | None = None,
                 http: HttpClient | None = None, compile: Callable[[str, str | None], Flow] = formats.load):
        self.config = config
        self.metrics = Metrics()
        self.router = Router(config.routes)
        self.limits = Limits(config.limits.max_steps, config.limits.max_time, config.limits.max_fetches)
        self.clock = RealClock()
        self.admission = Admission(config.daemon.max_calls, config.daemon.max_calls_per_second, self.clock.now)
        self.listeners: list[Listener] = listeners if listeners is not None else _default_listeners(config)
        sources = {(self.flow_key(route), config.path(route.flow) if not formats.is_url(route.flow) else route.flow,
                    route.format) for route in config.routes}
        self.registry = FlowRegistry(sorted(sources), compile=compile, checks=self._checks(),
                                     on_reload=lambda key, result: self.metrics.reloads.labels(key, result).inc())
        self._own_http = http is None
        self.http_client: HttpClient = http or HttpxClient(allow_private=config.fetch.allow_private,
                                                           max_bytes=config.fetch.max_bytes,
                                                           user_agent=config.fetch.user_agent)
        self.http = TimedHttp(self.http_client, self.metrics)
        self.records: RecordStore | None = None
        self.tasks: set[asyncio.Task] = set()
        self.live: dict[str, LiveCall] = {}
        self.draining = False
        self.http_routes: list[Any] = []  # extra Starlette routes (the control API adds its own)
        self.http_middleware: list[Any] = []  # Starlette middleware around every route (the API's auth)
        self.http_address: tuple[str, int] | None = None
        self._http_server: Any = None
        self._http_task: asyncio.Task | None = None
        self._watch_task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------

    def flow_key(self, route: RouteConfig) -> str:
        return route.flow

    def _checks(self) -> list[Callable[[Flow], list[Diagnostic]]]:
        checks = []
        for listener in self.listeners:
            check = getattr(listener, "capability_check", None)
            if check is not None:
                checks.append(check)
        return checks

    async def start(self) -> None:
        """Compile the flows (FlowError if any is broken), then open records, HTTP and the listeners."""
        self.registry.load_all()
        if self.config.records.sqlite:
            self.records = RecordStore(self.config.path(self.config.records.sqlite))
        if self.config.http.enabled:
            await self._start_http()
        for listener in self.listeners:
            await listener.start(self)
        if self.config.flows.reload:
            self._watch_task = asyncio.get_running_loop().create_task(
                self.registry.watch(self.config.flows.reload_interval), name="flow-reload")
        log.info("serving %d route(s) with %d flow(s)", len(self.config.routes), len(self.registry.entries))

    async def _start_http(self) -> None:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def metrics(request):
            return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

        async def health(request):
            return JSONResponse({"status": "draining" if self.draining else "ok", "live_calls": len(self.live)},
                                status_code=503 if self.draining else 200)

        app = Starlette(routes=[Route("/metrics", metrics), Route("/healthz", health), *self.http_routes],
                        middleware=self.http_middleware)
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.http.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.http.host, self.config.http.port))
        sock.listen(128)
        sock.setblocking(False)
        self.http_address = sock.getsockname()[:2]
        self._http_server, serving = _Uvicorn.make(app, sock)
        self._http_task = asyncio.get_running_loop().create_task(serving, name="http")

    async def serve_forever(self) -> None:
        """start(), wait for SIGTERM or SIGINT, then stop() with the configured drain."""
        loop = asyncio.get_running_loop()
        await self.start()
        # What exists now (imported modules, compiled flows) lives as long as the process: keep it out
        # of the cyclic collector's full passes, which otherwise pause every live call for longer.
        gc.collect()
        gc.freeze()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
                installed.append(sig)
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.stop()

    def request_stop(self, why: str = "stop") -> None:
        if not self._stop.is_set():
            log.info("%s received: draining (up to %g s)", why, self.config.daemon.drain_timeout)
            self._stop.set()

    async def stop(self, drain_timeout: float | None = None) -> None:
        """The drain sequence of the module docstring."""
        timeout = self.config.daemon.drain_timeout if drain_timeout is None else drain_timeout
        self.draining = True
        for listener in self.listeners:
            await listener.stop()
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        pending = set(self.tasks)
        if pending:
            log.info("waiting for %d live call(s)", len(self.live))
            _, pending = await asyncio.wait(pending, timeout=timeout)
        if pending:
            log.warning("drain timeout: cancelling %d call(s)", len(pending))
            for task in pending:
                task.cancel(msg="drain timeout")
            await asyncio.wait(pending, timeout=5.0)
        for listener in self.listeners:
            await listener.close()
        if self._http_server is not None:
            self._http_server.should_exit = True
            await asyncio.gather(self._http_task, return_exceptions=True)
            self._http_server = None
        if self.records is not None:
            await self.records.close()
        if self._own_http and isinstance(self.http_client, HttpxClient):
            await self.http_client.aclose()
        log.info("stopped")

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        """Run `coroutine` as a tracked task (drain waits for it)."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # -- calls ---------------------------------------------------------------------------------------

    async def run_call(self, incoming: IncomingCall, *, trigger: str = "inbound-call",
                       route: RouteConfig | None = None, variables: dict[str, Any] | None = None,
                       call_id: str | None = None, entry: FlowEntry | None = None) -> str | None:
        """Admit, route and run one call to its end. Returns the call id (None when refused). `entry`
        runs a flow that is not a route's (the control API's built-in flows and document URLs)."""
        refusal = "draining" if self.draining else self.admission.admit(len(self.live))
        if refusal is not None:
            self.metrics.rejected.labels(refusal).inc()
            log.warning("call refused (%s): %d live call(s)", refusal, len(self.live))
            await incoming.refuse(CAUSE_OVERLOAD)
            return None
        route = route or self.router.route(incoming.attributes)
        if route is None:
            self.metrics.rejected.labels("no_route").inc()
            log.warning("no route for %s", incoming.attributes)
            await incoming.refuse(CAUSE_NO_ROUTE)
            return None
        entry = entry or self.registry.get(self.flow_key(route))
        label = route.label
        call_id = call_id or new_call_id()
        token = call_id_var.set(call_id)
        clock = RealClock()
        started = clock.wall()
        live = LiveCall(call_id, label, incoming.backend, started, incoming, asyncio.current_task())
        self.live[call_id] = live
        self.metrics.live.inc()
        run = _Run()
        info: CallInfo | None = None
        interpreter: Interpreter | None = None
        try:
            info = incoming.call_info(call_id=call_id, at=started, trigger=trigger,
                                      variables={**route.variables, **(variables or {})})
            live.info = info
            log.info("call from %s to %s: flow %s (version %d)", info.from_, info.to, label, entry.version)
            channel = incoming.channel(route, clock)
            interpreter = Interpreter(
                entry.flow, channel, call=info, clock=clock, http=self.http, loader=formats.load_document,
                limits=self.limits, ids=RandomIds(), on_event=lambda event: self._on_event(label, run, event))
            live.interpreter = interpreter
            result = await interpreter.run()
            run.outcome = result.reason
            run.steps = [state for _, state, _ in result.steps]
            if "ivr" in entry.flow.meta:
                run.report = _ivr_report(entry.flow, result, call_id, started)
        except asyncio.CancelledError:
            run.outcome, run.cause = "cancelled", "drain timeout" if self.draining else "cancelled"
            raise
        except FlowError as exc:
            run.outcome, run.cause = "error", str(exc)
            log.error("call failed: %s", exc)
            await _hang_up_failed(incoming)
        except Exception as exc:  # a bug in a flow's run or a channel: this call ends, the daemon goes on
            run.outcome, run.cause = "crash", f"{type(exc).__name__}: {exc}"
            log.error("call crashed: %s: %s", type(exc).__name__, exc, exc_info=True)
            await _hang_up_failed(incoming)
        finally:
            await incoming.close()
            failure = incoming.failure
            if failure is not None and run.outcome not in ("crash", "cancelled"):
                run.outcome, run.cause = "error", failure
                log.warning("call ended by the switch connection: %s", failure)
            self._account(live, run, info, entry.version, clock)
            call_id_var.reset(token)
            # The call is over and out of `live`. The interpreter holds no reference cycle, so dropping
            # this last reference frees the call's objects at once, without the cyclic collector.
            live.interpreter = None
        return call_id

    def _on_event(self, label: str, run: _Run, event: dict) -> None:
        if event["op"] == "error":
            code = str(event.get("code", "E_UNKNOWN"))
            run.errors.append(code)
            self.metrics.errors.labels(label, code).inc()

    def _account(self, live: LiveCall, run: _Run, info: CallInfo | None, version: int, clock: RealClock) -> None:
        self.live.pop(live.call_id, None)
        self.metrics.live.dec()
        duration = clock.now()
        self.metrics.calls.labels(live.flow, run.outcome).inc()
        self.metrics.steps.labels(live.flow).inc(len(run.steps))
        self.metrics.duration.labels(live.flow).observe(duration)
        log.info("call ended: %s%s after %.1f s, %d step(s)", run.outcome,
                 f" ({run.cause})" if run.cause else "", duration, len(run.steps))
        if self.records is not None:
            self.records.add(CallRecord(
                call_id=live.call_id, started_at=_iso(live.started_at), ended_at=_iso(clock.wall()),
                duration=round(duration, 3), flow=live.flow, flow_version=version,
                trigger=info.trigger if info else "?", backend=live.backend,
                caller=info.from_ if info else None, called=info.to if info else None,
                channel=str(info.extra.get("channel")) if info and info.extra.get("channel") else None,
                outcome=run.outcome, cause=run.cause, steps=len(run.steps), path=run.steps, errors=run.errors,
                report=run.report,
            ))

    async def start_flow(self, flow: str, *, backend: str | None = None, to: str = "", from_: str = "",
                         variables: dict[str, Any] | None = None) -> str:
        """Start an API-triggered run of the route labelled (or flow file named) `flow`; its first dial
        places the call through the backend (Asterisk: an AMI Originate). Returns the call id."""
        route = next((r for r in self.config.routes if r.label == flow or r.flow == flow), None)
        if route is None:
            raise KeyError(f"no route for flow {flow!r}")
        listener = next((l for l in self.listeners if backend is None or l.name == backend), None)
        make = getattr(listener, "api_call", None)
        if make is None:
            raise KeyError(f"no listener can start calls{f' on {backend}' if backend else ''}")
        incoming = make(to=to, from_=from_)
        call_id = new_call_id()
        self.spawn(self.run_call(incoming, trigger="api", route=route, variables=variables, call_id=call_id),
                   name=f"call-{call_id}")
        return call_id


def _ivr_report(flow: Flow, result: RunResult, call_id: str, started: datetime) -> dict[str, Any] | None:
    """The IVR per-call record (spec 2.7) that `flowengine simulate --report` prints, for the call record."""
    from ..formats.ivr.report import call_report

    try:
        return call_report(flow, result.events, result.steps, result.variables, call_id=call_id,
                           started_at=_iso(started))
    except Exception as exc:  # a report is a convenience: never lose the call's record over it
        log.error("could not build the IVR report: %s: %s", type(exc).__name__, exc)
        return None


async def _hang_up_failed(incoming: IncomingCall) -> None:
    """A call whose flow failed is hung up with CAUSE_FAILURE, so the caller's switch and its CDR see a
    failure rather than the dialplan's normal clearing. Best effort: the connection may be gone."""
    try:
        await incoming.refuse(CAUSE_FAILURE)
    except Exception as exc:  # the call is ending either way; its record says why
        log.debug("could not hang up the failed call: %s", exc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _default_listeners(config: ServeConfig) -> list[Listener]:
    listeners: list[Listener] = []
    if config.listeners.fastagi.enabled:
        from .asterisk import AsteriskListener

        listeners.append(AsteriskListener(config))
    if config.listeners.esl.enabled:
        from .freeswitch import FreeSwitchListener

        listeners.append(FreeSwitchListener(config))
    return listeners

