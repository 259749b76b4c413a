"""The SQS event source mapping's rules: plain decisions, shared by the engine's pollers and the simulator.

No processes, no clocks of their own, no I/O: every function takes the time it decides at. The engine's
pollers (``lambda_widget.queues``) and the traffic lab's queue (``lambda_widget.traffic.queue``) both
ask these objects, so a small case gives the same batches, scaling and dead-letter moves in both.

What AWS documents (services-sqs-scaling, services-sqs-errorhandling, services-sqs-parameters):

- **Pollers.** When messages are available, Lambda processes five batches at a time. While messages
  remain it adds up to 300 more concurrent batches a minute, up to 1,000. When the queue is quiet it scales
  back to five. ``MaximumConcurrency`` (2-1,000) caps the concurrent batches. A function error or a throttle
  makes Lambda back off, reducing the concurrency it allocates.
- **Batches.** Up to ``BatchSize`` messages (1-10,000 for standard queues, 1-10 for FIFO), gathered for up
  to ``MaximumBatchingWindowInSeconds`` (0-300; a batch over 10 needs a window, FIFO queues take none),
  and never more than the 6 MB synchronous payload.
- **Failure.** A failed batch stays invisible until the queue's visibility timeout passes, then is received
  again; SQS moves a message to the dead-letter queue once it has been received ``maxReceiveCount`` times.
  With ``ReportBatchItemFailures`` only the messages the function names come back. A throttled batch is
  retried with backoff until its visibility timeout would pass.

Where AWS is silent, the model is: the ramp steps at each full minute since the pollers first saw messages;
a minute with a throttle or a function error does not step up, and each one takes one concurrent batch
away (never below the starting five); a minute that ends with an empty receive goes back to five.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

INITIAL_CONCURRENCY = 5
SCALE_STEP = 300             # more concurrent batches ...
SCALE_INTERVAL = 60.0        # ... per this many seconds while messages remain
MAX_CONCURRENCY = 1000
MIN_MAXIMUM_CONCURRENCY = 2  # ScalingConfig.MaximumConcurrency: 2-1,000
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_STANDARD = 10_000
MAX_BATCH_FIFO = 10
MAX_WINDOW = 300
RECEIVE_MAX = 10             # SQS ReceiveMessage returns at most 10 messages a call
PAYLOAD_LIMIT = 6_291_456    # a batch is one synchronous invocation: 6 MB
ENVELOPE_BYTES = len('{"Records": []}')
THROTTLE_BACKOFF_FIRST = 1.0
THROTTLE_BACKOFF_MAX = 60.0
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class MappingConfigError(ValueError):
    """A request about a mapping that AWS refuses: ``code`` is the API's exception name, ``message`` its
    text; ``hint`` adds what helps in a notebook (the API answers ``message`` alone)."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message + (f" ({hint})" if hint else ""))
        self.code = code
        self.message = message
        self.hint = hint


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _constraint(name: str, value: Any, rule: str) -> MappingConfigError:
    return MappingConfigError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: {rule}")


def check_mapping(*, batch_size: Any, window: Any, maximum_concurrency: Any = None, fifo: bool = False,
                  function_timeout: float | None = None, visibility_timeout: float | None = None) -> None:
    """Raise :class:`MappingConfigError` with AWS's message if CreateEventSourceMapping would refuse this."""
    if not _whole(batch_size):
        raise _constraint("batchSize", batch_size, "Member must be a whole number")
    if batch_size < 1:
        raise _constraint("batchSize", batch_size, "Member must have value greater than or equal to 1")
    if batch_size > MAX_BATCH_STANDARD:
        raise _constraint("batchSize", batch_size,
                          f"Member must have value less than or equal to {MAX_BATCH_STANDARD}")
    if not _whole(window):
        raise _constraint("maximumBatchingWindowInSeconds", window, "Member must be a whole number")
    if window < 0:
        raise _constraint("maximumBatchingWindowInSeconds", window,
                          "Member must have value greater than or equal to 0")
    if window > MAX_WINDOW:
        raise _constraint("maximumBatchingWindowInSeconds", window,
                          f"Member must have value less than or equal to {MAX_WINDOW}")
    if maximum_concurrency is not None:
        name = "scalingConfig.maximumConcurrency"
        if not _whole(maximum_concurrency):
            raise _constraint(name, maximum_concurrency, "Member must be a whole number")
        if maximum_concurrency < MIN_MAXIMUM_CONCURRENCY:
            raise _constraint(name, maximum_concurrency,
                              f"Member must have value greater than or equal to {MIN_MAXIMUM_CONCURRENCY}")
        if maximum_concurrency > MAX_CONCURRENCY:
            raise _constraint(name, maximum_concurrency,
                              f"Member must have value less than or equal to {MAX_CONCURRENCY}")
    if batch_size > RECEIVE_MAX and window == 0:
        raise MappingConfigError("InvalidParameterValueException",
                                 "Maximum batch window in seconds must be greater than 0 if maximum batch "
                                 "size is greater than 10")
    if fifo and window > 0:
        raise MappingConfigError("InvalidParameterValueException",
                                 "Batching window is not supported for FIFO queues")
    if function_timeout is not None and visibility_timeout is not None and visibility_timeout < function_timeout:
        raise MappingConfigError("InvalidParameterValueException",
                                 f"Queue visibility timeout: {visibility_timeout:g} seconds is less than "
                                 f"Function timeout: {function_timeout:g} seconds")


