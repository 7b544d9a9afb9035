"""Static satisfiability of time intervals (flowengine/ir/timecheck.py), checked against `Window.holds`."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.expr.intervals import parse_interval
from flowengine.ir.timecheck import interval_truth, window_problem

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def truth(*conditions: dict):
    return interval_truth(parse_interval({"conditions": list(conditions)}))


@pytest.mark.parametrize("condition, why", [
    ({"months": [2], "mdays": [30, 31]}, "February has no day 30 or 31"),
    ({"months": [4, 6], "mdays": [31]}, "April and June have no day 31"),
    ({"dates": ["2026-12-25"], "days": "mon"}, "no day in its date ranges"),
    ({"dates": ["2026-12-24 18:00..2026-12-24 20:00"], "time": "08:00-12:00"}, "no day in its date ranges"),
])
def test_never_active(condition, why):
    value, reason = truth(condition)
    assert value is False and why in reason


@pytest.mark.parametrize("condition", [
    {"months": [2], "mdays": [29]},  # a leap day exists
    {"dates": ["2026-12-25"], "days": "fri"},
    {"dates": ["2026-12-24 18:00..2026-12-25 09:00"], "time": "22:00-06:00"},
    {"days": "mon-fri", "time": "08:30-18:00"},
    {"dates": ["2020-01-01"]},  # in the past, but lint reads no clock
])
def test_can_be_active(condition):
    assert truth(condition) == (None, "")


def test_always_active_and_several_conditions():
    assert truth({"days": "mon-sun", "time": "00:00-12:00"}, {"time": "12:00-24:00"})[0] is None
    assert truth({"days": "mon-sun", "time": ["00:00-12:00", "12:00-24:00"]}) == (True, "")
    assert truth({"time": "18:00-06:00"}, {"time": "06:00-18:00"})[0] is None
    assert truth({"time": ["18:00-06:00", "06:00-18:00"]}) == (True, "")
    value, reason = truth({"months": [2], "mdays": [30]}, {"months": [4], "mdays": [31]})
    assert value is False and reason.startswith("condition 1: February has no day 30; condition 2: April")
    assert interval_truth(parse_interval({"conditions": []})) == (False, "the interval has no conditions")


ALL_DAYS = [date(2024, 1, 1) + timedelta(days=k) for k in range(28 * 366)]  # a full weekday/leap cycle


@settings(max_examples=40, deadline=None)
@given(days=st.one_of(st.none(), st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True)),
       months=st.one_of(st.none(), st.lists(st.integers(1, 12), min_size=1, max_size=2, unique=True)),
       mdays=st.one_of(st.none(), st.lists(st.integers(28, 31), min_size=1, max_size=2, unique=True)),
       dated=st.booleans(), start=st.integers(0, 40), length=st.integers(1, 6))
def test_agrees_with_evaluation_over_every_day_of_a_cycle(days, months, mdays, dated, start, length):
    condition = {k: v for k, v in (("days", days), ("months", months), ("mdays", mdays)) if v is not None}
    candidates = ALL_DAYS
    if dated:
        first = date(2026, 1, 25) + timedelta(days=start)
        last = first + timedelta(days=length - 1)
        condition["dates"] = [f"{first}..{last}"]
        candidates = [first + timedelta(days=k) for k in range(length)]
    if not condition:
        condition = {"time": "09:00-17:00"}
    (window,) = parse_interval({"conditions": [condition]}).windows
    some_day = any(window.holds(datetime(d.year, d.month, d.day, 12)) for d in candidates)
    assert (window_problem(window) is None) == some_day, condition
