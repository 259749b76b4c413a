"""Keep-alive: how long an idle environment stays loaded after it served an event.

Every policy answers with two windows measured from the end of an execution: ``prewarm`` (the
environment is unloaded at once and loaded again after this long; 0 = it stays loaded) and
``keep_alive`` (how long it then stays loaded; ``inf`` = never reaped). An event in the pre-warm gap
starts cold ("unloaded"); an event after both windows finds the environment reaped.

- :class:`FixedKeepAlive`: AWS's behaviour, a fixed idle timeout (AWS does not document it; 5-60 min
  observed, 10 min in SimFaaS's measurements). Provisioned environments are never reaped.
- :class:`NoKeepAlive`: reaped the moment it goes idle; every event is cold.
- :class:`HybridHistogramKeepAlive`: the hybrid histogram policy of Shahrad et al., "Serverless in the
  Wild" (USENIX ATC 2020). It keeps a per-function histogram of idle times (one-minute bins over four
  hours). While the histogram is not yet representative (too few idle times, or their bin counts'
  coefficient of variation at most 2) it keeps environments loaded for the whole range. Once it is, the
  pre-warm window is the 5th percentile minus a 10 % margin and the keep-alive window runs to the 99th
  percentile plus 10 %. The paper predicts idle times beyond the range with ARIMA; here those
  fall back to the whole range.
"""

from __future__ import annotations

import math


def idle_deadline(state: str, provisioned: bool, last_used_at: float, idle_timeout: float) -> float | None:
    """When a fixed keep-alive reaps an environment; None if it won't (busy, or provisioned)."""
    if state != "idle" or provisioned:
        return None
    return last_used_at + idle_timeout


def reap_due(reaps_at: float | None, now: float) -> bool:
    """Is an environment whose keep-alive ends at ``reaps_at`` reaped at ``now``? (A hair of slack absorbs
    clock arithmetic: idle for exactly the timeout counts as expired.)"""
    return reaps_at is not None and now >= reaps_at - 1e-9


class KeepAlive:
    """A keep-alive policy for one function."""

    name = "keep-alive"
    #: True when :meth:`windows` never changes, so a caller may ask once.
    static = True

    def windows(self) -> tuple[float, float]:
        """``(prewarm, keep_alive)`` seconds for an environment that has just gone idle."""
        raise NotImplementedError

    def observe(self, idle_time: float) -> None:
        """The function was idle ``idle_time`` seconds between two invocations (learning policies)."""

    def reaps_at(self, state: str, provisioned: bool, last_used_at: float) -> float | None:
        """When an environment idle since ``last_used_at`` is reaped; None if it won't be."""
        prewarm, keep = self.windows()
        return idle_deadline(state, provisioned, last_used_at, prewarm + keep)

    def fresh(self) -> KeepAlive:
        """The same policy with nothing learned (one per simulation)."""
        return self

    def to_dict(self) -> dict:
        return {"policy": self.name}


class FixedKeepAlive(KeepAlive):
    """Reap an environment ``timeout`` seconds after it last finished an event."""

    name = "fixed"

    def __init__(self, timeout: float) -> None:
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout >= 0:
            raise ValueError(f"idle timeout must be a number of seconds >= 0, not {timeout!r}")
        self.timeout = float(timeout)

    def windows(self) -> tuple[float, float]:
        return 0.0, self.timeout

    def to_dict(self) -> dict:
        return {"policy": self.name, "idle_timeout": self.timeout}

    def __repr__(self) -> str:
        return f"FixedKeepAlive({self.timeout:g})"


class NoKeepAlive(FixedKeepAlive):
    """Reap an environment as soon as it has served its event."""

    name = "none"

    def __init__(self) -> None:
        super().__init__(0.0)

    def __repr__(self) -> str:
        return "NoKeepAlive()"


class HybridHistogramKeepAlive(KeepAlive):
    """Shahrad et al.'s hybrid histogram policy (without the ARIMA branch; see the module docstring)."""

    name = "hybrid-histogram"
    static = False

    def __init__(self, range_s: float = 4 * 3600.0, bin_s: float = 60.0, head: float = 0.05,
                 tail: float = 0.99, margin: float = 0.10, cv_threshold: float = 2.0,
                 min_samples: int = 10) -> None:
        if not (range_s > 0 and bin_s > 0 and 0 <= head < tail <= 1 and margin >= 0):
            raise ValueError("hybrid histogram: need range_s > 0, bin_s > 0, 0 <= head < tail <= 1, margin >= 0")
        self.range_s, self.bin_s, self.head, self.tail = float(range_s), float(bin_s), head, tail
        self.margin, self.cv_threshold, self.min_samples = margin, cv_threshold, min_samples
        self._bins = [0] * math.ceil(range_s / bin_s)
        self._count = 0
        self._out_of_range = 0
        self._windows = (0.0, self.range_s)

    def fresh(self) -> HybridHistogramKeepAlive:
        return HybridHistogramKeepAlive(self.range_s, self.bin_s, self.head, self.tail, self.margin,
                                        self.cv_threshold, self.min_samples)

    def observe(self, idle_time: float) -> None:
        if idle_time < 0:
            return
        i = int(idle_time // self.bin_s)
        if i >= len(self._bins):
            self._out_of_range += 1
        else:
            self._bins[i] += 1
            self._count += 1
        self._windows = self._compute()

    def _compute(self) -> tuple[float, float]:
        n = self._count
        if n < self.min_samples or self._out_of_range > n:
            return 0.0, self.range_s
        k = len(self._bins)
        mean = n / k
        var = sum((b - mean) ** 2 for b in self._bins) / k
        if math.sqrt(var) / mean <= self.cv_threshold:
            return 0.0, self.range_s
        head_edge = tail_edge = None
        seen = 0
        for i, b in enumerate(self._bins):
            seen += b
            if head_edge is None and seen >= self.head * n:
                head_edge = i * self.bin_s            # lower edge of the head bin
            if seen >= self.tail * n:
                tail_edge = (i + 1) * self.bin_s      # upper edge of the tail bin
                break
        prewarm = head_edge * (1 - self.margin)
        keep = tail_edge * (1 + self.margin) - prewarm
        return prewarm, keep

    def windows(self) -> tuple[float, float]:
        return self._windows

    def to_dict(self) -> dict:
        prewarm, keep = self._windows
        return {"policy": self.name, "prewarm": prewarm, "keep_alive": keep, "samples": self._count,
                "range_s": self.range_s}

    def __repr__(self) -> str:
        return "HybridHistogramKeepAlive()"


def keep_alive(spec: KeepAlive | float | str | None) -> KeepAlive:
    """A policy from a policy, a timeout in seconds, ``"none"``, ``"hybrid"`` or None (no keep-alive)."""
    if isinstance(spec, KeepAlive):
        return spec.fresh()
    if spec is None or spec == "none":
        return NoKeepAlive()
    if spec in ("hybrid", "hybrid-histogram"):
        return HybridHistogramKeepAlive()
    if isinstance(spec, str):
        raise ValueError(f"unknown keep-alive policy {spec!r}: a number of seconds, 'none' or 'hybrid'")
    return FixedKeepAlive(spec)
