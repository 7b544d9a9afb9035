"""The flow registry: every routed flow compiled at start, recompiled when its file changes.

Rules kept here:
  * Start is all or nothing: `load_all()` compiles every flow and raises FlowError with every
    diagnostic, so `flowengine serve` never starts with a broken flow.
  * Hot reload is per file and never makes things worse: a file that changed and compiles replaces its
    flow (version + 1) for *new* calls, while live calls keep the flow they started with; a file that no
    longer compiles keeps the old version and logs its diagnostics, one line each.
  * Change detection polls (mtime, size) every `reload_interval` seconds: no extra dependency, works on
    every filesystem and in containers where inotify is unreliable. Polling and recompiling run in one
    worker thread of their own (a big menu compiles for a good part of a second, and live calls must not
    wait on it); front ends keep per-thread state where they need it (QuickJS's syntax checker), and a
    new version is published by one dict assignment.
  * `checks` are extra lints (e.g. what the Asterisk channel cannot do); their findings are logged as
    warnings at load, never block a flow.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from .. import formats
from ..diagnostics import Diagnostic
from ..errors import FlowError
from ..ir.model import Flow
from ..runtime.clock import RealClock

__all__ = ["FlowEntry", "FlowRegistry"]

log = logging.getLogger("flowengine.registry")

Check = Callable[[Flow], list[Diagnostic]]


@dataclass(frozen=True)
class FlowEntry:
    key: str
    path: str
    format: str | None
    flow: Flow
    version: int
    stamp: tuple[int, int] | None  # (mtime_ns, size) of the compiled file; None for URLs


class FlowRegistry:
    def __init__(self, sources: Iterable[tuple[str, str, str | None]], *,
                 compile: Callable[[str, str | None], Flow] = formats.load, checks: Iterable[Check] = (),
                 on_reload: Callable[[str, str], None] | None = None):
        """`sources`: (key, path or URL, format or None) per flow."""
        self.sources = {key: (path, fmt) for key, path, fmt in sources}
        self.compile = compile
        self.checks = list(checks)
        self.on_reload = on_reload  # (key, "ok" | "error") for metrics
        self.entries: dict[str, FlowEntry] = {}

    def get(self, key: str) -> FlowEntry:
        return self.entries[key]

    def load_all(self) -> list[Diagnostic]:
        """Compile every flow; FlowError with every problem if any fails. Returns the warnings."""
        problems: list[Diagnostic] = []
        warnings: list[Diagnostic] = []
        for key, (path, fmt) in self.sources.items():
            try:
                entry = self._compile(key, path, fmt, 1)
            except FlowError as exc:
                problems += exc.diagnostics
                continue
            self.entries[key] = entry
            warnings += self._lint(entry)
        if any(d.is_error for d in problems):
            raise FlowError(problems)
        return warnings + problems

    def _compile(self, key: str, path: str, fmt: str | None, version: int) -> FlowEntry:
        stamp = _stamp(path)
        flow = self.compile(path, fmt)
        return FlowEntry(key, path, fmt, flow, version, stamp)

    def _lint(self, entry: FlowEntry) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        for check in self.checks:
            for diagnostic in check(entry.flow):
                found.append(diagnostic)
                log.warning("%s: %s", entry.key, diagnostic.render())
        return found

    def check_for_changes(self) -> list[tuple[str, str]]:
        """Recompile the flows whose file changed; returns (key, "ok" | "error") per attempt."""
        outcomes = []
        for key, entry in list(self.entries.items()):
            if entry.stamp is None:
                continue
            stamp = _stamp(entry.path)
            if stamp == entry.stamp or stamp is None:
                continue
            try:
                fresh = self._compile(key, entry.path, entry.format, entry.version + 1)
            except FlowError as exc:
                # keep serving the old version; remember the new stamp so the error is logged once
                self.entries[key] = FlowEntry(key, entry.path, entry.format, entry.flow, entry.version, stamp)
                for diagnostic in exc.diagnostics:
                    log.error("reload of %s failed, keeping version %d: %s", key, entry.version,
                              diagnostic.render().splitlines()[0])
                outcomes.append((key, "error"))
            else:
                self.entries[key] = fresh
                self._lint(fresh)
                log.info("reloaded %s (version %d)", key, fresh.version)
                outcomes.append((key, "ok"))
            if self.on_reload is not None:
                self.on_reload(key, outcomes[-1][1])
        return outcomes

    async def watch(self, interval: float, sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Poll for changed files until cancelled, off the event loop."""
        sleep = sleep or RealClock().sleep
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowengine-reload") as worker:
            while True:
                await sleep(interval)
                await loop.run_in_executor(worker, self.check_for_changes)


def _stamp(path: str) -> tuple[int, int] | None:
    if formats.is_url(path):
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
