"""A queue in the traffic lab: messages arrive, an SQS event source mapping drains them, simulated.

The same rules as the engine's pollers, from the same objects (``lambda_widget.placement.esm``): the
concurrent batches the pollers allow (5, +300 a minute while messages remain, back to 5 when quiet),
how a batch is gathered (size, window, 6 MB), what a batch's outcome deletes and returns (partial batch
responses included), throttled batches' backoff, and SQS's redrive to a dead-letter queue. Environments,
cold starts, reserved concurrency and the scaling rate come from ``lambda_widget.placement`` as in the
plain simulator. No processes: a day of a busy queue takes seconds.

Not modelled: FIFO message groups; a batch that outlives its visibility timeout (the engine refuses a
function timeout longer than the queue's visibility timeout at creation, as AWS does).
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from heapq import heappop, heappush
from itertools import count
from typing import Any

import numpy as np

from lambda_widget import pricing
from lambda_widget.placement import Limits, Placement
from lambda_widget.placement.esm import (
    BatchWindow,
    MappingConfigError,
    PollerScaling,
    batch_outcome,
    check_mapping,
    throttle_retry_at,
    to_dead_letter,
)
from lambda_widget.placement.limits import SCALING
from lambda_widget.traffic.service import service_time
from lambda_widget.traffic.workloads import Workload, parse_duration

RETENTION = 345_600.0      # SQS keeps a message 4 days by default
MAX_MESSAGES = 5_000_000
MAX_SERIES = 2000
SERIES_BINS = 300          # a long run's series: about 300 bins (five minutes each over a day)
RECORD_OVERHEAD = 620      # bytes a record adds to the event besides its body (ids, attributes, ARNs)
_WAITING, _IN_FLIGHT, _DELETED, _DEAD, _EXPIRED = range(5)


class _Batch:
    __slots__ = ("messages", "window", "received_at", "attempts")

    def __init__(self, batch_size: int, window: float, now: float) -> None:
        self.messages: list[int] = []
        self.window = BatchWindow(batch_size, window)
        self.received_at = now
        self.attempts = 0


def simulate_queue(workload: Workload, duration: float | str | None = None, *,
                   warm_ms: Any = 20.0, cold_ms: Any = 250.0, per_message_ms: float = 0.0,
                   batch_size: int = 10, batching_window: int = 0, maximum_concurrency: int | None = None,
                   report_batch_item_failures: bool = False, visibility_timeout: float = 30.0,
                   max_receive_count: int | None = None, poison: float = 0.0, failure_rate: float = 0.0,
                   message_bytes: int = 256, reserved_concurrency: int | None = None,
                   account_concurrency: int = 1000, idle_timeout: float = 600.0, memory_mb: int = 128,
                   retention: float = RETENTION, until: float | str | None = None,
                   seed: int | None = None) -> QueueSimulation:
    """Simulate ``workload`` (message arrivals, for ``duration`` seconds) into a queue drained by a mapping.

    A batch's service time is ``warm_ms`` (``cold_ms`` on a new environment, init included) plus
    ``per_message_ms`` for each message; each can be a number, measured values or a distribution, as
    in :func:`lambda_widget.traffic.simulate`. ``poison`` is the share of messages that always fail (or
    the list of their numbers, in order of arrival),
    ``failure_rate`` the chance that a whole batch fails. The run lasts until every message was deleted,
    dead-lettered or expired (``retention``), or until ``until`` seconds.
    """
    if not isinstance(workload, Workload):
        raise ValueError(f"workload must be a traffic workload (traffic.bursts(...), ...), not {workload!r}")
    duration = parse_duration(duration if duration is not None else (workload.natural_duration() or 0))
    if duration <= 0:
        raise ValueError("say how long messages arrive: duration=3600 (seconds) or duration='1h'")
    if workload.mean_rate() * duration > MAX_MESSAGES:
        raise ValueError(f"more than {MAX_MESSAGES:,} messages is too many to simulate here")
    try:
        check_mapping(batch_size=batch_size, window=batching_window, maximum_concurrency=maximum_concurrency)
    except MappingConfigError as exc:
        raise ValueError(exc.message) from None
    if not 0.0 <= failure_rate <= 1.0:
        raise ValueError(f"failure_rate is a share between 0 and 1, not {failure_rate!r}")
    if isinstance(poison, (int, float)) and not isinstance(poison, bool):
        if not 0.0 <= poison <= 1.0:
            raise ValueError(f"poison is a share between 0 and 1 (or a list of message numbers), not {poison!r}")
        poison = float(poison)
    else:
        poison = sorted({int(m) for m in poison})
    if not visibility_timeout > 0 or not retention > 0:
        raise ValueError("visibility_timeout and retention must be > 0 seconds")
    rng = np.random.default_rng(seed)
    arrivals = workload.arrivals(duration, rng)
    sim = _Simulation(arrivals, rng, warm=service_time(warm_ms, "warm_ms"), cold=service_time(cold_ms, "cold_ms"),
                      per_message_s=float(per_message_ms) / 1000.0, batch_size=batch_size, window=batching_window,
                      maximum_concurrency=maximum_concurrency, report=report_batch_item_failures,
                      visibility=float(visibility_timeout), max_receive=max_receive_count, poison=poison,
                      failure_rate=failure_rate, record_bytes=int(message_bytes) + RECORD_OVERHEAD,
                      reserved=reserved_concurrency, placement=Placement(Limits(account_concurrency)),
                      idle_timeout=float(idle_timeout), retention=float(retention),
                      until=parse_duration(until) if until is not None else math.inf)
    sim.run()
    if not isinstance(poison, float):
        poison = len(poison) / max(1, sim.arrivals.size)
    config = {"workload": workload.to_dict(), "duration_s": duration, "batch_size": batch_size,
              "batching_window": batching_window, "maximum_concurrency": maximum_concurrency,
              "report_batch_item_failures": report_batch_item_failures, "visibility_timeout": visibility_timeout,
              "max_receive_count": max_receive_count, "poison": poison, "failure_rate": failure_rate,
              "warm": sim.warm.to_dict(), "cold": sim.cold.to_dict(), "per_message_ms": per_message_ms,
              "reserved_concurrency": reserved_concurrency, "account_concurrency": account_concurrency,
              "idle_timeout": idle_timeout, "memory_mb": memory_mb, "seed": seed}
    return QueueSimulation(sim, config, memory_mb)


class _Simulation:
    """The event loop (one per run). Times in seconds; messages are indices into ``arrivals``."""

    def __init__(self, arrivals: np.ndarray, rng: np.random.Generator, **o: Any) -> None:
        self.arrivals = arrivals
        self.rng = rng
        for key, value in o.items():
            setattr(self, key, value)
        n = int(arrivals.size)
        # Lists, not arrays: the loop reads one message at a time, and a list hands back its objects.
        self.times: list[float] = arrivals.tolist()
        self.state = [_WAITING] * n
        self.received = [0] * n
        if isinstance(self.poison, float):
            self.poisoned = (rng.random(n) < self.poison).tolist() if self.poison else [False] * n
        else:  # the indices of the messages that fail
            if self.poison and self.poison[-1] >= n:
                raise ValueError(f"poison names message {self.poison[-1]}, but only {n} arrive")
            self.poisoned = [False] * n
            for m in self.poison:
                self.poisoned[m] = True
        self.done_at = [math.nan] * n
        self.visible: deque[int] = deque()
        self.events: list[tuple] = []
        self.seq = count()
        self.scaling = PollerScaling(self.maximum_concurrency)
        self.gathering: _Batch | None = None
        self.running = 0
        self.waiting = 0
        self.idle: list[tuple[int, int, float]] = []   # (-seq, seq, reaps at): newest first
        self.envs = 0
        self.cold_starts = 0
        self.throttles = 0
        self.invocations = 0
        self.sizes: Counter[int] = Counter()
        self.billed_ms = 0.0
        self.next_arrival = 0
        self.oldest = 0
        self.counts = {"deleted": 0, "dead": 0, "expired": 0}
        self.series: list[tuple] = []
        self.peak_batches = 0
        self.peak_backlog = 0
        self.now = 0.0
        self.in_flight = 0
        self.finished = 0
        self.resolution = max(0.0, float(arrivals[-1]) / SERIES_BINS) if n else 0.0
        self.step_at: float | None = None
        self.warm_pool: list[float] = []
        self.cold_pool: list[float] = []

    # ------------------------------------------------------------------ the loop
    def push(self, at: float, kind: str, data: Any = None) -> None:
        heappush(self.events, (at, next(self.seq), kind, data))

    def run(self) -> None:
        n = len(self.times)
        arrivals = self.times
        while True:
            at_event = self.events[0][0] if self.events else math.inf
            at_arrival = arrivals[self.next_arrival] if self.next_arrival < n else math.inf
            t = min(at_event, at_arrival)
            if t == math.inf or t > self.until:
                break
            self.now = t
            while self.next_arrival < n and arrivals[self.next_arrival] <= t:
                self.visible.append(self.next_arrival)
                self.next_arrival += 1
            while self.events and self.events[0][0] <= t:
                _, _, kind, data = heappop(self.events)
                getattr(self, "_on_" + kind)(t, data)
            self.poll(t)
            self.record(t)
        self.resolution = 0.0
        self.record(self.now)  # the end, always

    def poll(self, t: float) -> None:
        """Every free poller takes a batch; a gathering batch takes what arrived."""
        target = self.scaling.tick(t)
        self._take(t, target)
        step_at = self.scaling.next_step_at()
        if step_at is not None and step_at != self.step_at:  # wake when the minute ends
            self.step_at = step_at
            self.push(step_at, "step")

    def _take(self, t: float, target: int) -> None:
        while True:
            batch = self.gathering
            if batch is None:
                if self.running + self.waiting >= target:
                    if self._receivable(t):
                        self.scaling.saw("backlog", t)
                    return
                if not self._receivable(t):
                    self.scaling.saw("quiet", t)
                    return
                batch = _Batch(self.batch_size, self.window, t)
            took = self._fill(batch, t)
            reason = batch.window.closed(t, overflow=took == "overflow")
            if reason is None:
                if batch.messages and self.gathering is None:
                    self.gathering = batch
                    self.push(batch.window.closes_at(), "window", batch)
                return
            self.gathering = None
            self.sizes[len(batch.messages)] += 1
            self.invoke(batch, t)

    def _receivable(self, t: float) -> bool:
        while self.visible:
            m = self.visible[0]
            if self.state[m] == _WAITING and not self._drop(m, t):
                return True
            self.visible.popleft()
        return False

    def _drop(self, m: int, t: float) -> bool:
        """SQS's own rules as a receive meets the message: redrive and retention."""
        if to_dead_letter(self.received[m], self.max_receive):
            self._finish(m, _DEAD, t)
            return True
        if t - self.times[m] >= self.retention:
            self._finish(m, _EXPIRED, t)
            return True
        return False

    def _fill(self, batch: _Batch, t: float) -> str | None:
        """Take what is receivable into the batch, up to its size and 6 MB ("overflow": the next one would
        not fit)."""
        window = batch.window
        size = self.record_bytes
        while len(batch.messages) < window.batch_size and self._receivable(t):
            if not window.fits(size):
                return "overflow"
            m = self.visible.popleft()
            self.state[m] = _IN_FLIGHT
            self.in_flight += 1
            self.received[m] += 1
            if not batch.messages:
                batch.received_at = t
            window.add(size, t)
            batch.messages.append(m)
        return None

    # ------------------------------------------------------------------ invocations
    def invoke(self, batch: _Batch, t: float) -> None:
        """Run a batch: a warm environment, a new one, or a throttle (retried with backoff)."""
        env = self._idle_env(t)
        why = None
        if env is None:  # as placement decides: an idle environment serves; a new one must be allowed
            why = self.placement.limits.admit(self.running, self.reserved)
            if why is None and not self.placement.scale("function", t):
                why = SCALING
        self.invocations += 1
        if why is not None:
            self.throttles += 1
            batch.attempts += 1
            self.scaling.saw("throttle", t)
            retry = throttle_retry_at(t, batch.attempts, batch.received_at + self.visibility)
            if retry is None:  # its visibility timeout passes first: the messages go back
                self.push(batch.received_at + self.visibility, "visible", batch.messages)
            else:
                self.waiting += 1
                self.push(retry, "retry", batch)
            return
        if env is None:
            self.envs += 1
            self.cold_starts += 1
            seq, service = self.envs, self._draw(self.cold, self.cold_pool)
        else:
            seq, service = env[1], self._draw(self.warm, self.warm_pool)
        service += self.per_message_s * len(batch.messages)
        self.billed_ms += math.ceil(service * 1000.0)
        self.running += 1
        self.peak_batches = max(self.peak_batches, self.running + self.waiting)
        self.push(t + service, "done", (batch, seq))

    def _idle_env(self, t: float) -> tuple[int, int, float] | None:
        while self.idle:
            env = heappop(self.idle)
            if env[2] > t:
                return env
        return None

    def _draw(self, dist: Any, pool: list[float]) -> float:
        if dist.constant is not None:
            return dist.constant / 1000.0
        if not pool:
            pool.extend(dist.draw(4096, self.rng).tolist())
        return pool.pop()

    def _on_done(self, t: float, data: tuple) -> None:
        batch, seq = data
        self.running -= 1
        heappush(self.idle, (-seq, seq, t + self.idle_timeout))
        ids = [str(m) for m in batch.messages]
        poisoned = [str(m) for m in batch.messages if self.poisoned[m]]
        result = None
        if self.failure_rate and self.rng.random() < self.failure_rate:
            status = "failed"
        elif poisoned and not self.report:
            status = "failed"
        else:
            status = "succeeded"
            if self.report and poisoned:
                result = {"batchItemFailures": [{"itemIdentifier": i} for i in poisoned]}
        outcome = batch_outcome(status, result, ids, report_failures=self.report)
        for i in outcome.delete:
            self._finish(int(i), _DELETED, t)
        if outcome.retry:
            self.push(max(t, batch.received_at + self.visibility), "visible", [int(i) for i in outcome.retry])
        if outcome.failed and not outcome.reported:  # a function error (a partial response is not one)
            self.scaling.saw("error", t)

    def _on_retry(self, t: float, batch: _Batch) -> None:
        self.waiting -= 1
        self.invoke(batch, t)

    def _on_visible(self, t: float, messages: list[int]) -> None:
        for m in messages:
            if self.state[m] == _IN_FLIGHT:
                self.state[m] = _WAITING
                self.in_flight -= 1
                self.visible.append(m)

    def _on_window(self, t: float, batch: _Batch) -> None:
        pass  # poll() after the events closes it

    def _on_step(self, t: float, data: Any) -> None:
        pass  # poll() applies the minute's step

    def _finish(self, m: int, state: int, t: float) -> None:
        if self.state[m] == _IN_FLIGHT:
            self.in_flight -= 1
        self.finished += 1
        self.state[m] = state
        self.done_at[m] = t
        self.counts[{_DELETED: "deleted", _DEAD: "dead", _EXPIRED: "expired"}[state]] += 1

    # ------------------------------------------------------------------ the series
    def record(self, t: float) -> None:
        """The series: each point is the most of each count within its bin of ``resolution`` seconds (every
        event when that is 0), so a day reads as its envelope; the peak backlog sees every event."""
        arrived = self.next_arrival
        in_flight = self.in_flight
        visible = arrived - self.finished - in_flight
        if visible > self.peak_backlog:
            self.peak_backlog = visible
        batches = self.running + self.waiting + (1 if self.gathering else 0)
        last = self.series[-1] if self.series else None
        if last is not None and (t < last[0] + self.resolution or t == last[0]):  # the same bin: its maxima
            if visible > last[1]:
                last[1] = visible
            if in_flight > last[2]:
                last[2] = in_flight
            last[3] = self.counts["dead"]
            if self.scaling.target > last[4]:
                last[4] = self.scaling.target
            if batches > last[5]:
                last[5] = batches
            return
        while self.oldest < arrived and self.state[self.oldest] >= _DELETED:
            self.oldest += 1
        start = t if last is None or not self.resolution else \
            last[0] + self.resolution * ((t - last[0]) // self.resolution)
        self.series.append([start, visible, in_flight, self.counts["dead"], self.scaling.target, batches,
                            t - self.times[self.oldest] if self.oldest < arrived else None])


class QueueSimulation:
    """The outcome of :func:`simulate_queue`: messages, batches, invocations, the drain, and series for the
    queue panel's charts. Displays with charts; ``to_dict()`` is JSON."""

    def __init__(self, sim: _Simulation, config: dict[str, Any], memory_mb: int) -> None:
        self.config = config
        self.messages = int(sim.arrivals.size)
        self.deleted = sim.counts["deleted"]
        self.dead_lettered = sim.counts["dead"]
        self.expired = sim.counts["expired"]
        self.left = self.messages - self.deleted - self.dead_lettered - self.expired
        self.invocations = sim.invocations
        self.throttles = sim.throttles
        self.batches = sum(sim.sizes.values())
        self.batch_sizes = dict(sorted(sim.sizes.items()))
        self.cold_starts = sim.cold_starts
        self.environments = sim.envs
        self.peak_concurrent_batches = sim.peak_batches
        self.peak_backlog = sim.peak_backlog
        done_at = np.asarray(sim.done_at)
        done = done_at[~np.isnan(done_at)]
        first = sim.times[0] if sim.times else 0.0
        self.drained_at = float(done.max()) if self.left == 0 and done.size else None
        self.time_to_drain = self.drained_at - first if self.drained_at is not None else None
        waits = (done_at - sim.arrivals)[np.asarray(sim.state) == _DELETED]
        self.latency_s = ({f"p{p:g}": float(v) for p, v in zip((50, 90, 99), np.percentile(waits, (50, 90, 99)),
                                                                strict=True)} | {"max": float(waits.max())}
                          if waits.size else {})
        self.gb_seconds = pricing.gb_seconds(sim.billed_ms, memory_mb)
        self.cost_usd = pricing.duration_cost(self.gb_seconds) + (sim.invocations - sim.throttles) * pricing.PER_REQUEST
        self.series = _thin([{"t": p[0], "visible": p[1], "in_flight": p[2], "dead_letter": p[3], "pollers": p[4],
                              "batches": p[5], "oldest_age_s": p[6]} for p in sim.series])
        ages = [p["oldest_age_s"] for p in self.series if p["oldest_age_s"] is not None]
        self.max_oldest_age_s = max(ages) if ages else 0.0
        self.peak_pollers = max((p["pollers"] for p in self.series), default=0)

    def to_dict(self) -> dict[str, Any]:
        keys = ("config", "messages", "deleted", "dead_lettered", "expired", "left", "invocations", "throttles",
                "batches", "batch_sizes", "cold_starts", "environments", "peak_concurrent_batches", "peak_backlog",
                "peak_pollers", "drained_at", "time_to_drain", "latency_s", "max_oldest_age_s", "gb_seconds",
                "cost_usd", "series")
        return {k: getattr(self, k) for k in keys}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def drain_words(self) -> str:
        """``66.3 s``, ``24.0 h``, or how many were still queued at the end."""
        if self.time_to_drain is None:
            return f"{self.left:,} still queued at the end"
        return span_words(self.time_to_drain)

    def lines(self) -> list[str]:
        drain = f"drained in {self.drain_words()}" if self.time_to_drain is not None else self.drain_words()
        sizes = ", ".join(f"{size} × {n:,}" for size, n in sorted(self.batch_sizes.items(), key=lambda kv: -kv[1])[:4])
        return [f"{self.messages:,} messages: {self.deleted:,} deleted, {self.dead_lettered:,} to the dead-letter "
                f"queue, {self.expired:,} expired; {drain}",
                f"{self.batches:,} batches ({sizes}), {self.invocations:,} invocations, {self.throttles:,} throttled, "
                f"{self.cold_starts:,} cold starts",
                f"at most {self.peak_pollers:,} concurrent batches allowed, {self.peak_concurrent_batches:,} at once; "
                f"oldest message at most {span_words(self.max_oldest_age_s)} old"]

    def __repr__(self) -> str:
        return "<QueueSimulation: " + "; ".join(self.lines()[:1]) + ">"

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _html(self, static: bool) -> str:
        from lambda_widget.views.queue import simulation_html

        return simulation_html(self, static)

    def static_html(self) -> str:
        """The numbers and charts as HTML that survives sanitisers (charts as images)."""
        return self._html(True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self._html(False), "text/plain": str(self)}


def span_words(seconds: float) -> str:
    """Seconds in the unit that reads best: ``66.3 s``, ``12.5 min``, ``24.0 h``."""
    if seconds >= 7200:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:,.1f} min" if seconds >= 600 else f"{seconds:,.1f} s"


def _thin(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most MAX_SERIES points, keeping the first and the last."""
    if len(points) <= MAX_SERIES:
        return points
    step = math.ceil(len(points) / MAX_SERIES)
    return points[:-1:step] + [points[-1]]

