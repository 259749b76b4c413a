"""The SQS endpoint: moto's SQS server in a process of its own, on the manager's clock.

    url = sqs_url(mgr)       # started on first use, closed with the manager
    boto3.client("sqs", endpoint_url=url, region_name=mgr.region, aws_access_key_id="local", ...)

Why moto's server, and why in its own process: moto is the maintained Python implementation of the SQS
API (visibility timeouts, receive counts, redrive to a dead-letter queue, FIFO message groups, message
attributes, size limits) that boto3 and the AWS CLI talk to unchanged. One process per manager gives each
manager its own queues (moto keeps its state in the process), keeps moto's imports and threads out of the
kernel, and lets a client that misbehaves hurt only that process. The manager's clock reaches it over the
process's stdin (``advance()`` and ``reset()`` send it), so visibility timeouts and message ages follow a
virtual clock too. See :mod:`lambda_widget.front.sqs_server` for what runs there.

Execution environments reach the endpoint through ``AWS_ENDPOINT_URL_SQS`` (set for every environment
initialised after it started) on loopback, which the sandbox shares.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

from lambda_widget.events import DEFAULT_TIME
from lambda_widget.front.server import LOOPBACK, is_loopback

if TYPE_CHECKING:
    from lambda_widget.engine.manager import ContainerManager
    from lambda_widget.queues import QueueService

START_TIMEOUT = 120.0   # moto's imports take seconds on a loaded machine
CALL_TIMEOUT = 60.0
ENV_VAR = "AWS_ENDPOINT_URL_SQS"
_lock = threading.Lock()


class SqsWarning(UserWarning):
    """The SQS endpoint's process went away; the manager goes on."""


class SqsError(RuntimeError):
    """The SQS endpoint's process failed to start or to answer, or refused a command (``code``)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def _sandbox_uids() -> list[list[int]]:
    """The host user ids of this kernel's sandboxed environments (isolation mode ``namespaces``)."""
    from lambda_widget.engine.isolation import SANDBOX_UID_BASE

    low = SANDBOX_UID_BASE + (os.getpid() % 100_000) * 1000
    return [[low, low + 1000]]


