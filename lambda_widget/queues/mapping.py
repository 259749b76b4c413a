"""One SQS event source mapping: its configuration, its poller, and the record of every batch.

The poller is one thread per mapping. It receives messages from the queue (through the SQS endpoint, as
any client does), gathers them into batches by the placement rules (:mod:`lambda_widget.placement.esm`),
invokes the function with each batch through ``ContainerManager.submit`` (so the batch is an ordinary,
synchronous invocation: same routing, cold starts, throttles and history), and then deletes what
succeeded. As many batches run at once as the scaling rule allows.

Time is the manager's clock. On a real clock the poller runs by itself. On a virtual clock it works only
while the service settles (``advance()``, creating or changing a mapping): then everything due at that
moment happens, and nothing in between, so a lesson gets the same batches on every run.
"""

from __future__ import annotations

import datetime
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_widget.events import sqs_record
from lambda_widget.placement.esm import (
    RECEIVE_MAX,
    BatchWindow,
    PollerScaling,
    batch_outcome,
    record_bytes,
    throttle_retry_at,
)
from lambda_widget.queues.filters import matches

if TYPE_CHECKING:
    from lambda_widget.queues.service import QueueService

POLL_INTERVAL = 0.5       # real clock: an idle poller looks again this often (seconds)
MAX_BATCH_RECORDS = 2000  # batches kept in a mapping's record (the counters keep everything)


@dataclass
class Batch:
    """Messages received together and sent to the function as one event."""

    number: int
    received_at: float       # when its first message was received
    visibility_timeout: float
    messages: list[dict[str, Any]] = field(default_factory=list)   # as ReceiveMessage returned them
    records: list[dict[str, Any]] = field(default_factory=list)    # as the event carries them
    window: BatchWindow | None = None
    closed: str = ""
    attempts: int = 0
    retry_at: float | None = None
    invocations: list[Any] = field(default_factory=list)
    status: str = "gathering"
    deleted: int = 0
    returned: int = 0
    note: str = ""
    ended_at: float | None = None


    @property
    def deadline(self) -> float:
        """When the first message's visibility timeout passes: SQS then delivers it again."""
        return self.received_at + self.visibility_timeout

    def ids(self) -> list[str]:
        return [m["MessageId"] for m in self.messages]

    def to_dict(self) -> dict[str, Any]:
        last = self.invocations[-1] if self.invocations else None
        return {"batch": self.number, "size": len(self.messages), "bytes": self.window.nbytes if self.window else 0,
                "message_ids": self.ids(), "closed": self.closed,
                "opened_at": self.window.opened_at if self.window else None,
                "ended_at": self.ended_at, "status": self.status, "attempts": len(self.invocations),
                "invocation": last.number if last is not None else None,
                "request_id": last.request_id if last is not None else None,
                "deleted": self.deleted, "returned": self.returned, "note": self.note}


