"""Routing calls to flows: path, then called number, then extension, then the default."""

from __future__ import annotations

import pytest

from flowengine.daemon.config import RouteConfig
from flowengine.daemon.routing import CallAttributes, Router, pattern_matches

ROUTES = [
    RouteConfig(flow="default.json", default=True),
    RouteConfig(flow="ext.json", extension="_1XX"),
    RouteConfig(flow="number.json", number="_1555NXXXXXX"),
    RouteConfig(flow="exact.json", number="+15550001111"),
    RouteConfig(flow="menu.json", path="menu"),
]


@pytest.mark.parametrize("call,flow", [
    (CallAttributes(path="menu?lang=fr", number="+15550001111", extension="100"), "menu.json"),
    (CallAttributes(path="other", number="+15550001111", extension="100"), "exact.json"),
    (CallAttributes(number="15552345678", extension="100"), "number.json"),
    (CallAttributes(number="15551234567", extension="100"), "ext.json"),  # N = 2-9: no number match
    (CallAttributes(extension="2000"), "default.json"),
    (CallAttributes(), "default.json"),
])
def test_Router_order(call, flow):
    assert Router(ROUTES).route(call).flow == flow


def test_Router_without_default():
    assert Router(ROUTES[1:]).route(CallAttributes(extension="9")) is None


@pytest.mark.parametrize("pattern,value,matches", [
    ("_X.", "1", False), ("_X.", "12", True), ("_X!", "1", True), ("_Z[1-3]", "13", True),
    ("_Z[1-3]", "14", False), ("_NXX", "199", False), ("_+1X.", "+155", True), ("_+1X.", "+15", False), ("100", "100", True),
    ("100", "1000", False),
])
def test_asterisk_patterns(pattern, value, matches):
    assert pattern_matches(pattern, value) is matches
