"""`interval`: a declarative time condition (office hours, holidays), evaluated with `Scope.now()`.

    {"interval": {"name": "office", "timezone": "Europe/London",
                  "conditions": [{"days": "mon-fri", "time": "08:30-18:00"},
                                 {"days": ["sat"], "time": "09:00-13:00"},
                                 {"dates": ["2026-12-25", "2026-12-31..2027-01-01"]}]}}

Rules kept here:
  * A condition holds when every field it names holds (AND); the interval holds when any of its
    conditions does (OR). An interval without conditions never holds.
  * Fields: `days` (mon..sun; an item may be a range, `fri-mon` wraps), `time` ("HH:MM[:SS]-HH:MM[:SS]",
    start-inclusive, end-exclusive, `22:00-06:00` wraps midnight, `24:00` ends the day), `dates`
    ("YYYY-MM-DD" or "A..B", both ends included; with times, "YYYY-MM-DD HH:MM[:SS]..…", end excluded),
    `months` (1..12 or "3-5", may wrap) and `mdays` (1..31 or "1-7", may wrap). Lists mean "any of".
  * Each field is tested on its own against the local time: a time range that wraps midnight does not
    carry the previous day (Saturday 02:00 is not in `{days: fri, time: "22:00-06:00"}`).
  * The local time is the clock's wall time in the interval's `timezone` (an IANA name, via zoneinfo;
    default UTC), taken when the condition is tested.
Malformed definitions raise CondError with the path of the bad part, when the IR is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import Scope
from .conditions import Cond, CondError, register_condition

__all__ = ["Interval", "Window", "parse_interval", "DAY_NAMES"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS = ("days", "time", "dates", "months", "mdays")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)$")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Window:
    """One condition: the allowed values of each field it names (None = not constrained)."""

    days: frozenset[int] | None = None  # 0 = Monday
    times: tuple[tuple[int, int], ...] | None = None  # seconds of the day, [start, end)
    dates: tuple[tuple[datetime, datetime], ...] | None = None  # naive local [start, end)
    months: frozenset[int] | None = None
    mdays: frozenset[int] | None = None

    def holds(self, local: datetime) -> bool:
        if self.days is not None and local.weekday() not in self.days:
            return False
        if self.months is not None and local.month not in self.months:
            return False
        if self.mdays is not None and local.day not in self.mdays:
            return False
        if self.times is not None:
            second = local.hour * 3600 + local.minute * 60 + local.second
            if not any(_in_time(second, start, end) for start, end in self.times):
                return False
        if self.dates is not None:
            naive = local.replace(tzinfo=None)
            if not any(start <= naive < end for start, end in self.dates):
                return False
        return True


def _in_time(second: int, start: int, end: int) -> bool:
    if start < end:
        return start <= second < end
    return second >= start or second < end  # wraps midnight


@dataclass(frozen=True, slots=True)
class Interval(Cond):
    """A named set of time windows in one timezone."""

    source: Any = field(compare=False)  # the JSON definition, kept for to_json
    timezone: str
    windows: tuple[Window, ...]
    zone: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "Interval":
        return parse_interval(arg, path)

    def evaluate(self, scope: Scope) -> bool:
        now = scope.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        local = now.astimezone(self.zone)
        return any(window.holds(local) for window in self.windows)

    def to_json(self) -> Any:
        return {"interval": self.source}


register_condition("interval")(Interval)


def parse_interval(arg: Any, path: tuple = ()) -> Interval:
    """An Interval from its JSON definition; CondError (with the path of the bad part) when malformed."""
    if not isinstance(arg, dict):
        raise CondError("'interval' takes {timezone, conditions}", path)
    unknown = [k for k in arg if k not in ("name", "timezone", "conditions")]
    if unknown:
        raise CondError(f"unknown interval field {unknown[0]!r} (fields: name, timezone, conditions)",
                        path + (unknown[0],))
    tz_name = arg.get("timezone", "UTC")
    zone = zone_or_error(tz_name, path + ("timezone",))
    conditions = arg.get("conditions", [])
    if not isinstance(conditions, list):
        raise CondError("'conditions' must be a list", path + ("conditions",))
    windows = tuple(_window(item, path + ("conditions", i)) for i, item in enumerate(conditions))
    return Interval(arg, tz_name, windows, zone)


def zone_or_error(name: Any, path: tuple = ()) -> ZoneInfo:
    """The zoneinfo timezone called `name`; CondError when there is none."""
    if not isinstance(name, str) or not name:
        raise CondError("a timezone is an IANA name such as Europe/London", path)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CondError(f"unknown timezone {name!r} (use an IANA name such as Europe/London)", path) from None


def _items(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _window(item: Any, path: tuple) -> Window:
    if not isinstance(item, dict) or not item:
        raise CondError(f"an interval condition is a mapping of {', '.join(FIELDS)}", path)
    for key in item:
        if key not in FIELDS:
            raise CondError(f"unknown interval condition field {key!r} (fields: {', '.join(FIELDS)})", path + (key,))
    values: dict[str, Any] = {}
    if "days" in item:
        values["days"] = frozenset(d for i, v in enumerate(_items(item["days"]))
                                   for d in _days(v, _at(path, "days", item["days"], i)))
    if "time" in item:
        values["times"] = tuple(_time_range(v, _at(path, "time", item["time"], i))
                                for i, v in enumerate(_items(item["time"])))
    if "dates" in item:
        values["dates"] = tuple(_date_range(v, _at(path, "dates", item["dates"], i))
                                for i, v in enumerate(_items(item["dates"])))
    if "months" in item:
        values["months"] = frozenset(m for i, v in enumerate(_items(item["months"]))
                                     for m in _numbers(v, 1, 12, "month", _at(path, "months", item["months"], i)))
    if "mdays" in item:
        values["mdays"] = frozenset(m for i, v in enumerate(_items(item["mdays"]))
                                    for m in _numbers(v, 1, 31, "day of the month", _at(path, "mdays", item["mdays"], i)))
    return Window(**values)


def _at(path: tuple, key: str, value: Any, index: int) -> tuple:
    return path + (key, index) if isinstance(value, list) else path + (key,)


def _day(name: Any, path: tuple) -> int:
    key = name.strip().lower() if isinstance(name, str) else None
    if key in DAY_NAMES:
        return DAY_NAMES.index(key)
    if key in _FULL_DAYS:
        return _FULL_DAYS.index(key)
    raise CondError(f"{name!r} is not a weekday (use {', '.join(DAY_NAMES)})", path)


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _days(value: Any, path: tuple) -> list[int]:
    if not isinstance(value, str):
        raise CondError(f"{value!r} is not a weekday or a range of weekdays such as mon-fri", path)
    if "-" in value:
        first, _, last = value.partition("-")
        start, end = _day(first, path), _day(last, path)
        count = (end - start) % 7 + 1
        return [(start + k) % 7 for k in range(count)]
    return [_day(value, path)]


def _clock(text: str, path: tuple, whole: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise CondError(f"{whole!r} is not a time range HH:MM[:SS]-HH:MM[:SS]", path)
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and (minutes or seconds)):
        raise CondError(f"{text.strip()!r} is not a valid time of day in {whole!r}", path)
    return hours * 3600 + minutes * 60 + seconds


def _time_range(value: Any, path: tuple) -> tuple[int, int]:
    if not isinstance(value, str) or value.count("-") != 1:
        raise CondError(f"{value!r} is not a time range HH:MM[:SS]-HH:MM[:SS]", path)
    first, last = value.split("-")
    start, end = _clock(first, path, value), _clock(last, path, value)
    if start == 24 * 3600:
        raise CondError(f"{value!r}: a range cannot start at 24:00", path)
    if start == end:
        raise CondError(f"{value!r} is an empty time range (use 00:00-24:00 for the whole day)", path)
    return start, end


def _point(text: str, path: tuple, whole: str) -> tuple[datetime, bool]:
    """A date or date-time; the flag says whether a time was given."""
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time()), False
        match = _DATETIME.match(text)
        if match:
            seconds = _clock(match[2], path, whole)
            if seconds >= 24 * 3600:
                raise ValueError
            day = date.fromisoformat(match[1])
            return datetime(day.year, day.month, day.day, seconds // 3600, seconds // 60 % 60, seconds % 60), True
    except ValueError:
        pass
    raise CondError(f"{whole!r} is not a date YYYY-MM-DD (or YYYY-MM-DD HH:MM), or a range A..B of them", path)


def _date_range(value: Any, path: tuple) -> tuple[datetime, datetime]:
    if not isinstance(value, str):
        raise CondError(f"{value!r} is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD", path)
    first, sep, last = value.partition("..")
    start, start_timed = _point(first, path, value)
    end, end_timed = _point(last, path, value) if sep else (start, start_timed)
    if start_timed != end_timed:
        raise CondError(f"{value!r}: give both ends as dates or both as date-times", path)
    if not end_timed:
        end = end.replace(hour=0) + _ONE_DAY  # whole days: the end date is included
    if end <= start:
        raise CondError(f"{value!r} ends before it starts", path)
    return start, end


def _numbers(value: Any, low: int, high: int, what: str, path: tuple) -> list[int]:
    if isinstance(value, bool):
        raise CondError(f"{value!r} is not a {what} ({low}..{high})", path)
    if isinstance(value, int):
        if not low <= value <= high:
            raise CondError(f"{value} is not a {what} ({low}..{high})", path)
        return [value]
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}\s*(-\s*\d{1,2}\s*)?", value):
        first, _, last = value.partition("-")
        start, end = int(first), int(last) if last else int(first)
        for number in (start, end):
            if not low <= number <= high:
                raise CondError(f"{number} is not a {what} ({low}..{high}) in {value!r}", path)
        span = high - low + 1
        count = (end - start) % span + 1
        return [low + (start - low + k) % span for k in range(count)]
    raise CondError(f"{value!r} is not a {what} ({low}..{high}) or a range such as \"{low}-{low + 2}\"", path)