class EventSourceMapping:
    """An SQS queue wired to a function. Attributes are the configuration; ``to_dict()`` is plain data."""

    def __init__(self, service: QueueService, *, uuid: str, queue: dict[str, Any], function: str,
                 function_arn: str, batch_size: int, window: int, maximum_concurrency: int | None,
                 report_failures: bool, filter_texts: list[str], filters: list[dict[str, Any]],
                 enabled: bool) -> None:
        self.service = service
        self.uuid = uuid
        self.queue_name = queue["name"]
        self.queue_arn = queue["arn"]
        self.queue_url = queue["url"]
        self.fifo = queue["fifo"]
        self.visibility_timeout = queue["visibility_timeout"]
        self.function_name = function
        self.function_arn = function_arn
        self.batch_size = batch_size
        self.window = window
        self.maximum_concurrency = maximum_concurrency
        self.report_failures = report_failures
        self.filter_texts = filter_texts
        self.filters = filters
        self.enabled = enabled
        self.created_at = service.mgr.clock.now()
        self.polling_since = self.created_at  # since when it polls (creation, or being enabled again)
        self.last_modified = datetime.datetime.now(datetime.timezone.utc)
        self.scaling = PollerScaling(maximum_concurrency)
        self.batches: list[Batch] = []
        self.series: list[dict[str, Any]] = []
        self.counters = {"received": 0, "batches": 0, "invocations": 0, "deleted": 0, "returned": 0,
                         "filtered": 0, "throttles": 0, "failed_batches": 0}
        self.problem = ""           # why the poller cannot work now (a deleted queue or function)
        self._numbers = itertools.count(1)
        self._gathering: Batch | None = None
        self._carry: list[dict[str, Any]] = []  # received but not yet in a batch (did not fit the last)
        self._inflight: dict[int, Batch] = {}
        self._waiting: list[Batch] = []         # throttled, to be retried
        self._last_backlog_check: float | None = None
        self.idle_epoch = -1
        self.stopped = False
        self._thread = threading.Thread(target=self._run, name=f"lw-esm-{uuid[:8]}", daemon=True)

    # ------------------------------------------------------------------ records
    @property
    def concurrent_batches(self) -> int:
        """Batches being gathered, running or waiting to be retried now."""
        return len(self._inflight) + len(self._waiting) + (1 if self._gathering is not None else 0)

    @property
    def inflight(self) -> int:
        """Batches whose invocation has been submitted and not finished."""
        return len(self._inflight)

    def to_dict(self) -> dict[str, Any]:
        with self.service.cond:
            return {
                "uuid": self.uuid, "queue": self.queue_name, "queue_arn": self.queue_arn, "fifo": self.fifo,
                "function": self.function_name, "function_arn": self.function_arn,
                "batch_size": self.batch_size, "batching_window": self.window,
                "maximum_concurrency": self.maximum_concurrency,
                "report_batch_item_failures": self.report_failures, "filters": list(self.filter_texts),
                "enabled": self.enabled, "problem": self.problem,
                "visibility_timeout": self.visibility_timeout,
                "scaling": self.scaling.to_dict(), "concurrent_batches": self.concurrent_batches,
                "counters": dict(self.counters), "batches": [b.to_dict() for b in self.batches],
                "series": [dict(p) for p in self.series],
            }

    def update(self, *, batch_size: int | None = None, batching_window: int | None = None,
               maximum_concurrency: int | None = None, report_batch_item_failures: bool | None = None,
               filters: Any = None, enabled: bool | None = None) -> EventSourceMapping:
        """Change this mapping, as UpdateEventSourceMapping does (``maximum_concurrency=0`` removes the cap,
        ``filters=[]`` the filters). On a virtual clock the pollers then do what is due now."""
        changes: dict[str, Any] = {}
        for key, value in (("batch_size", batch_size), ("window", batching_window),
                           ("maximum_concurrency", maximum_concurrency), ("report_failures", report_batch_item_failures),
                           ("filters", filters), ("enabled", enabled)):
            if value is not None:
                changes[key] = value
        self.service.update(self.uuid, **changes)
        self.service.settle_if_virtual()
        return self

    def delete(self) -> None:
        """Stop polling and forget this mapping (DeleteEventSourceMapping)."""
        self.service.remove(self.uuid)

    def __repr__(self) -> str:
        return (f"<EventSourceMapping {self.queue_name} -> {self.function_name} "
                f"batch {self.batch_size}{' enabled' if self.enabled else ' disabled'}>")

    # ------------------------------------------------------------------ the poller
    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        with self.service.cond:
            self.stopped = True
            self.service.cond.notify_all()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        svc = self.service
        while True:
            with svc.cond:
                if self.stopped:
                    return
                if not svc.running:
                    svc.cond.wait()
                    continue
                epoch = svc.epoch
            try:
                worked = self._step()
            except Exception as exc:  # noqa: BLE001 - the poller must outlive a bad moment
                worked = False
                self.problem = f"{type(exc).__name__}: {exc}"
            with svc.cond:
                if worked:
                    continue
                self.idle_epoch = epoch
                svc.cond.notify_all()
                if self.stopped or svc.epoch != epoch:
                    continue
                svc.cond.wait(timeout=self._sleep())

    def _sleep(self) -> float | None:
        """How long an idle poller waits (None: until woken, as on a virtual clock)."""
        clock = self.service.mgr.clock
        if clock.virtual:
            return None
        now = clock.now()
        due = [POLL_INTERVAL]
        for at in (self.scaling.next_step_at(), self._gathering.window.closes_at() if self._gathering and
                   self._gathering.window else None, *[b.retry_at for b in self._waiting]):
            if at is not None:
                due.append(max(0.0, at - now))
        return min(due)

    def _now(self) -> float:
        return self.service.mgr.clock.now()

    def _step(self) -> bool:
        """Do one thing that is due: retry a throttled batch, receive, or send a gathered batch.
        False when there is nothing to do until the clock moves or something finishes."""
        if not self.enabled or self.stopped:
            return False
        if self.function_name not in self.service.mgr.functions:
            self.problem = f"function {self.function_name} does not exist"
            return False
        now = self._now()
        with self.service.cond:
            target = self.scaling.tick(now)
            due = next((b for b in self._waiting if b.retry_at is not None and b.retry_at <= now + 1e-9), None)
            if due is not None:
                self._waiting.remove(due)
        if due is not None:
            self._invoke(due)
            return True
        if self._gathering is None and self.concurrent_batches >= target:
            self._check_backlog(now)
            return False
        return self._gather(now)

    def _check_backlog(self, now: float) -> None:
        """Every concurrent batch is taken: are messages waiting? (Once per clock moment, or second.)"""
        last = self._last_backlog_check
        if last is not None and (now == last or (not self.service.mgr.clock.virtual and now - last < 1.0)):
            return
        self._last_backlog_check = now
        try:
            waiting = self.service.visible(self)
        except Exception:  # noqa: BLE001 - e.g. the queue was deleted: no backlog to see
            return
        if waiting:
            with self.service.cond:
                self.scaling.saw("backlog", now)

    def _gather(self, now: float) -> bool:
        batch = self._gathering
        if batch is None:
            batch = Batch(0, now, self.visibility_timeout,
                          window=BatchWindow(self.batch_size, self.window))
        progressed = False
        overflow = False
        fresh = self._carry
        self._carry = []
        want = batch.window.wanted() - len(fresh)
        if want > 0:
            received = self.service.receive(self, min(want, RECEIVE_MAX))
            if received is None:  # the queue is gone: problem recorded
                self._carry = fresh
                return False
            fresh += received
            with self.service.cond:
                self.counters["received"] += len(received)
            progressed = bool(received)
        keep, drop = [], []
        for message in fresh:
            record = self.record(message)
            (keep if matches(self.filters, record) else drop).append((message, record))
        if drop:
            self.service.delete_messages(self, [m for m, _ in drop])
            with self.service.cond:
                self.counters["filtered"] += len(drop)
        for i, (message, record) in enumerate(keep):
            known = next((n for n, m in enumerate(batch.messages) if m["MessageId"] == message["MessageId"]), None)
            if known is not None:  # it came back while the window was open (the window outlasted the
                batch.messages[known], batch.records[known] = message, record  # visibility timeout)
                continue
            size = record_bytes(record)
            if not batch.window.fits(size):
                self._carry = [m for m, _ in keep[i:]]
                overflow = True
                break
            if not batch.messages:
                batch.received_at = now
            batch.window.add(size, self._arrival(message, now))  # the first one opens the window
            batch.messages.append(message)
            batch.records.append(record)
        if not batch.messages:
            self._gathering = None
            if not progressed:
                with self.service.cond:
                    self.scaling.saw("quiet", now)
            return progressed
        self._gathering = batch
        reason = batch.window.closed(now, overflow=overflow)
        if reason is None:
            return progressed
        batch.closed = reason
        batch.number = next(self._numbers)  # batches are numbered as they are sent
        self._gathering = None
        with self.service.cond:
            self.counters["batches"] += 1
            self._keep(batch)
        self._invoke(batch)
        return True

    def _arrival(self, message: dict[str, Any], now: float) -> float:
        """When a poller that never stops would have received ``message``: when it was sent, but not before
        this mapping was polling. (On a virtual clock pollers only look when the clock moves; a window
        still runs from then.)"""
        try:
            sent = int(message["Attributes"]["SentTimestamp"]) / 1000.0 - self.service.sqs.epoch()
        except (KeyError, TypeError, ValueError):
            return now
        return min(now, max(self.polling_since, sent))

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The event record of a received message."""
        return sqs_record(message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"],
                          body=message["Body"], attributes=_attributes(message),
                          message_attributes=message.get("MessageAttributes"), queue_arn=self.queue_arn,
                          md5_of_body=message.get("MD5OfBody"),
                          md5_of_message_attributes=message.get("MD5OfMessageAttributes"),
                          null_md5=self.window > 0)

    def _keep(self, batch: Batch) -> None:
        self.batches.append(batch)
        if len(self.batches) > MAX_BATCH_RECORDS:
            del self.batches[: len(self.batches) - MAX_BATCH_RECORDS]

    @property
    def qualifier(self) -> str | None:
        """The version or alias the mapping's FunctionArn names (``…:function:name:live``), or None."""
        parts = self.function_arn.split(":")
        return parts[7] if len(parts) == 8 else None

    # ------------------------------------------------------------------ invoking and finishing
    def _invoke(self, batch: Batch) -> None:
        mgr = self.service.mgr
        batch.status = "running"
        with self.service.cond:
            self._inflight[batch.number] = batch
        try:
            future = mgr.submit(self.function_name, {"Records": batch.records}, qualifier=self.qualifier)
        except Exception as exc:  # noqa: BLE001 - e.g. the function was deleted meanwhile
            self._finish(batch, None, f"{type(exc).__name__}: {exc}")
            return
        with self.service.cond:
            batch.invocations.append(future.invocation)
            self.counters["invocations"] += 1
        future.add_done_callback(lambda f: self._finish(batch, f.invocation, None))

    def _finish(self, batch: Batch, inv: Any, error: str | None) -> None:
        """An invocation ended (in a worker thread): delete what succeeded; the rest comes back."""
        try:
            self._settle_batch(batch, inv, error)
        finally:
            with self.service.cond:
                self._inflight.pop(batch.number, None)
                self.service.epoch += 1  # a free slot: the poller has work again
                self.service.cond.notify_all()

    def _settle_batch(self, batch: Batch, inv: Any, error: str | None) -> None:
        now = self._now()
        if inv is not None and inv.status == "throttled":
            batch.attempts += 1
            retry = throttle_retry_at(now, batch.attempts, batch.deadline)
            with self.service.cond:
                self.counters["throttles"] += 1
                self.scaling.saw("throttle", now)
                if retry is not None:
                    batch.retry_at = retry
                    batch.status = "throttled"
                    self._waiting.append(batch)
                    return
            batch.note = (f"throttled {batch.attempts} times until the visibility timeout: the messages go back "
                          f"to the queue")
            self._end(batch, "throttled", [], batch.ids(), now)
            return
        if inv is None:
            outcome = batch_outcome("failed", None, batch.ids(), report_failures=False)
            outcome.note = f"not invoked: {error}"
        else:
            outcome = batch_outcome(inv.status, inv.result, batch.ids(), report_failures=self.report_failures)
        if outcome.failed and not outcome.reported:  # a function error (a partial response is not one)
            with self.service.cond:
                self.scaling.saw("error", now)
                self.counters["failed_batches"] += 1
        batch.note = outcome.note
        by_id = {m["MessageId"]: m for m in batch.messages}
        if outcome.delete:
            self.service.delete_messages(self, [by_id[i] for i in outcome.delete])
        status = "succeeded" if not outcome.failed else ("partial" if outcome.reported else "failed")
        self._end(batch, status, outcome.delete, outcome.retry, now)

    def _end(self, batch: Batch, status: str, deleted: list[str], returned: list[str], now: float) -> None:
        with self.service.cond:
            batch.status = status
            batch.deleted, batch.returned = len(deleted), len(returned)
            batch.ended_at = now
            self.counters["deleted"] += len(deleted)
            self.counters["returned"] += len(returned)


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    """The record's ``attributes``, in the order AWS's sample events show them."""
    given = dict(message.get("Attributes") or {})
    order = ["ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
             "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp", "AWSTraceHeader"]
    out = {k: str(given.pop(k)) for k in order if k in given}
    out.update({k: str(v) for k, v in given.items()})
    return out

