"""Schedules on the manager's clock: ``rate(...)``, ``cron(...)`` and ``at(...)`` expressions that
invoke a function asynchronously when their time comes, as EventBridge rules and EventBridge
Scheduler do. With a virtual clock, ``advance()`` (``%lambda wait``) past a schedule's time runs
it, and every occurrence it passed is an ``Event`` invocation in the history.

``parse_expression`` is a plain rule object (no manager): ``Expression.next_after(t)``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager

MAX_CATCH_UP = 1000  # occurrences one advance() may run for one schedule; the rest are skipped
UTC = datetime.timezone.utc
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}  # EventBridge: 1 = Sunday
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Expression:
    """A parsed schedule expression."""

    text: str
    kind: str  # rate | cron | at
    period: float = 0.0  # rate: seconds
    fields: tuple = ()  # cron: sets of minutes, hours, days of month, months, days of week, years
    at: datetime.datetime | None = None

    def next_after(self, t: datetime.datetime, start: datetime.datetime) -> datetime.datetime | None:
        """The first occurrence strictly after ``t`` (``start``: when the schedule was created)."""
        if self.kind == "rate":
            n = int((t - start).total_seconds() // self.period) + 1
            return start + datetime.timedelta(seconds=n * self.period)
        if self.kind == "at":
            return self.at if self.at > t else None
        minutes, hours, doms, months, dows, years = self.fields
        day = t.replace(second=0, microsecond=0)
        for _ in range(366 * 8):
            if (day.month in months and (years is None or day.year in years)
                    and (doms is None or day.day in doms)
                    and (dows is None or (day.isoweekday() % 7) + 1 in dows)):
                for hour in sorted(hours):
                    for minute in sorted(minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate > t:
                            return candidate
            day = (day + datetime.timedelta(days=1)).replace(hour=0, minute=0)
        return None


def parse_expression(text: Any) -> Expression:
    """``rate(5 minutes)``, ``cron(0 12 * * ? *)`` or ``at(2026-01-01T09:00:00)``; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError("a schedule expression is text: rate(...), cron(...) or at(...)")
    m = re.fullmatch(r"\s*rate\(\s*(\d+)\s+([a-z]+)\s*\)\s*", text)
    if m:
        value, unit = int(m[1]), m[2]
        base = unit[:-1] if unit.endswith("s") else unit
        if base not in _UNITS or value < 1:
            raise ValueError(f"{text}: a rate is a whole number >= 1 of minutes, hours or days")
        if (value == 1) != (unit == base):
            raise ValueError(f"{text}: EventBridge wants rate(1 {base}) and rate(N {base}s)")
        return Expression(text, "rate", period=float(value * _UNITS[base]))
    m = re.fullmatch(r"\s*at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)\s*", text)
    if m:
        return Expression(text, "at", at=datetime.datetime.fromisoformat(m[1]).replace(tzinfo=UTC))
    m = re.fullmatch(r"\s*cron\((.*)\)\s*", text)
    if not m:
        raise ValueError(f"{text}: not rate(...), cron(...) or at(...)")
    parts = m[1].split()
    if len(parts) != 6:
        raise ValueError(f"{text}: cron takes 6 fields (minutes hours day-of-month month day-of-week year)")
    minute, hour, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{text}: one of day-of-month and day-of-week must be ?, and only one")
    return Expression(text, "cron", fields=(
        _field(minute, 0, 59, {}, text), _field(hour, 0, 23, {}, text),
        None if dom == "?" else _field(dom, 1, 31, {}, text), _field(month, 1, 12, _MONTHS, text),
        None if dow == "?" else _field(dow, 1, 7, _DAYS, text),
        None if year == "*" else _field(year, 1970, 2199, {}, text)))


def _field(spec: str, low: int, high: int, names: dict[str, int], text: str) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        if re.search(r"[LW#]", part.upper()) and not names.get(part.upper()):
            raise ValueError(f"{text}: {part!r} (L, W, #) is not served locally")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = _number(step_text, 1, high, names, text)
        if part in ("*", "?"):
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _number(a, low, high, names, text), _number(b, low, high, names, text)
        else:
            first = _number(part, low, high, names, text)
            last = high if step > 1 else first
        out.update(range(first, last + 1, step))
    return out


def _number(value: str, low: int, high: int, names: dict[str, int], text: str) -> int:
    if value.upper() in names:
        return names[value.upper()]
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{text}: {value!r} is not in {low}-{high}")
    return int(value)


def add(mgr: ContainerManager, function: str, expression: str, event_input: Any = None, *,
        name: str = "", kind: str = "Schedule") -> Expression:
    """Invoke ``function`` (``Event``) at every occurrence of ``expression`` on ``mgr``'s clock.

    The event is ``event_input`` if given, else what the source sends: an EventBridge
    ``Scheduled Event`` (``kind="Schedule"``) or ``{}`` (``"ScheduleV2"``, EventBridge Scheduler)."""
    from lambda_widget.events import eventbridge_schedule

    expr = parse_expression(expression)
    mgr.function(function)  # ResourceNotFoundException, listing the registered ones
    rule = name or f"{function}-schedule"
    # One schedule per rule name: adding it again (a template loaded again) replaces it.
    live = mgr.__dict__.setdefault("_schedules", {})
    if rule in live:
        live[rule]["cancelled"] = True
    token = live[rule] = {"cancelled": False}
    start = mgr.clock.now()
    origin = datetime.datetime.now(UTC) - datetime.timedelta(seconds=start)  # the clock's 0, as a date

    def wall(t: float) -> datetime.datetime:
        return origin + datetime.timedelta(seconds=t)

    def after(t: float) -> float | None:
        """The first occurrence after clock time ``t`` (in clock seconds: a rate stays exact)."""
        if expr.kind == "rate":
            return start + (int((t - start) // expr.period) + 1) * expr.period
        nxt = expr.next_after(wall(t), wall(start))
        return None if nxt is None else start + (nxt - wall(start)).total_seconds()

    def event_at(t: float) -> Any:
        if event_input is not None:
            return event_input
        if kind == "ScheduleV2":
            return {}
        return eventbridge_schedule(rule, time=wall(t), region=mgr.region, account_id=mgr.account_id)

    def fire_from(first: float) -> Callable[[], Future | None]:
        def fire() -> Future | None:
            if mgr._closed or token["cancelled"] or function not in mgr.functions:
                return None  # replaced, or the function was deleted (or the manager reset): it ends
            now = mgr.clock.now()
            futures: list[Future] = []
            t: float | None = first
            while t is not None and t <= now + 1e-9 and len(futures) < MAX_CATCH_UP:
                futures.append(mgr.submit(function, event_at(t), invocation_type="Event"))
                t = after(t)
            if t is not None and t <= now + 1e-9:  # more than MAX_CATCH_UP passed: the rest are skipped
                t = after(now)
            if t is not None:
                mgr._async.schedule(t, fire_from(t))
            for future in futures[:-1]:
                mgr._async.track(future)
            return futures[-1] if futures else None
        return fire

    first = after(start)
    if first is not None:
        mgr._async.schedule(first, fire_from(first))
    return expr
