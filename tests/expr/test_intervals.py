"""The `interval` condition kind: days, time ranges (wrapping midnight), dates, months, month days, zones."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.expr import Scope
from flowengine.expr.conditions import CondError, parse_cond


def holds(definition: dict, at: str) -> bool:
    cond = parse_cond({"interval": definition})
    return cond.evaluate(Scope({}, now=lambda: datetime.fromisoformat(at)))


@pytest.mark.parametrize("condition, at, expected", [
    ({"days": "mon-fri"}, "2026-03-30T12:00:00+00:00", True),     # Monday
    ({"days": "mon-fri"}, "2026-04-04T12:00:00+00:00", False),    # Saturday
    ({"days": "fri-mon"}, "2026-04-05T12:00:00+00:00", True),     # Sunday: the range wraps
    ({"days": "fri-mon"}, "2026-04-01T12:00:00+00:00", False),    # Wednesday
    ({"days": ["sat", "Sunday"]}, "2026-04-05T12:00:00+00:00", True),
    ({"time": "09:00-17:00"}, "2026-03-30T09:00:00+00:00", True),  # start included
    ({"time": "09:00-17:00"}, "2026-03-30T17:00:00+00:00", False), # end excluded
    ({"time": "22:00-06:00"}, "2026-03-30T23:30:00+00:00", True),  # wraps midnight
    ({"time": "22:00-06:00"}, "2026-03-31T05:59:59+00:00", True),
    ({"time": "22:00-06:00"}, "2026-03-31T06:00:00+00:00", False),
    ({"time": "00:00-24:00"}, "2026-03-31T23:59:59+00:00", True),
    ({"time": ["08:00-09:00", "12:00:30-13:00"]}, "2026-03-31T12:00:30+00:00", True),
    ({"dates": "2026-12-25"}, "2026-12-25T23:59:59+00:00", True),
    ({"dates": "2026-12-24..2026-12-26"}, "2026-12-26T10:00:00+00:00", True),  # both ends included
    ({"dates": "2026-12-24..2026-12-26"}, "2026-12-27T00:00:00+00:00", False),
    ({"dates": "2026-12-24 18:00..2026-12-27 08:00"}, "2026-12-27T08:00:00+00:00", False),  # end excluded
    ({"dates": "2026-12-24 18:00..2026-12-27 08:00"}, "2026-12-24T18:00:00+00:00", True),
    ({"months": [12, 1]}, "2026-01-15T10:00:00+00:00", True),
    ({"months": "11-2"}, "2026-02-15T10:00:00+00:00", True),       # wraps the year
    ({"months": "3-5"}, "2026-06-01T10:00:00+00:00", False),
    ({"mdays": "1-7"}, "2026-03-07T10:00:00+00:00", True),
    ({"mdays": [15]}, "2026-03-16T10:00:00+00:00", False),
    ({"days": "mon", "time": "09:00-10:00"}, "2026-03-30T09:30:00+00:00", True),   # AND within a condition
    ({"days": "mon", "time": "09:00-10:00"}, "2026-03-31T09:30:00+00:00", False),
])
def test_interval_fields(condition, at, expected):
    assert holds({"timezone": "UTC", "conditions": [condition]}, at) is expected


def test_conditions_are_ored_and_a_wrapping_time_does_not_carry_the_day():
    definition = {"timezone": "UTC", "conditions": [{"days": "fri", "time": "22:00-06:00"}, {"dates": "2026-01-01"}]}
    assert holds(definition, "2026-04-03T23:00:00+00:00")       # Friday 23:00
    assert not holds(definition, "2026-04-04T02:00:00+00:00")   # Saturday 02:00: a Saturday
    assert holds(definition, "2026-01-01T12:00:00+00:00")


def test_the_interval_timezone_decides_the_local_time():
    office = {"timezone": "America/New_York", "conditions": [{"time": "09:00-17:00"}]}
    assert holds(office, "2026-03-31T13:30:00+00:00")       # 09:30 EDT
    assert not holds(office, "2026-03-31T12:30:00+00:00")   # 08:30 EDT
    clocks_change = {"timezone": "Europe/London", "conditions": [{"time": "02:00-03:00"}]}
    assert not holds(clocks_change, "2026-03-29T00:30:00+00:00")  # 00:30 GMT, before the change at 01:00
    assert holds(clocks_change, "2026-03-29T01:30:00+00:00")      # 02:30 BST, just after it


def test_an_interval_without_conditions_never_holds_and_json_round_trips():
    assert not holds({"conditions": []}, "2026-03-31T12:00:00+00:00")
    source = {"name": "x", "timezone": "UTC", "conditions": [{"days": "sat"}]}
    assert parse_cond({"interval": source}).to_json() == {"interval": source}


@pytest.mark.parametrize("definition, path, message", [
    ({"timezone": "Nowhere/Land", "conditions": []}, ("interval", "timezone"), "unknown timezone"),
    ({"conditions": [{"days": "mon-fry"}]}, ("interval", "conditions", 0, "days"), "'fry' is not a weekday"),
    ({"conditions": [{"time": "9:00-9:00"}]}, ("interval", "conditions", 0, "time"), "empty time range"),
    ({"conditions": [{"time": ["08:00-09:00", "08:61-09:00"]}]}, ("interval", "conditions", 0, "time", 1),
     "not a valid time"),
    ({"conditions": [{"dates": "2026-13-01"}]}, ("interval", "conditions", 0, "dates"), "not a date"),
    ({"conditions": [{"months": 0}]}, ("interval", "conditions", 0, "months"), "not a month"),
    ({"conditions": [{"weeks": 1}]}, ("interval", "conditions", 0, "weeks"), "unknown interval condition field"),
    ({"conditions": [{}]}, ("interval", "conditions", 0), "a mapping of"),
])
def test_malformed_intervals_say_where(definition, path, message):
    with pytest.raises(CondError) as info:
        parse_cond({"interval": definition})
    assert info.value.path == path and message in info.value.message


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 86399), st.integers(0, 86399), st.integers(0, 86399))
def test_a_time_range_and_its_complement_cover_the_day_exactly_once(start, end, second):
    if start == end:
        return
    clock = lambda s: f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"  # noqa: E731
    at = f"2026-03-31T{clock(second)}+00:00"
    inside = holds({"timezone": "UTC", "conditions": [{"time": f"{clock(start)}-{clock(end)}"}]}, at)
    outside = holds({"timezone": "UTC", "conditions": [{"time": f"{clock(end)}-{clock(start)}"}]}, at)
    assert inside != outside
