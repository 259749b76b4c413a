"""Workloads: when events arrive. Each one turns (duration, random generator) into sorted arrival times.

``poisson`` and ``constant`` are steady rates; ``bursts`` adds many events at once every so often;
``diurnal`` follows a daily curve; ``per_minute`` replays counts per minute in the format of the Azure
Functions 2019 trace (Azure/AzurePublicDataset, ``AzureFunctionsDataset2019.md``: one row per function,
``HashOwner,HashApp,HashFunction,Trigger`` and then the counts of minutes ``1`` .. ``1440`` of a day).
Workloads add up: ``traffic.poisson(1) + traffic.bursts(100, every=3600)``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0, "day": 86400.0}


def _positive(name: str, value: float, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be a number {'>= 0' if zero else '> 0'}, not {value!r}")
    return float(value)


class Workload:
    """Arrival times of events. Subclasses define :meth:`arrivals`."""

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        """Sorted arrival times in ``[0, duration)`` seconds."""
        raise NotImplementedError

    def mean_rate(self) -> float:
        """Events per second on average (for a description, and to size things)."""
        raise NotImplementedError

    def natural_duration(self) -> float | None:
        """How long this workload lasts when no duration is given (a trace's length), or None."""
        return None

    def __add__(self, other: Workload) -> Workload:
        if not isinstance(other, Workload):
            return NotImplemented
        return Combined([self, other])

    def to_dict(self) -> dict:
        raise NotImplementedError


class Poisson(Workload):
    """Events at random, independently, ``rate`` a second on average (exponential gaps)."""

    def __init__(self, rate: float) -> None:
        self.rate = _positive("rate", rate)

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        expected = self.rate * duration
        n = int(expected + 6 * math.sqrt(expected) + 16)
        times = np.cumsum(rng.exponential(1.0 / self.rate, n))
        while times[-1] < duration:  # rare: draw more
            more = np.cumsum(rng.exponential(1.0 / self.rate, n)) + times[-1]
            times = np.concatenate([times, more])
        return times[: np.searchsorted(times, duration)]

    def mean_rate(self) -> float:
        return self.rate

    def to_dict(self) -> dict:
        return {"kind": "poisson", "rate": self.rate}

    def __repr__(self) -> str:
        return f"poisson(rate={self.rate:g})"


class Constant(Workload):
    """Exactly ``rate`` events a second, evenly spaced (the first at ``offset``)."""

    def __init__(self, rate: float, offset: float = 0.0) -> None:
        self.rate = _positive("rate", rate)
        self.offset = _positive("offset", offset, zero=True)

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        return np.arange(self.offset, duration, 1.0 / self.rate)

    def mean_rate(self) -> float:
        return self.rate

    def to_dict(self) -> dict:
        return {"kind": "constant", "rate": self.rate, "offset": self.offset}

    def __repr__(self) -> str:
        return f"constant(rate={self.rate:g})"


class Bursts(Workload):
    """``size`` events at once every ``every`` seconds (the first at ``offset``), spread over ``spread`` s."""

    def __init__(self, size: int, every: float, offset: float = 0.0, spread: float = 0.0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a whole number >= 1, not {size!r}")
        self.size = size
        self.every = _positive("every", every)
        self.offset = _positive("offset", offset, zero=True)
        self.spread = _positive("spread", spread, zero=True)

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        starts = np.arange(self.offset, duration, self.every)
        times = np.repeat(starts, self.size)
        if self.spread:
            times = times + rng.uniform(0.0, self.spread, times.size)
            times.sort()
        return times[times < duration]

    def mean_rate(self) -> float:
        return self.size / self.every

    def to_dict(self) -> dict:
        return {"kind": "bursts", "size": self.size, "every": self.every, "offset": self.offset,
                "spread": self.spread}

    def __repr__(self) -> str:
        return f"bursts(size={self.size}, every={self.every:g})"


class Diurnal(Workload):
    """A daily curve: Poisson events at ``mean_rate × (1 + amplitude × cos(2π (t − peak_at) / period))``."""

    def __init__(self, mean_rate: float, amplitude: float = 0.8, period: float = 86400.0,
                 peak_at: float = 14 * 3600.0) -> None:
        self.mean = _positive("mean_rate", mean_rate)
        if not isinstance(amplitude, (int, float)) or not 0.0 <= amplitude <= 1.0:
            raise ValueError(f"amplitude must be between 0 and 1, not {amplitude!r}")
        self.amplitude = float(amplitude)
        self.period = _positive("period", period)
        self.peak_at = float(peak_at)

    def rate_at(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.mean * (1.0 + self.amplitude * np.cos(2 * np.pi * (np.asarray(t) - self.peak_at) / self.period))

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        peak = self.mean * (1.0 + self.amplitude)
        candidates = Poisson(peak).arrivals(duration, rng)  # thinning (Lewis and Shedler)
        keep = rng.random(candidates.size) * peak < self.rate_at(candidates)
        return candidates[keep]

    def mean_rate(self) -> float:
        return self.mean

    def to_dict(self) -> dict:
        return {"kind": "diurnal", "mean_rate": self.mean, "amplitude": self.amplitude,
                "period": self.period, "peak_at": self.peak_at}

    def __repr__(self) -> str:
        return f"diurnal(mean_rate={self.mean:g}, amplitude={self.amplitude:g})"


class PerMinute(Workload):
    """Counts of events per minute (the Azure 2019 trace's format), each at a random moment of its minute."""

    def __init__(self, counts: Sequence[int], name: str | None = None) -> None:
        arr = np.asarray(counts)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError("per_minute needs a non-empty list of per-minute counts")
        if not np.issubdtype(arr.dtype, np.number) or np.any(arr < 0) or np.any(arr != np.floor(arr)):
            raise ValueError("per-minute counts must be whole numbers >= 0")
        self.counts = arr.astype(np.int64)
        self.name = name

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        minutes = min(self.counts.size, math.ceil(duration / 60.0))
        counts = self.counts[:minutes]
        starts = np.repeat(np.arange(minutes) * 60.0, counts)
        times = np.sort(starts + rng.uniform(0.0, 60.0, starts.size))
        return times[times < duration]

    def natural_duration(self) -> float:
        return self.counts.size * 60.0

    def mean_rate(self) -> float:
        return float(self.counts.sum()) / (self.counts.size * 60.0)

    def to_dict(self) -> dict:
        return {"kind": "per_minute", "minutes": int(self.counts.size), "events": int(self.counts.sum()),
                "name": self.name}

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return f"per_minute({self.counts.size} minutes, {int(self.counts.sum())} events{label})"


class Replay(Workload):
    """Events at exactly the given times (seconds), e.g. to replay a log or to script a scenario."""

    def __init__(self, times: Sequence[float]) -> None:
        arr = np.sort(np.asarray(times, dtype=float))
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or arr[0] < 0:
            raise ValueError("replay needs a non-empty list of arrival times in seconds, each >= 0")
        self.times = arr

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        return self.times[self.times < duration]

    def natural_duration(self) -> float:
        return float(self.times[-1]) + 1.0

    def mean_rate(self) -> float:
        return self.times.size / self.natural_duration()

    def to_dict(self) -> dict:
        return {"kind": "replay", "events": int(self.times.size)}

    def __repr__(self) -> str:
        return f"replay({self.times.size} events)"


class Combined(Workload):
    """Several workloads at once."""

    def __init__(self, parts: Iterable[Workload]) -> None:
        self.parts: list[Workload] = []
        for p in parts:
            self.parts.extend(p.parts if isinstance(p, Combined) else [p])

    def arrivals(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        return np.sort(np.concatenate([p.arrivals(duration, rng) for p in self.parts]))

    def natural_duration(self) -> float | None:
        spans = [d for d in (p.natural_duration() for p in self.parts) if d is not None]
        return max(spans) if spans else None

    def mean_rate(self) -> float:
        return sum(p.mean_rate() for p in self.parts)

    def to_dict(self) -> dict:
        return {"kind": "combined", "parts": [p.to_dict() for p in self.parts]}

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.parts)


# ---------------------------------------------------------------------- the public constructors
def poisson(rate: float | str) -> Poisson:
    """Random arrivals, ``rate`` a second on average (a number, or text such as ``"5/s"``, ``"30/min"``)."""
    return Poisson(parse_rate(rate))


def constant(rate: float | str) -> Constant:
    """Evenly spaced arrivals, ``rate`` a second."""
    return Constant(parse_rate(rate))


def bursts(size: int, every: float | str, *, offset: float = 0.0, spread: float = 0.0,
           rate: float | str | None = None) -> Workload:
    """``size`` events at once every ``every`` seconds; with ``rate``, on top of Poisson traffic."""
    b = Bursts(size, parse_duration(every), offset=offset, spread=spread)
    return b + Poisson(parse_rate(rate)) if rate else b


def diurnal(mean_rate: float | str, *, amplitude: float = 0.8, period: float | str = 86400.0,
            peak_at: float | str = 14 * 3600.0) -> Diurnal:
    """A daily curve around ``mean_rate`` (busiest at ``peak_at``, quietest half a period later)."""
    return Diurnal(parse_rate(mean_rate), amplitude, parse_duration(period), parse_duration(peak_at))


def per_minute(counts: Sequence[int] | Mapping[str, object] | str | Path, *, function: str | None = None,
               row: int = 0) -> PerMinute:
    """Replay per-minute counts: a list of counts, one row of the Azure 2019 trace (a dict, e.g. from
    ``csv.DictReader``), or such a CSV file (the row whose ``HashFunction`` is ``function``, else row
    ``row``)."""
    if isinstance(counts, (str, Path)):
        return _from_csv(Path(counts), function, row)
    if isinstance(counts, Mapping):
        return _from_row(counts)
    return PerMinute(list(counts))


def replay(times: Sequence[float]) -> Replay:
    """Events at exactly these times (seconds from the start)."""
    return Replay(times)


def _from_row(row: Mapping[str, object]) -> PerMinute:
    minutes = sorted((int(k), v) for k, v in row.items() if isinstance(k, str) and k.strip().isdigit())
    if not minutes:
        raise ValueError("this row has no per-minute columns ('1', '2', ... '1440' in the Azure 2019 trace)")
    if [m for m, _ in minutes] != list(range(1, len(minutes) + 1)):
        raise ValueError("per-minute columns must be numbered 1, 2, 3, ... without gaps")
    try:
        values = [int(float(v)) if v not in ("", None) else 0 for _, v in minutes]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a per-minute count is not a number: {exc}") from None
    return PerMinute(values, name=str(row.get("HashFunction") or "") or None)


def _from_csv(path: Path, function: str | None, row: int) -> PerMinute:
    if not path.is_file():
        raise ValueError(f"no such trace file: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for i, record in enumerate(reader):
            if (function is not None and record.get("HashFunction") == function) or \
                    (function is None and i == row):
                return _from_row(record)
    what = f"HashFunction {function!r}" if function is not None else f"row {row}"
    raise ValueError(f"{path.name} has no {what}")


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(?:/\s*([a-z]+))?\s*$", re.I)
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*$", re.I)


def parse_rate(rate: float | str) -> float:
    """``5``, ``"5/s"``, ``"30/min"``, ``"100/h"`` -> events per second."""
    if isinstance(rate, str):
        m = _RATE.match(rate)
        unit = (m.group(2) or "s").lower() if m else None
        if not m or unit not in _UNITS:
            raise ValueError(f"cannot read the rate {rate!r}: write e.g. 5/s, 30/min or 100/h")
        return _positive("rate", float(m.group(1)) / _UNITS[unit])
    return _positive("rate", rate)


def parse_duration(value: float | str) -> float:
    """``600``, ``"600s"``, ``"10m"``, ``"1h"``, ``"1d"`` -> seconds."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        unit = (m.group(2) or "s").lower() if m else None
        if not m or unit not in _UNITS:
            raise ValueError(f"cannot read the duration {value!r}: write e.g. 90s, 10m, 1h or 1d")
        return float(m.group(1)) * _UNITS[unit]
    return _positive("duration", value, zero=True)