# ---------------------------------------------------------------------- pollers
class PollerScaling:
    """How many batches a mapping processes at once, over time (one object per mapping or simulation).

    The pollers report what they see with :meth:`saw`: ``"backlog"`` (messages were waiting while every
    concurrent batch was taken), ``"quiet"`` (a receive came back empty), ``"throttle"`` or ``"error"``.
    :meth:`tick` applies the minute steps due by ``now`` and returns the concurrent batches allowed.
    Between two observations nothing changed (on a virtual clock nothing runs between them), so a
    minute without one keeps the state last seen.
    """

    def __init__(self, maximum_concurrency: int | None = None) -> None:
        self.cap = MAX_CONCURRENCY if maximum_concurrency is None else int(maximum_concurrency)
        self.floor = min(INITIAL_CONCURRENCY, self.cap)
        self.target = self.floor
        self.anchor: float | None = None   # start of the current minute (None: not ramping)
        self.state: str | None = None      # "backlog" | "quiet": what the pollers saw last
        self.backed_off = False            # a throttle or error in the current minute

    def set_maximum(self, maximum_concurrency: int | None) -> None:
        """UpdateEventSourceMapping's new ScalingConfig."""
        self.cap = MAX_CONCURRENCY if maximum_concurrency is None else int(maximum_concurrency)
        self.floor = min(INITIAL_CONCURRENCY, self.cap)
        self.target = max(self.floor, min(self.target, self.cap))

    def saw(self, what: str, now: float) -> None:
        if what not in ("backlog", "quiet", "throttle", "error"):
            raise ValueError(f"unknown observation {what!r}")
        self.tick(now)
        if what in ("throttle", "error"):
            self.backed_off = True
            self.target = max(self.floor, self.target - 1)
            if self.anchor is None:
                self.anchor = now
            return
        if what == "backlog" and self.anchor is None:
            self.anchor = now
        self.state = what

    def tick(self, now: float) -> int:
        """Apply every minute that ended by ``now``; the concurrent batches allowed at ``now``."""
        while self.anchor is not None and now >= self.anchor + SCALE_INTERVAL - 1e-9:
            if self.state == "backlog" and not self.backed_off:
                self.target = min(self.cap, self.target + SCALE_STEP)
            elif self.state == "quiet":
                self.target = self.floor
                self.anchor = None
                self.backed_off = False
                break
            self.backed_off = False
            self.anchor += SCALE_INTERVAL
        return self.target

    def next_step_at(self) -> float | None:
        """When the next minute ends (None: no ramp under way)."""
        return None if self.anchor is None else self.anchor + SCALE_INTERVAL

    def to_dict(self) -> dict[str, Any]:
        return {"concurrent_batches": self.target, "maximum": self.cap, "floor": self.floor,
                "state": self.state, "minute_started_at": self.anchor}


# ---------------------------------------------------------------------- batches
def record_bytes(record: dict[str, Any]) -> int:
    """What one record adds to the batch's JSON payload (with its separator)."""
    return len(json.dumps(record)) + 2