class SqsEndpoint:
    """moto's SQS server for one manager: ``url``, ``sync_clock()``, ``stats()``, ``reset()``, ``close()``."""

    kind = "SQS"

    def __init__(self, mgr: ContainerManager, host: str = LOOPBACK, port: int = 0) -> None:
        if not is_loopback(host):
            raise ValueError(f"the SQS endpoint listens on loopback only, not {host!r}")
        self.mgr = mgr
        self._call_lock = threading.Lock()
        self._closed = False
        self.service: QueueService | None = None
        config = {"host": host, "port": port, "account": mgr.account_id, "region": mgr.region,
                  "uids": _sandbox_uids(), "seed": mgr.seed, "clock": self._clock_state()}
        if importlib.util.find_spec("moto") is None:
            raise SqsError("the SQS endpoint is moto's SQS server, which is not installed: "
                           "pip install 'lambda_widget[queues]'")
        # What the server says on stderr (moto's warnings, a traceback) goes to a file the error quotes.
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "lambda_widget.front.sqs_server", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        try:
            hello = self._read(START_TIMEOUT, "start")
        except SqsError as exc:
            self._kill(keep_log=True)
            self._log.seek(0)
            tail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            self._log.close()
            raise SqsError("\n".join([str(exc), *tail])) from None
        self.host, self.port = host, int(hello["port"])
        self.url = f"http://{host}:{self.port}"

    # -- the control channel ------------------------------------------------------------
    def _read(self, timeout: float, what: str) -> dict[str, Any]:
        out = self._proc.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if ready else b""
        if not line:  # end of file: the process is exiting; a moment to learn its status
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
            code = self._proc.poll()
            raise SqsError(f"the SQS endpoint did not {what}" +
                           (f" (its process exited with {code})" if code is not None else f" within {timeout:g} s"))
        return json.loads(line)

    def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        with self._call_lock:
            if self._closed:
                raise SqsError("the SQS endpoint is closed")
            try:
                self._proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
                self._proc.stdin.flush()
            except OSError as exc:
                raise SqsError(f"the SQS endpoint's process is gone ({exc})") from None
            reply = self._read(CALL_TIMEOUT, f"answer {op!r}")
        if not reply.get("ok"):
            raise SqsError(f"the SQS endpoint refused {op!r}: {reply.get('error')}", reply.get("code", ""))
        return reply

    def _clock_state(self) -> dict[str, Any]:
        clock = self.mgr.clock
        if getattr(self, "_clock", None) is not clock:  # the first, or a new one after reset()
            self._clock = clock
            # A virtual clock starts at the sample events' date, so a seeded lesson shows the same
            # timestamps on every run; a real one at the wall-clock time the manager started.
            self._epoch = DEFAULT_TIME.timestamp() if clock.virtual else time.time() - clock.now()
        return {"now": clock.now(), "virtual": clock.virtual, "epoch": self._epoch}

    def sync_clock(self) -> None:
        """Tell the server the manager's time (after ``advance()`` and ``reset()``)."""
        self._call("clock", **self._clock_state())

    def epoch(self) -> float:
        """The Unix time that clock 0 stands for in SQS timestamps."""
        return self._epoch

    def stats(self) -> list[dict[str, Any]]:
        """Every queue: messages visible, in flight and delayed, the oldest one's send time, its dead-letter queue."""
        return self._call("stats")["queues"]

    def reset(self) -> None:
        """Forget every queue and message."""
        self._call("reset")

    # The pollers' calls: what ReceiveMessage and DeleteMessageBatch do, without HTTP (an SQS request
    # costs milliseconds in moto's server; 10,000 messages are 2,000 of them).
    def receive(self, queue: str, count: int) -> list[dict[str, Any]]:
        """Up to ``count`` messages of ``queue`` (its visibility timeout, every attribute), as boto3 gives
        ReceiveMessage's ``Messages``; SqsError ``QueueDoesNotExist`` if it is gone."""
        messages = self._call("receive", queue=queue, count=count)["messages"]
        for m in messages:
            for value in (m.get("MessageAttributes") or {}).values():
                if "BinaryValue" in value:
                    value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        return messages

    def delete(self, queue: str, handles: list[str]) -> int:
        """Delete messages by receipt handle; how many SQS refused."""
        return self._call("delete", queue=queue, handles=handles)["refused"]

    def visible(self, queue: str) -> int:
        """``ApproximateNumberOfMessages``."""
        return self._call("visible", queue=queue)["visible"]

    # -- life ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def alive(self) -> bool:
        """The server's process is running."""
        return self._proc.poll() is None

    def close(self) -> None:
        """Stop the pollers, then the server. Idempotent."""
        if self.service is not None:
            self.service.close()
        with self._call_lock:
            if self._closed:
                return
            self._closed = True
        self._kill()
        with _lock:
            if self.mgr.__dict__.get("_sqs_endpoint") is self:
                del self.mgr.__dict__["_sqs_endpoint"]
        self.mgr.service_env.pop(ENV_VAR, None)

    def _kill(self, keep_log: bool = False) -> None:
        with contextlib.suppress(OSError):
            self._proc.stdin.close()  # the server exits when its stdin closes
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        if self._proc.returncode is None:  # it did not: no more waiting
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        if not keep_log:
            self._log.close()

    def __repr__(self) -> str:
        return f"<SqsEndpoint {self.url}{' closed' if self._closed else ''}>"


def endpoint(mgr: ContainerManager, port: int = 0) -> SqsEndpoint:
    """``mgr``'s SQS endpoint and its queue service (pollers), started on first use (on ``port``: 0 picks a
    free one; an endpoint already running keeps its port)."""
    from lambda_widget.front.tracking import _track
    from lambda_widget.queues import QueueService

    mgr._check_open()
    with _lock:
        existing = mgr.__dict__.get("_sqs_endpoint")
        if existing is not None and not existing.closed:
            if existing.alive:
                return existing
            code = existing._proc.returncode
            warnings.warn(f"the SQS endpoint's process had ended (exit code {code}); a new one starts, "
                          "without the queues and mappings of the old one", SqsWarning, stacklevel=2)
            threading.Thread(target=existing.close, daemon=True).start()
            mgr.__dict__.pop("_sqs_endpoint", None)
        ep = SqsEndpoint(mgr, port=port)
        ep.service = QueueService(mgr, ep)
        mgr.__dict__["_sqs_endpoint"] = ep
    mgr.service_env[ENV_VAR] = ep.url
    mgr.on_advance(lambda: _if_alive(ep, ep.service.advanced))
    mgr.on_reset(lambda: _if_alive(ep, ep.service.reset))
    _track(mgr, ep)  # closed when the manager shuts down
    return ep


def _if_alive(ep: SqsEndpoint, action) -> None:
    """Run a hook of the endpoint's, unless it is closed; an endpoint whose process has gone only warns:
    the manager's own ``advance()`` and ``reset()`` must go on."""
    if ep.closed:
        return
    try:
        action()
    except SqsError as exc:
        warnings.warn(f"the SQS endpoint did not follow the clock: {exc}", SqsWarning, stacklevel=3)


