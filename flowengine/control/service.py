"""The control plane wired into a Daemon: HTTP API, auth, store, callback runner, campaign pacer.

    daemon = Daemon(config)
    ControlService(daemon).install()          # before daemon.start(); `flowengine serve` does this
    await daemon.start()                      # ... the service starts with the listeners

The service joins the daemon as one more listener (calls come in through the API instead of a
switch), so it starts after the HTTP server and the switches, and its `stop()` (no new scheduled or
campaign calls) comes before the drain, its `close()` (store, callbacks in flight) after it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any, Callable

from starlette.middleware import Middleware
from starlette.routing import Mount

from ..errors import FlowError
from ..runtime.http import AddressNotAllowed, check_url
from ..runtime.ids import RandomIds
from .api import build_app
from .auth import BearerAuth
from .backends import backend_for
from .callbacks import Notifier
from .calls import CallManager, ControlError
from .clock import SystemClock, WallClock
from .flows import FlowCatalog, FlowRef, UnknownFlow
from .pacer import CampaignPacer
from .scheduler import CallbackRunner
from .store import Store

__all__ = ["ControlService"]

log = logging.getLogger("flowengine.control")


class ControlService:
    name = "control"

    def __init__(self, daemon: Any, *, clock: WallClock | None = None, ids: Any = None,
                 call_ids: Callable[[], str] | None = None):
        self.daemon = daemon
        config = daemon.config
        self.config = config.control
        self.clock = clock or SystemClock()
        self.ids = ids or RandomIds()
        self.daemon_id = self.config.daemon_id or socket.gethostname()
        self.catalog = FlowCatalog(daemon, Path(config.path(self.config.builtin_flows))
                                   if self.config.builtin_flows else None)
        self._store: Store | None = None
        self.notifier = Notifier(daemon.http, self.config.secret(), self.clock,
                                 attempts=self.config.callback_attempts)
        backends = [b for b in (backend_for(listener, self.config) for listener in daemon.listeners) if b]
        manager_options: dict[str, Any] = {"daemon_id": self.daemon_id, "redirect_timeout": self.config.redirect_timeout,
                                           "callback_urls": tuple(u for u in [self.config.status_callback] if u)}
        if call_ids is not None:
            manager_options["ids"] = call_ids
        self._manager_options = manager_options
        self._backends = backends
        self._parts: dict[str, Any] = {}
        self.tasks: set[asyncio.Task] = set()
        self.app = build_app(self)

    def install(self) -> "ControlService":
        """Add the API routes, the auth middleware and the service itself to the daemon (before start)."""
        tokens = [(t.resolved(), t.scope, t.name or f"token-{i + 1}") for i, t in enumerate(self.config.tokens)]
        self.daemon.http_middleware.append(Middleware(BearerAuth, tokens=tokens))
        self.daemon.http_routes.append(Mount("", app=self.app))
        self.daemon.listeners.append(self)
        return self

    # -- lifecycle (as a daemon listener) -----------------------------------------------------------------

    async def start(self, daemon: Any) -> None:
        self.catalog.load()
        store_config = self.daemon.config.store
        self._store = await asyncio.to_thread(Store.open, store_config, self.daemon.config.path)
        now = self.clock.time()
        recovered = await self._store.recover(self.daemon_id, now, now - self.daemon.limits.max_time - 300)
        if any(recovered.values()):
            log.warning("work in flight when the daemon last stopped ends as interrupted: %s", recovered)
        calls = CallManager(self.daemon, self.catalog, self.notifier, self._store, self.clock, self._backends,
                            **self._manager_options)
        options = {"owner": self.daemon_id, "poll_interval": self.config.poll_interval}
        self._parts = {
            "calls": calls,
            "callbacks": CallbackRunner(self._store, calls, self.resolve, self.clock, **options),
            "campaigns": CampaignPacer(self._store, calls, self.resolve, self.clock,
                                       max_contacts=self.config.max_contacts, **options),
        }
        for name in ("callbacks", "campaigns"):
            loop = self._parts[name].run()
            task = asyncio.get_running_loop().create_task(self._keep(name, loop), name=f"control-{name}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        log.info("control API ready (daemon %s, %s store, %d backend(s))", self.daemon_id, store_config.kind,
                 len(self._backends))

    async def _keep(self, name: str, loop: Any) -> None:
        try:
            await loop
        except Exception:  # a bug or a lost database: logged; the API and live calls go on
            log.exception("the %s runner stopped", name)

    async def stop(self) -> None:
        """No new scheduled or campaign calls (calls already placed drain with the daemon)."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks))

    async def close(self) -> None:
        for name in ("callbacks", "campaigns", "calls"):
            if name in self._parts:
                await self._parts[name].close()
        await self.notifier.close()
        if self._store is not None:
            await self._store.close()

    # -- the parts (available once started) ----------------------------------------------------------------

    def _part(self, name: str) -> Any:
        part = self._parts.get(name)
        if part is None:
            raise ControlError(503, "starting", "the control API is starting; try again shortly", {"Retry-After": "1"})
        return part

    @property
    def calls(self) -> CallManager:
        return self._part("calls")

    @property
    def callbacks(self) -> CallbackRunner:
        return self._part("callbacks")

    @property
    def campaigns(self) -> CampaignPacer:
        return self._part("campaigns")

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ControlError(503, "starting", "the control API is starting; try again shortly")
        return self._store

    # -- helpers for the API ----------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return self.ids.next(prefix)

    def resolve(self, flow: str | None, url: str | None) -> FlowRef:
        """A route or built-in flow by name, or a document URL (ControlError when there is none)."""
        try:
            if url is not None:
                return self.catalog.from_url(url)
            return self.catalog.get(flow or "")
        except UnknownFlow as exc:
            raise ControlError(404, "unknown_flow", str(exc)) from None
        except FlowError as exc:
            raise ControlError(422, "invalid_flow", str(exc)) from None

    async def resolve_checked(self, flow: str | None, url: str | None) -> FlowRef:
        if url is not None:
            await self.guard(url, "url")
        return self.resolve(flow, url)

    async def guard(self, url: str, field: str) -> None:
        """The SSRF guard of document fetches, for a URL a caller passed in."""
        try:
            await check_url(url, allow_private=self.daemon.config.fetch.allow_private)
        except AddressNotAllowed as exc:
            raise ControlError(422, "url_not_allowed", f"{field}: {exc}") from None

    async def callback_urls(self, url: str | None) -> tuple[str, ...]:
        if url is None:
            return ()
        if not self.notifier.enabled:
            raise ControlError(422, "callbacks_unsigned", "status_callback needs [control] callback_secret "
                                                          "(callbacks are always signed)")
        await self.guard(url, "status_callback")
        return (url,)

    def flow_list(self) -> list[dict[str, Any]]:
        out = []
        for name in self.catalog.names():
            ref = self.catalog.get(name)
            out.append({"name": name, "builtin": ref.entry.key.startswith("builtin:"), "dialect": ref.flow.dialect,
                        "places_calls": ref.places_calls, "answers_calls": ref.answers_calls,
                        "variables": sorted(ref.flow.declared) if ref.flow.declared is not None
                        else sorted(ref.flow.variables)})
        return out