@dataclass
class BatchWindow:
    """One batch being gathered: when it opened, how many messages and bytes it holds."""

    batch_size: int
    window: float
    opened_at: float | None = None
    count: int = 0
    nbytes: int = ENVELOPE_BYTES

    def fits(self, nbytes: int) -> bool:
        """May a record of ``nbytes`` join without passing the 6 MB payload? (The first always may.)"""
        return self.count == 0 or self.nbytes + nbytes <= PAYLOAD_LIMIT

    def add(self, nbytes: int, at: float) -> None:
        """A record joins; the first one opens the window at ``at`` (when it arrived)."""
        if self.opened_at is None:
            self.opened_at = at
        self.count += 1
        self.nbytes += nbytes

    def wanted(self) -> int:
        """How many messages to ask the next receive for."""
        return max(0, min(RECEIVE_MAX, self.batch_size - self.count))

    def closes_at(self) -> float | None:
        return None if self.opened_at is None else self.opened_at + self.window

    def closed(self, now: float, *, overflow: bool = False) -> str | None:
        """Why the batch is invoked now (``"full"``, ``"payload"``, ``"window"``, ``"available"``), or None
        to keep gathering. ``overflow``: a received record did not fit. With no window a batch goes as soon
        as a receive has returned what there was (``"available"``).
        """
        if self.count == 0:
            return None
        if self.count >= self.batch_size:
            return "full"
        if overflow:
            return "payload"
        if self.window <= 0:
            return "available"
        if now >= self.opened_at + self.window - 1e-9:
            return "window"
        return None


@dataclass
class BatchOutcome:
    """What the mapping does with a batch after its invocation."""

    delete: list[str] = field(default_factory=list)   # message ids to delete
    retry: list[str] = field(default_factory=list)    # message ids left to come back after the timeout
    failed: bool = False                               # the batch (or part of it) failed
    reported: bool = False                             # the function named the failures (a partial response)
    note: str = ""                                     # why, in words


FUNCTION_ERRORS = ("failed", "timed-out", "crashed", "out-of-memory", "cancelled")


def batch_outcome(status: str, result: Any, message_ids: list[str], *, report_failures: bool) -> BatchOutcome:
    """Which messages of a batch are deleted and which come back (AWS's partial batch response rules).

    ``status`` is the invocation's (``succeeded``, ``failed``, ``timed-out``...; throttles are retried
    before they get here). With ``report_failures``, a result whose ``batchItemFailures`` is missing,
    ``None`` or empty is a full success; a list of ``{"itemIdentifier": id}`` of this batch's messages
    returns just those; anything else (not a list, an item without a known id) fails the whole batch.
    """
    ids = list(message_ids)
    if status != "succeeded":
        return BatchOutcome(retry=ids, failed=True, note=f"the invocation {status}: every message comes back")
    if not report_failures or result is None:
        return BatchOutcome(delete=ids)
    if not isinstance(result, dict):
        return BatchOutcome(retry=ids, failed=True,
                            note=f"ReportBatchItemFailures: the response is a {type(result).__name__}, not an "
                                 f"object with batchItemFailures; the whole batch comes back")
    items = result.get("batchItemFailures")
    if items is None or items == []:
        return BatchOutcome(delete=ids)
    if not isinstance(items, list):
        return BatchOutcome(retry=ids, failed=True,
                            note="ReportBatchItemFailures: batchItemFailures is not a list; the whole batch "
                                 "comes back")
    known = set(ids)
    failed: list[str] = []
    for i, item in enumerate(items):
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return BatchOutcome(retry=ids, failed=True,
                                note=f"ReportBatchItemFailures: item {i} of batchItemFailures has no "
                                     f"itemIdentifier; the whole batch comes back")
        if identifier not in known:
            return BatchOutcome(retry=ids, failed=True,
                                note=f"ReportBatchItemFailures: item {i} names {identifier!r}, not a message of "
                                     f"this batch; the whole batch comes back")
        if identifier not in failed:
            failed.append(identifier)
    keep = set(failed)
    return BatchOutcome(delete=[m for m in ids if m not in keep], retry=[m for m in ids if m in keep],
                        failed=True, reported=True, note=f"{len(keep)} of {len(ids)} reported failed")


def throttle_retry_at(now: float, attempt: int, deadline: float) -> float | None:
    """When to retry a throttled batch (backoff 1 s, 2 s, 4 s ... 60 s), or None: its visibility timeout
    passes first, and the messages go back to the queue."""
    delay = min(THROTTLE_BACKOFF_MAX, THROTTLE_BACKOFF_FIRST * 2.0 ** max(0, attempt - 1))
    at = now + delay
    return at if at < deadline - 1e-9 else None


def to_dead_letter(receive_count: int, max_receive_count: int | None) -> bool:
    """SQS's redrive rule, as a receive applies it: a message already received ``maxReceiveCount`` times
    moves to the dead-letter queue instead of being delivered again."""
    return max_receive_count is not None and receive_count >= max_receive_count
