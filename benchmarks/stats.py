"""Result records of a benchmark run: measurements, ratios to baselines, and their summaries.

Every case compares its subject with baselines measured in the same run, because the
machine is shared and noisy: absolute times drift, ratios of interleaved samples hold.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sample list."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Measurement:
    """Samples of one contender: seconds (``unit="s"``), bytes (``"B"``) or a plain count."""

    label: str
    samples: list[float]
    unit: str = "s"
    note: str = ""
    #: A difference of two timings (e.g. traced minus untraced): one noisy round may come out negative.
    signed: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, "n": len(self.samples),
                "median": self.median, "p95": self.p95, "min": min(self.samples),
                "max": max(self.samples), "mean": statistics.fmean(self.samples),
                "note": self.note, "samples": [round(s, 9) for s in self.samples]}


@dataclass
class Ratio:
    """``subject`` median over ``baseline`` median, with the target it is held to (if any).

    ``at_most``: met when ratio <= it (e.g. 2.0 for "at most twice the HTTP round trip");
    ``faster_by``: met when baseline/subject >= it (e.g. 15.0 for "15x faster").
    """

    subject: str
    baseline: str
    ratio: float
    at_most: float | None = None
    faster_by: float | None = None
    unit: str = "s"

    @property
    def target(self) -> str:
        if self.at_most is not None:
            return f"≤ {self.at_most:g}×"
        if self.faster_by is not None:
            return f"≥ {self.faster_by:g}× faster"
        return ""

    @property
    def met(self) -> bool | None:
        if self.at_most is not None:
            return self.ratio <= self.at_most
        if self.faster_by is not None:
            return self.ratio > 0 and 1 / self.ratio >= self.faster_by
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "baseline": self.baseline, "ratio": self.ratio,
                "speedup": (1 / self.ratio) if self.ratio else None, "target": self.target,
                "met": self.met}


@dataclass
class Limit:
    """An absolute target on one measurement's median (e.g. at most 20 µs per traced line)."""

    label: str
    median: float
    at_most: float
    unit: str = "s"

    @property
    def met(self) -> bool:
        return self.median <= self.at_most

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "median": self.median, "at_most": self.at_most,
                "unit": self.unit, "met": self.met}


@dataclass
class CaseResult:
    """What one case measured, how it compares, and what stood out."""

    name: str
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, label: str, samples: list[float], unit: str = "s", note: str = "",
            signed: bool = False) -> Measurement:
        measurement = Measurement(label, list(samples), unit, note, signed)
        self.measurements.append(measurement)
        return measurement

    def get(self, label: str) -> Measurement | None:
        return next((m for m in self.measurements if m.label == label), None)

    def compare(self, subject: str, baseline: str, *, at_most: float | None = None,
                faster_by: float | None = None) -> Ratio | None:
        """Add the ratio of two measurements' medians (skipped if either is missing)."""
        a, b = self.get(subject), self.get(baseline)
        if a is None or b is None or b.median == 0:
            return None
        ratio = Ratio(subject, baseline, a.median / b.median, at_most, faster_by, a.unit)
        self.ratios.append(ratio)
        return ratio

    def limit(self, label: str, at_most: float) -> Limit | None:
        """Hold a measurement's median to an absolute target (skipped if it is missing)."""
        m = self.get(label)
        if m is None:
            return None
        limit = Limit(label, m.median, at_most, m.unit)
        self.limits.append(limit)
        return limit

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title,
                "measurements": [m.to_dict() for m in self.measurements],
                "ratios": [r.to_dict() for r in self.ratios],
                "limits": [x.to_dict() for x in self.limits], "notes": list(self.notes),
                "info": self.info}


def interleave(contenders: dict[str, Callable[[], float]], rounds: int,
               per_round: int | dict[str, int] = 1) -> dict[str, list[float]]:
    """Run each contender ``per_round`` times per round, round after round, in rotating order.

    Each contender performs one operation and returns its own duration in seconds (so it
    can leave its setup out). Interleaving spreads the machine's noise over all of them.
    """
    names = list(contenders)
    counts = per_round if isinstance(per_round, dict) else {}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            for _ in range(counts.get(name, per_round if isinstance(per_round, int) else 1)):
                samples[name].append(contenders[name]())
    return samples


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
