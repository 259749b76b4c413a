"""Asynchronous (``Event``) invocations: the queue, retries on the manager's clock, destinations.

Lambda queues the event and answers at once. A function error (exception, timeout,
crash) is retried twice, about 1 and 2 minutes later; a throttle is retried with
backoff from 1 s up to 5 min. Events older than ``max_event_age`` are dropped. After
the last attempt the ``on_success`` / ``on_failure`` destinations receive an
invocation record shaped like Lambda's.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lambda_widget.engine.records import Function, Invocation

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager

RETRY_DELAYS = (60.0, 120.0)
THROTTLE_BACKOFF_MAX = 300.0
MAX_ASYNC_REQUEST = 1024 * 1024
FUNCTION_ERRORS = ("failed", "timed-out", "crashed", "out-of-memory")


def destination_record(fn: Function, first: Invocation, last: Invocation, condition: str,
                       attempts: int, arn: str, payload: bytes) -> dict[str, Any]:
    """The record an on-success / on-failure destination receives. ``requestPayload`` is decoded
    from the event's bytes: the history may keep ``first.event`` truncated by now."""
    now = datetime.datetime.now(datetime.timezone.utc)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": first.request_id,
            "functionArn": f"{arn}:{first.qualifier or '$LATEST'}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": json.loads(payload),
    }
    if condition == "Success":
        record["responseContext"] = {"statusCode": 200, "executedVersion": last.version}
        record["responsePayload"] = last.result
    elif attempts:
        record["responseContext"] = {"statusCode": 200, "executedVersion": last.version,
                                     "functionError": "Unhandled"}
        record["responsePayload"] = last.error
    return record


def deliver(destination: Callable | list | None, record: dict) -> str | None:
    """Send a record to a callable or append it to a list; return an error text if that failed."""
    if destination is None:
        return None
    try:
        if callable(destination):
            destination(record)
        else:
            destination.append(record)
    except Exception as exc:  # noqa: BLE001 - a destination's failure must not hurt the manager
        return f"destination raised {type(exc).__name__}: {exc}"
    return None


class AsyncQueue:
    """Schedules attempts of Event invocations on the manager's clock."""

    def __init__(self, manager: ContainerManager) -> None:
        self.manager = manager
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._running: set[Future] = set()
        self.starting = threading.RLock()

    def schedule(self, due: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._seq), action))

    def due(self) -> list[Callable[[], None]]:
        """Pop every action whose time has come."""
        now = self.manager.clock.now()
        ready = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now + 1e-9:
                ready.append(heapq.heappop(self._heap)[2])
        return ready

    def track(self, future: Future) -> None:
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._untrack)

    def _untrack(self, future: Future) -> None:
        with self._lock:
            self._running.discard(future)

    def inflight(self) -> list[Future]:
        with self._lock:
            return list(self._running)

    def pending(self) -> int:
        with self._lock:
            return len(self._heap)

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()


class AsyncMixin:
    """Part of ContainerManager: Event invocations, their retries and destinations."""

    def _run_event(self, inv: Invocation, payload: bytes, first: Invocation, throttles: int) -> Invocation:
        self._run(inv, payload, None)
        with self._lock:
            if inv.function_name not in self._functions:
                return inv  # deleted meanwhile
        fn = inv.function  # the version that ran: its retry settings and destinations
        arn = fn.arn(self.region, self.account_id)
        if inv.status == "succeeded":
            deliver(fn.on_success, destination_record(fn, first, inv, "Success", inv.attempt, arn, payload))
        elif inv.status == "throttled":
            delay = min(THROTTLE_BACKOFF_MAX, 2.0 ** throttles)
            self._schedule_attempt(fn, first, inv, payload, inv.attempt, delay, throttles + 1)
        elif inv.status in FUNCTION_ERRORS:
            if inv.attempt <= fn.max_retry_attempts:
                self._schedule_attempt(fn, first, inv, payload, inv.attempt + 1,
                                       RETRY_DELAYS[inv.attempt - 1], throttles)
            else:
                deliver(fn.on_failure, destination_record(fn, first, inv, "RetriesExhausted",
                                                          inv.attempt, arn, payload))
        return inv

    def _schedule_attempt(self, fn: Function, first: Invocation, last: Invocation, payload: bytes,
                          attempt: int, delay: float, throttles: int) -> None:
        """Queue the next attempt of an Event invocation ``delay`` seconds from now (clock time)."""
        due = self.clock.now() + delay
        with self._lock:
            generation = getattr(first, "_generation", self._generation)
            if generation != self._generation:
                return  # the event was admitted before a reset(): no retry
            self._counters["inv"] += 1
            nxt = Invocation(self._counters["inv"], first.request_id, fn, first.event, due, "Event",
                             first.qualifier)  # the same version again
            nxt.attempt = attempt
            nxt._generation = generation
            self.history.append(nxt)
        self._changed(nxt)

        def run() -> Future | None:
            if self._closed:
                return None
            if self.clock.now() - first.submitted_at > fn.max_event_age:
                nxt.error = {"errorMessage": "Event dropped: older than max_event_age",
                             "errorType": "EventAgeExceeded"}
                nxt.status = "dropped"
                self._changed(nxt)
                deliver(fn.on_failure, destination_record(fn, first, last, "EventAgeExceeded",
                                                          last.attempt if last.status != "throttled" else 0,
                                                          fn.arn(self.region, self.account_id), payload))
                return None
            return self._executor.submit(self._run_event, nxt, payload, first, throttles)

        self._async.schedule(due, run)

    def _run_due(self) -> list[Future]:
        futures = []
        with self._async.starting:  # popped and started as one step, so advance() sees them
            for action in self._async.due():
                future = action()
                if future is not None:
                    futures.append(future)
                    self._async.track(future)
        return futures

    def _wait_async(self) -> None:
        """Wait for every async attempt already running (e.g. started by the monitor's tick)."""
        with self._async.starting:
            inflight = self._async.inflight()
        for future in inflight:
            try:
                future.result()
            except Exception:  # noqa: BLE001 - outcomes live in the records
                pass

    def _tick(self) -> None:
        self._reap()
        if not self._closed:
            self._run_due()

