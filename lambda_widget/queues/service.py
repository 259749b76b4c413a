"""A manager's queue service: its SQS client, its event source mappings, and how they follow the clock.

``lambda_widget.front.sqs.endpoint(mgr)`` makes one per manager, with the SQS endpoint it talks to; the
service needs only the endpoint's ``url``, ``sync_clock()``, ``stats()`` and ``reset()``.
"""

from __future__ import annotations

import datetime
import random
import threading
import uuid as uuid_module
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from traitlets import HasTraits, Int

from lambda_widget.engine.errors import InvalidParameterValueException, ResourceNotFoundException
from lambda_widget.engine.records import bump
from lambda_widget.placement.esm import DEFAULT_BATCH_SIZE, MappingConfigError, check_mapping
from lambda_widget.queues.filters import parse_filters
from lambda_widget.queues.mapping import EventSourceMapping

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager

NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist.")
NOT_FOUND = "The resource you requested does not exist."
SAMPLE_INTERVAL = 0.5   # real clock: the queue panel's series, a point this often
MAX_SERIES = 4000


class SqsBackend(Protocol):
    url: str

    def sync_clock(self) -> None: ...

    def epoch(self) -> float: ...

    def stats(self) -> list[dict[str, Any]]: ...

    def reset(self) -> None: ...

    def receive(self, queue: str, count: int) -> list[dict[str, Any]]: ...

    def delete(self, queue: str, handles: list[str]) -> int: ...

    def visible(self, queue: str) -> int: ...


