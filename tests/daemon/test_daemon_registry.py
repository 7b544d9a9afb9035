"""The flow registry: all-or-nothing start, hot reload that keeps the old version on errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path

import pytest

from flowengine import formats
from flowengine.daemon.registry import FlowRegistry
from flowengine.errors import FlowError


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def flow_text(words: str) -> str:
    return json.dumps({"flowengine": "ir/1", "name": "t", "entry": "s",
                       "states": {"s": {"op": "say", "text": words}}})


def test_registry_load_all_reports_every_broken_flow(tmp_path):
    good, bad = tmp_path / "good.flow.json", tmp_path / "bad.flow.json"
    good.write_text(flow_text("hi"))
    bad.write_text('{"flowengine": "ir/1", "entry": "nope", "states": {}}')
    registry = FlowRegistry([("good", str(good), None), ("bad", str(bad), None), ("gone", str(tmp_path / "x.json"), None)])
    with pytest.raises(FlowError) as info:
        registry.load_all()
    files = {d.location().split(":")[0] for d in info.value.diagnostics}
    assert str(bad) in files and str(tmp_path / "x.json") in files


def test_registry_hot_reload_keeps_the_old_version_on_errors(tmp_path, caplog):
    path = tmp_path / "menu.flow.json"
    path.write_text(flow_text("version one"))
    results = []
    registry = FlowRegistry([("menu", str(path), None)], on_reload=lambda key, result: results.append(result))
    registry.load_all()
    assert registry.check_for_changes() == []

    write(path, flow_text("version two"), 1)
    assert registry.check_for_changes() == [("menu", "ok")]
    entry = registry.get("menu")
    assert entry.version == 2 and entry.flow.states["s"].op.text == "version two"

    with caplog.at_level(logging.ERROR, "flowengine.registry"):
        write(path, '{"flowengine": "ir/1", "entry": "s", "states": {"s": {"op": "sya"}}}', 2)
        assert registry.check_for_changes() == [("menu", "error")]
        assert registry.check_for_changes() == []  # the same broken file is reported once
    assert registry.get("menu").version == 2 and registry.get("menu").flow.states["s"].op.text == "version two"
    assert "reload of menu failed, keeping version 2" in caplog.text and "E_" in caplog.text

    write(path, flow_text("version three"), 3)
    assert registry.check_for_changes() == [("menu", "ok")] and registry.get("menu").version == 3
    assert results == ["ok", "error", "ok"]


def test_registry_checks_are_warnings(tmp_path, caplog):
    from flowengine.channels.asterisk.channel import capability_warnings

    path = tmp_path / "speech.flow.json"
    path.write_text(json.dumps({"flowengine": "ir/1", "entry": "s",
                                "states": {"s": {"op": "speech", "timeout": 3}}}))
    registry = FlowRegistry([("speech", str(path), None)], checks=[capability_warnings])
    with caplog.at_level(logging.WARNING, "flowengine.registry"):
        warnings = registry.load_all()
    assert [w.code for w in warnings] == ["W_ASTERISK"] and "speech input is not supported" in caplog.text


def test_a_slow_recompile_does_not_block_the_event_loop(tmp_path):
    path = tmp_path / "menu.flow.json"
    path.write_text(flow_text("version one"))
    compiled = []

    def slow_compile(source: str, fmt: str | None):
        time.sleep(0.3)  # a big menu: compiling holds its thread for a while
        compiled.append(source)
        return formats.load(source, fmt)

    registry = FlowRegistry([("menu", str(path), None)], compile=slow_compile)
    registry.load_all()

    async def scenario() -> float:
        write(path, flow_text("version two"), 1)
        watcher = asyncio.create_task(registry.watch(0.01))
        worst, last = 0.0, time.monotonic()
        while registry.get("menu").version < 2:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            worst, last = max(worst, now - last), now
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        return worst

    worst = asyncio.run(scenario())
    assert len(compiled) == 2 and registry.get("menu").flow.states["s"].op.text == "version two"
    assert worst < 0.2  # the loop kept turning while the 0.3 s compile ran
