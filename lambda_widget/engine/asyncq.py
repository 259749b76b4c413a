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
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager
    from lambda_widget.engine.records import Function, Invocation

RETRY_DELAYS = (60.0, 120.0)
THROTTLE_BACKOFF_MAX = 300.0
MAX_ASYNC_REQUEST = 1024 * 1024
FUNCTION_ERRORS = ("failed", "timed-out", "crashed", "out-of-memory")


def destination_record(fn: Function, first: Invocation, last: Invocation, condition: str,
                       attempts: int, arn: str) -> dict[str, Any]:
    """The record an on-success / on-failure destination receives."""
    now = datetime.datetime.now(datetime.timezone.utc)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": first.request_id,
            "functionArn": f"{arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": first.event,
    }
    if condition == "Success":
        record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST"}
        record["responsePayload"] = last.result
    elif attempts:
        record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST",
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

    def pending(self) -> int:
        with self._lock:
            return len(self._heap)

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()