def sqs_url(mgr: ContainerManager) -> str:
    """The URL of ``mgr``'s SQS endpoint (for ``boto3.client("sqs", endpoint_url=...)``)."""
    return endpoint(mgr).url


def queue_service(mgr: ContainerManager) -> QueueService:
    """``mgr``'s event source mappings and their pollers (the SQS endpoint starts with them)."""
    return endpoint(mgr).service


# ---------------------------------------------------------------------- SAM templates
QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                    "FifoThroughputLimit")


def queue_from_sam(mgr: ContainerManager, logical_id: str, properties: dict[str, Any] | None = None) -> str:
    """Create the queue of a template's ``AWS::SQS::Queue`` resource (its intrinsics already resolved) and
    return its ARN, which an SQS event's ``Queue`` names (``!GetAtt Id.Arn``). ``QueueName`` defaults to the
    logical id (a FIFO queue's to ``<id>.fifo``); ``RedrivePolicy`` is kept as SQS takes it."""
    import boto3

    properties = dict(properties or {})
    fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
    name = properties.get("QueueName") or (f"{logical_id}.fifo" if fifo else logical_id)
    attributes = {key: str(properties[key]).lower() if isinstance(properties[key], bool) else str(properties[key])
                  for key in QUEUE_ATTRIBUTES if key in properties}
    if properties.get("RedrivePolicy"):
        policy = properties["RedrivePolicy"]
        attributes["RedrivePolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
    sqs = boto3.client("sqs", endpoint_url=sqs_url(mgr), region_name=mgr.region, aws_access_key_id="local",
                       aws_secret_access_key="local")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def delete_queue(mgr: ContainerManager, arn: str) -> None:
    """Delete the queue ``arn`` names (a template's queue, when its load is undone); gone already is fine."""
    import boto3
    from botocore.exceptions import ClientError

    sqs = boto3.client("sqs", endpoint_url=sqs_url(mgr), region_name=mgr.region, aws_access_key_id="local",
                       aws_secret_access_key="local")
    with contextlib.suppress(ClientError):
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])


TEMPLATE_KEYS = {"Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "Enabled", "FilterCriteria",
                 "FunctionResponseTypes", "ScalingConfig", "queue_properties"}


def template_options(mgr: ContainerManager, queue: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the queue, ``QueueService.create`` options) from a template's SQS event properties, as SAM names them
    (``BatchSize``, ``MaximumBatchingWindowInSeconds``, ``Enabled``, ``FilterCriteria``,
    ``FunctionResponseTypes``, ``ScalingConfig``). A ``queue`` that is not an ARN or a URL is the template's
    ``AWS::SQS::Queue`` (its logical id): it is created first, with ``queue_properties``."""
    from lambda_widget.placement.esm import REPORT_BATCH_ITEM_FAILURES, MappingConfigError

    unknown = sorted(set(properties) - TEMPLATE_KEYS)
    if unknown:
        raise MappingConfigError("InvalidParameterValueException",
                                 f"lambda_widget does not model {', '.join(unknown)} of an SQS event")
    if not queue.startswith("arn:") and "://" not in queue:
        queue = queue_from_sam(mgr, queue, properties.get("queue_properties"))
    scaling = properties.get("ScalingConfig") or {}
    return queue, {"batch_size": properties.get("BatchSize"),
                   "window": properties.get("MaximumBatchingWindowInSeconds", 0),
                   "maximum_concurrency": scaling.get("MaximumConcurrency") if isinstance(scaling, dict) else None,
                   "report_failures": REPORT_BATCH_ITEM_FAILURES in (properties.get("FunctionResponseTypes") or []),
                   "filters": properties.get("FilterCriteria"), "enabled": properties.get("Enabled", True) is not False}


def event_source_from_sam(mgr: ContainerManager, function: str, properties: dict[str, Any]):
    """Create the mapping of a function's ``Events: {Type: SQS, Properties: ...}`` (intrinsics resolved:
    ``Queue`` an ARN, a URL, or the template's queue's logical id, created with ``queue_properties``); see
    :func:`template_options`. What else SAM allows (``KmsKeyArn``, ``MetricsConfig``,
    ``ProvisionedPollerConfig``) is refused with a clear message. Returns the EventSourceMapping; errors are
    ``MappingConfigError`` with AWS's messages."""
    from lambda_widget.placement.esm import MappingConfigError

    if not isinstance(properties.get("Queue"), str):
        raise MappingConfigError("InvalidParameterValueException", "Unrecognized event source.",
                                 hint=f"the SQS event of {function} has no Queue")
    queue, options = template_options(mgr, properties["Queue"], properties)
    mapping = queue_service(mgr).create(queue, function, **options)
    queue_service(mgr).settle_if_virtual()
    return mapping
