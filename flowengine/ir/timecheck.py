"""Can a time interval ever be active? Static satisfiability of `expr.intervals.Interval` for lint.

An interval holds when any of its windows does; a window when every field it names holds (days,
months, days of the month, times of day, date ranges: see flowengine/expr/intervals.py). Rules kept here:

  1. "Never" means in no year at all: 29 February counts (it exists in leap years), and every day of
     the year falls on every weekday in some year, so without `dates` only impossible calendar days
     (30 February, 31 April) or empty field sets make a window impossible.
  2. With `dates`, the days of each range are checked one by one (weekday, month, day of the month,
     and the times of day inside the part of the day the range covers). A range longer than
     `MAX_DAYS` is treated as able to hold whatever the other fields say.
  3. No wall clock is read: a date range in the past is not "never" (lint gives the same answer on
     every machine, every day).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..expr.intervals import Interval, Window

__all__ = ["interval_truth", "window_problem", "MAX_DAYS"]

DAY = 86400
MAX_DAYS = 4 * 366
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def interval_truth(interval: Interval) -> tuple[bool | None, str]:
    """(False, why) when the interval can never be active; (True, "") when it always is; else (None, "")."""
    problems = [window_problem(w) for w in interval.windows]
    if all(problems):
        if not problems:
            return False, "the interval has no conditions"
        return False, "; ".join(f"condition {i + 1}: {p}" for i, p in enumerate(problems)) \
            if len(problems) > 1 else problems[0]
    if any(_always(w) for w in interval.windows):
        return True, ""
    return None, ""


def window_problem(w: Window) -> str | None:
    """Why the window can never hold, or None when some moment satisfies it."""
    for name, values in (("days", w.days), ("months", w.months), ("days of the month", w.mdays),
                         ("times", w.times), ("dates", w.dates)):
        if values is not None and not values:
            return f"its {name} list is empty"
    if w.times is not None and not any(_seconds(start, end) for start, end in w.times):
        return "its time ranges are empty"
    if w.dates is None:
        months = sorted(w.months) if w.months is not None else list(MONTH_DAYS)
        mdays = sorted(w.mdays) if w.mdays is not None else [1]
        if any(day <= MONTH_DAYS[m] for m in months for day in mdays):
            return None
        names = [MONTHS[m - 1] for m in months]
        who = names[0] + " has" if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]} have"
        return f"{who} no day {_list(mdays)}"
    if any(_range_holds(w, start, end) for start, end in w.dates):
        return None
    return "no day in its date ranges has the weekday, month, day of the month and time it asks for"


def _range_holds(w: Window, start: datetime, end: datetime) -> bool:
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (end - first).days + 1
    if days > MAX_DAYS:
        return True
    for k in range(days):
        day = first + timedelta(days=k)
        if day >= end:
            break
        if w.days is not None and day.weekday() not in w.days:
            continue
        if w.months is not None and day.month not in w.months:
            continue
        if w.mdays is not None and day.day not in w.mdays:
            continue
        lo = max(0, int((start - day).total_seconds()))
        hi = min(DAY, int((end - day).total_seconds()))
        if lo < hi and (w.times is None or any(_overlaps(lo, hi, s, e) for s, e in w.times)):
            return True
    return False


def _seconds(start: int, end: int) -> int:
    return end - start if start < end else DAY - start + end


def _overlaps(lo: int, hi: int, start: int, end: int) -> bool:
    """[lo, hi) of one day meets the time range [start, end) (which may wrap midnight)."""
    if start < end:
        return start < hi and lo < end
    return hi > start or lo < end


def _always(w: Window) -> bool:
    if w.dates is not None:
        return False
    full = (w.days is None or len(w.days) == 7) and (w.months is None or len(w.months) == 12) \
        and (w.mdays is None or len(w.mdays) == 31)
    if not full or w.times is None:
        return full
    pieces = sorted(p for start, end in w.times
                    for p in ([(start, end)] if start < end else [(start, DAY), (0, end)]))
    reached = 0
    for start, end in pieces:
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= DAY


def _list(values: list[int]) -> str:
    return " or ".join(str(v) for v in values)
