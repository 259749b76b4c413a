"""What a simulation found: counts, ratios, latencies, environments, GB-seconds and dollars."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lambda_widget import pricing
from lambda_widget.traffic.engine import Trace

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
SERIES_BINS = 288  # five-minute bins over a day


def _integral(created: np.ndarray, ended: np.ndarray, at: np.ndarray) -> np.ndarray:
    """∫₀ˣ (environments alive) dt at each ``x`` of ``at``: exact, from the lifetimes."""
    times = np.concatenate([created, ended])
    steps = np.concatenate([np.ones(created.size), -np.ones(ended.size)])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(steps[order])
    if times.size == 0:
        return np.zeros(at.size)
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    i = np.searchsorted(times, at, side="right") - 1
    below = i < 0
    i = np.clip(i, 0, None)
    out = area[i] + level[i] * (at - times[i])
    out[below] = 0.0
    return out


class SimulationResult:
    """The outcome of :func:`lambda_widget.simulate`. Displays as a chart panel; ``to_dict()`` is JSON."""

    def __init__(self, trace: Trace, config: dict[str, Any], duration: float, memory_mb: int,
                 architecture: str = "x86_64") -> None:
        self.config = config
        self.duration = float(duration)
        self.memory_mb = int(memory_mb)
        self.architecture = architecture
        d = self.duration or 1.0
        self.requests = int(trace.arrivals.size)
        self.invocations = int(trace.served_at.size)
        self.cold_starts = int(trace.cold_at.size)
        self.throttled = int(trace.throttled_at.size)
        self.cold_start_ratio = self.cold_starts / self.invocations if self.invocations else 0.0
        self.cold_reasons = dict(sorted(trace.cold_reasons.items()))

        lat_ms = trace.latency_s * 1000.0
        self.latency_ms: dict[str, float] = {}
        if lat_ms.size:
            for p, v in zip(PERCENTILES, np.percentile(lat_ms, PERCENTILES), strict=True):
                self.latency_ms[f"p{p:g}"] = float(v)
            self.latency_ms |= {"mean": float(lat_ms.mean()), "max": float(lat_ms.max())}

        busy = float(np.sum(np.minimum(trace.served_at + trace.latency_s, d) - trace.served_at))
        env_time = float(np.sum(trace.env_ended - trace.env_created)) - trace.unloaded_s
        self.mean_environments = env_time / d
        self.mean_busy = busy / d
        self.mean_idle = max(0.0, self.mean_environments - self.mean_busy)
        self.idle_gb_seconds = self.mean_idle * d * self.memory_mb / 1024.0
        self.environments_created = int(trace.env_created.size)
        self.peak_environments = _peak(trace.env_created, trace.env_ended)

        billed_ms = float(np.ceil(lat_ms).sum())  # Lambda bills by the millisecond, init included
        self.gb_seconds = pricing.gb_seconds(billed_ms, self.memory_mb)
        provisioned = trace.env_provisioned
        share = min(1.0, trace.provisioned_busy_s / busy) if busy else 0.0
        self.bill = pricing.monthly_bill(self.invocations, billed_ms / self.invocations if self.invocations else 0.0,
                                         self.memory_mb, architecture, free_tier=False,
                                         provisioned=provisioned, provisioned_seconds=d,
                                         provisioned_share=share)
        self.cost_usd = self.bill.total
        self.keep_alive = trace.keep_alive
        self.series = self._series(trace, d)

    # ------------------------------------------------------------------ data
    def _series(self, trace: Trace, d: float) -> dict[str, list[float]]:
        bins = SERIES_BINS if d >= 3600 else max(12, min(SERIES_BINS, int(d // 10) or 12))
        edges = np.linspace(0.0, d, bins + 1)
        width = edges[1] - edges[0]
        envs = np.diff(_integral(trace.env_created, trace.env_ended, edges)) / width
        where = np.clip((trace.served_at / width).astype(np.int64), 0, bins - 1)
        busy = np.bincount(where, weights=np.minimum(trace.latency_s, d - trace.served_at),
                           minlength=bins) / width
        colds = np.histogram(trace.cold_at, edges)[0]
        throttles = np.histogram(trace.throttled_at, edges)[0]
        requests = np.histogram(trace.arrivals, edges)[0]
        return {"t": [round(float(x), 3) for x in edges[:-1]], "bin_s": float(width),
                "environments": [round(float(x), 4) for x in envs],
                "busy": [round(float(x), 4) for x in np.minimum(busy, envs + 1e-9)],
                "cold_starts": colds.tolist(), "throttled": throttles.tolist(), "requests": requests.tolist()}

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-serialisable data."""
        return {
            "config": self.config,
            "duration_s": self.duration,
            "requests": self.requests,
            "invocations": self.invocations,
            "cold_starts": self.cold_starts,
            "cold_start_ratio": self.cold_start_ratio,
            "cold_reasons": self.cold_reasons,
            "throttled": self.throttled,
            "latency_ms": self.latency_ms,
            "mean_environments": self.mean_environments,
            "mean_busy": self.mean_busy,
            "mean_idle": self.mean_idle,
            "peak_environments": self.peak_environments,
            "environments_created": self.environments_created,
            "idle_gb_seconds": self.idle_gb_seconds,
            "gb_seconds": self.gb_seconds,
            "cost_usd": self.cost_usd,
            "bill": self.bill.to_dict() | {"pricing": pricing.SOURCE, "architecture": self.architecture},
            "keep_alive": self.keep_alive,
            "series": self.series,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    # ------------------------------------------------------------------ display
    def summary_lines(self) -> list[str]:
        lat = self.latency_ms
        lines = [f"{self.invocations:,} invocations in {_span(self.duration)}: {self.cold_starts:,} cold "
                 f"({self.cold_start_ratio:.2%}), {self.throttled:,} throttled",
                 f"environments: mean {self.mean_environments:.2f} (busy {self.mean_busy:.2f}, idle "
                 f"{self.mean_idle:.2f}), peak {self.peak_environments}",
                 f"{self.gb_seconds:,.1f} GB-s, ${self.cost_usd:,.4f}"]
        if lat:
            lines.insert(2, f"latency ms: p50 {lat['p50']:.1f}, p99 {lat['p99']:.1f}, max {lat['max']:.1f}")
        failed = self.config.get("measured", {}).get("failed", 0)
        if failed:
            lines.append(f"note: {failed} of the measuring runs failed (is the event right for the handler?)")
        return lines

    def __repr__(self) -> str:
        return "<SimulationResult: " + "; ".join(self.summary_lines()[:2]) + ">"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("\n".join(self.summary_lines()))

    def static_html(self) -> str:
        from lambda_widget.views.traffic import simulation_html

        return simulation_html(self, static=True)

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from lambda_widget.views.traffic import simulation_html

        return {"text/html": simulation_html(self), "text/plain": "\n".join(self.summary_lines())}

    def widget(self) -> Any:
        """The result as an ipywidgets panel (summary, concurrency and cold-start charts)."""
        from lambda_widget.views.traffic import TrafficView

        return TrafficView(self)


def _peak(created: np.ndarray, ended: np.ndarray) -> int:
    if created.size == 0:
        return 0
    times = np.concatenate([ended, created])
    steps = np.concatenate([-np.ones(ended.size, dtype=np.int64), np.ones(created.size, dtype=np.int64)])
    order = np.lexsort((steps, times))  # at the same moment an end comes before a creation
    return int(np.cumsum(steps[order]).max())


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size and math.isclose(seconds / size, round(seconds / size)):
            return f"{round(seconds / size)} {unit}"
    return f"{seconds:g} s"