class QueueService(HasTraits):
    """The event source mappings of one manager, their pollers, and the SQS client they share.
    ``revision`` goes up whenever a mapping or its series changes (the queue panel follows it)."""

    revision = Int(0)

    def __init__(self, mgr: ContainerManager, sqs: SqsBackend) -> None:
        import boto3
        from botocore.config import Config

        super().__init__()
        self.mgr = mgr
        self.sqs = sqs
        self.client = boto3.session.Session().client(
            "sqs", endpoint_url=sqs.url, region_name=mgr.region, aws_access_key_id="lambda-widget",
            aws_secret_access_key="lambda-widget",
            config=Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 2},
                          connect_timeout=10, read_timeout=120))
        self.cond = threading.Condition(threading.RLock())
        self.mappings: dict[str, EventSourceMapping] = {}
        self.epoch = 0
        self.running = not mgr.clock.virtual  # a virtual clock: the pollers work while settling only
        self._rng = random.Random(f"{mgr.seed}-esm") if mgr.seed is not None else random.Random()
        self._closed = False
        self._sampler: threading.Thread | None = None

    # ------------------------------------------------------------------ mappings
    def create(self, queue: str, function: str, *, batch_size: int | None = None, window: int = 0,
               maximum_concurrency: int | None = None, report_failures: bool = False, filters: Any = None,
               enabled: bool = True, function_arn: str | None = None) -> EventSourceMapping:
        """Create and start a mapping (AWS's checks, AWS's messages); see ``lw.event_source``."""
        self._check_open()
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE
        # In AWS's order: the settings (a FIFO queue is known by its name), the filters, the function, and
        # only then the queue itself.
        name, _ = _queue_name(queue, self.mgr.account_id) if isinstance(queue, str) else (None, None)
        check_mapping(batch_size=batch_size, window=window, maximum_concurrency=maximum_concurrency,
                      fifo=bool(name) and name.endswith(".fifo"))
        texts, patterns = parse_filters(filters)
        fn = self._function(function)
        queue_info = self.resolve(queue)
        check_mapping(batch_size=batch_size, window=window, maximum_concurrency=maximum_concurrency,
                      fifo=queue_info["fifo"], function_timeout=fn.timeout,
                      visibility_timeout=queue_info["visibility_timeout"])
        with self.cond:
            for other in self.mappings.values():
                if other.queue_arn == queue_info["arn"] and other.function_name == fn.name:
                    raise MappingConfigError(
                        "ResourceConflictException",
                        f'An event source mapping with SQS arn (" {other.queue_arn} ") and function '
                        f'(" {fn.name} ") already exists. Please update or delete the existing mapping with '
                        f"UUID {other.uuid}")
            uuid = str(uuid_module.UUID(int=self._rng.getrandbits(128), version=4))
            mapping = EventSourceMapping(
                self, uuid=uuid, queue=queue_info, function=fn.name,
                function_arn=function_arn or fn.arn(self.mgr.region, self.mgr.account_id),
                batch_size=batch_size, window=window, maximum_concurrency=maximum_concurrency,
                report_failures=bool(report_failures), filter_texts=texts, filters=patterns,
                enabled=bool(enabled))
            self.mappings[uuid] = mapping
        mapping.start()
        self._start_sampler()
        self._changed()
        return mapping

    def update(self, uuid: str, **changes: Any) -> EventSourceMapping:
        """Change a mapping: ``batch_size``, ``window``, ``maximum_concurrency`` (0 or None: none),
        ``report_failures``, ``filters``, ``enabled``, ``function``; checked as a new one would be."""
        mapping = self.get(uuid)
        unknown = set(changes) - {"batch_size", "window", "maximum_concurrency", "report_failures", "filters",
                                  "enabled", "function", "function_arn"}
        if unknown:
            raise InvalidParameterValueException(f"cannot change {', '.join(sorted(unknown))} of a mapping")
        batch_size = changes.get("batch_size", mapping.batch_size)
        window = changes.get("window", mapping.window)
        maximum = changes.get("maximum_concurrency", mapping.maximum_concurrency) or None
        fn = self._function(changes.get("function", mapping.function_name))
        check_mapping(batch_size=batch_size, window=window, maximum_concurrency=maximum, fifo=mapping.fifo,
                      function_timeout=fn.timeout, visibility_timeout=mapping.visibility_timeout)
        texts, patterns = (parse_filters(changes["filters"]) if "filters" in changes
                           else (mapping.filter_texts, mapping.filters))
        with self.cond:
            mapping.batch_size, mapping.window = batch_size, window
            mapping.maximum_concurrency = maximum
            mapping.scaling.set_maximum(maximum)
            mapping.filter_texts, mapping.filters = texts, patterns
            if "report_failures" in changes:
                mapping.report_failures = bool(changes["report_failures"])
            if "enabled" in changes:
                if changes["enabled"] and not mapping.enabled:
                    mapping.polling_since = self.mgr.clock.now()
                mapping.enabled = bool(changes["enabled"])
            if "function" in changes:
                mapping.function_name = fn.name
                mapping.function_arn = changes.get("function_arn") or fn.arn(self.mgr.region, self.mgr.account_id)
            mapping.last_modified = datetime.datetime.now(datetime.timezone.utc)
        self._changed()
        return mapping

    def remove(self, uuid: str) -> EventSourceMapping:
        """Stop and forget a mapping (DeleteEventSourceMapping); batches already running finish (and delete what succeeded)."""
        mapping = self.get(uuid)
        mapping.stop()
        with self.cond:
            self.mappings.pop(uuid, None)
            self.cond.notify_all()
        return mapping

    def get(self, uuid: str) -> EventSourceMapping:
        with self.cond:
            mapping = self.mappings.get(uuid)
        if mapping is None:
            raise MappingConfigError("ResourceNotFoundException", NOT_FOUND)
        return mapping

    def list(self, queue: str | None = None, function: str | None = None) -> list[EventSourceMapping]:
        with self.cond:
            found = list(self.mappings.values())
        if queue is not None:
            found = [m for m in found if queue in (m.queue_arn, m.queue_name, m.queue_url)]
        if function is not None:
            found = [m for m in found if function in (m.function_name, m.function_arn)]
        return found

    def _function(self, name: str) -> Any:
        try:
            return self.mgr.function(name)
        except ResourceNotFoundException:
            known = ", ".join(sorted(self.mgr.functions)) or "none yet"
            raise MappingConfigError("InvalidParameterValueException", "Function does not exist",
                                     hint=f"{name!r}; registered: {known}") from None

    # ------------------------------------------------------------------ the queue, through SQS
    def resolve(self, queue: str) -> dict[str, Any]:
        """A queue named by ARN, URL or name: its name, ARN, URL, FIFO-ness and visibility timeout."""
        from botocore.exceptions import ClientError

        if not isinstance(queue, str) or not queue:
            raise MappingConfigError("InvalidParameterValueException", "Unrecognized event source.",
                                     hint=f"give a queue's name, URL or ARN, not {queue!r}")
        name, account = _queue_name(queue, self.mgr.account_id)
        if name is None:
            raise MappingConfigError("InvalidParameterValueException", "Unrecognized event source.",
                                     hint=f"{queue!r} is not an SQS queue's name, URL or ARN")
        if account != self.mgr.account_id or (queue.startswith("arn:") and queue.split(":")[3] != self.mgr.region):
            raise MappingConfigError("InvalidParameterValueException", NO_QUEUE, hint=queue)
        try:
            url = self.client.get_queue_url(QueueName=name)["QueueUrl"]
            attrs = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        except ClientError:
            names = ", ".join(sorted(q["name"] for q in self.sqs.stats())) or "none yet"
            raise MappingConfigError("InvalidParameterValueException", NO_QUEUE,
                                     hint=f"{name!r}; queues: {names}") from None
        return {"name": name, "arn": attrs["QueueArn"], "url": url,
                "fifo": attrs.get("FifoQueue", "false") == "true",
                "visibility_timeout": float(attrs.get("VisibilityTimeout", 30))}

    def receive(self, mapping: EventSourceMapping, count: int) -> list[dict[str, Any]] | None:
        """Up to ``count`` messages (a short poll, the queue's visibility timeout); None if the queue is gone."""
        try:
            messages = self.sqs.receive(mapping.queue_name, count)
        except Exception as exc:  # noqa: BLE001 - the queue was deleted, or the endpoint is closing
            mapping.problem = f"cannot receive from {mapping.queue_name}: {exc}"
            return None
        mapping.problem = ""
        return messages

    def delete_messages(self, mapping: EventSourceMapping, messages: list[dict[str, Any]]) -> int:
        """Delete messages; returns how many SQS refused (e.g. received again meanwhile)."""
        try:
            return self.sqs.delete(mapping.queue_name, [m["ReceiptHandle"] for m in messages])
        except Exception:  # noqa: BLE001 - the queue was deleted: nothing left to delete
            return len(messages)

    def visible(self, mapping: EventSourceMapping) -> int:
        return self.sqs.visible(mapping.queue_name)

    # ------------------------------------------------------------------ the clock
    def settle(self, invocations: bool = True) -> None:
        """Let every poller do what is due now; return when all are idle (and, with ``invocations``,
        every batch they started has finished). On a virtual clock this is the only time pollers work."""
        if self._closed:
            return
        with self.cond:
            self.running = True
            self.epoch += 1
            self.cond.notify_all()
            try:
                while True:
                    live = [m for m in self.mappings.values() if not m.stopped]
                    busy = [m for m in live if m.idle_epoch < self.epoch]
                    running = sum(m.inflight for m in live) if invocations else 0
                    if not busy and not running:
                        break
                    self.cond.wait(timeout=1.0)
            finally:
                self.running = not self.mgr.clock.virtual
        self.sample()

    def settle_if_virtual(self) -> None:
        """On a virtual clock, let the pollers do what is due now (a real clock's pollers just run)."""
        if self.mgr.clock.virtual:
            self.settle()

    def advanced(self) -> None:
        """The manager's clock moved (``advance()``): the SQS server learns it, then the pollers catch up."""
        self.sqs.sync_clock()
        self.settle()

    def reset(self) -> None:
        """``reset()``: every mapping and queue is forgotten; the new clock reaches the SQS server."""
        with self.cond:
            mappings = list(self.mappings.values())
            self.mappings.clear()
        for mapping in mappings:
            mapping.stop()
        self.sqs.reset()
        self.sqs.sync_clock()
        with self.cond:
            self.running = not self.mgr.clock.virtual
            self._rng = random.Random(f"{self.mgr.seed}-esm") if self.mgr.seed is not None else random.Random()
            self.cond.notify_all()
        self._changed()

    def close(self) -> None:
        with self.cond:
            if self._closed:
                return
            self._closed = True
            mappings = list(self.mappings.values())
            self.cond.notify_all()
        for mapping in mappings:
            mapping.stop()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this manager's queue service has been closed")

    # ------------------------------------------------------------------ the record of the queues over time
    def sample(self) -> None:
        """Record a point of every mapping's series: its queue's messages, its dead-letter queue, its pollers."""
        with self.cond:
            mappings = list(self.mappings.values())
        if not mappings or self._closed:
            return
        try:
            queues = {q["arn"]: q for q in self.sqs.stats()}
        except Exception:  # noqa: BLE001 - the endpoint is closing
            return
        now = self.mgr.clock.now()
        with self.cond:
            for m in mappings:
                q = queues.get(m.queue_arn)
                if q is None:
                    continue
                dlq = queues.get(q.get("dead_letter_arn") or "")
                point = {"t": now, "visible": q["visible"], "in_flight": q["in_flight"], "delayed": q["delayed"],
                         "dead_letter": (dlq["visible"] + dlq["in_flight"] + dlq["delayed"]) if dlq else 0,
                         "oldest_age_s": q["oldest_age_s"], "pollers": m.scaling.tick(now),
                         "batches": m.concurrent_batches}
                m.visibility_timeout = q["visibility_timeout"]
                m.dead_letter_arn = q.get("dead_letter_arn")
                m.max_receive_count = q.get("max_receive_count")
                if m.series and m.series[-1]["t"] == now:
                    m.series[-1] = point
                else:
                    m.series.append(point)
                if len(m.series) > MAX_SERIES:
                    m.series[:] = m.series[::2]
        self._changed()

    def _start_sampler(self) -> None:
        if self._sampler is not None or self.mgr.clock.virtual:
            self.sample()
            return
        self._sampler = threading.Thread(target=self._sample_loop, name="lw-esm-sampler", daemon=True)
        self._sampler.start()

    def _sample_loop(self) -> None:
        while True:
            with self.cond:
                if self._closed:
                    return
                self.cond.wait(timeout=SAMPLE_INTERVAL)
                if self._closed:
                    return
                quiet = self.mgr.clock.virtual or not self.mappings
            if not quiet:
                self.sample()

    def _changed(self) -> None:
        bump(self)


def _queue_name(spec: str, default_account: str) -> tuple[str | None, str]:
    """(queue name, account) from an ARN, a queue URL or a bare name."""
    if spec.startswith("arn:"):
        parts = spec.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            return None, default_account
        return parts[5], parts[4]
    if "://" in spec:
        path = [p for p in urlsplit(spec).path.split("/") if p]
        if len(path) != 2:
            return None, default_account
        return path[1], path[0]
    if "/" in spec or ":" in spec:
        return None, default_account
    return spec, default_account

