"""The SQS endpoint's own process: moto's SQS server, on the manager's clock.

``lambda_widget.front.sqs`` starts it as ``python -m lambda_widget.front.sqs_server CONFIG`` (CONFIG is
JSON: ``host``, ``port``, ``account``, ``region``, ``uids`` (ranges of user ids it serves besides its own),
``seed``). Once it listens it prints ``{"port": N}``; then it answers one JSON line for each command line on
its stdin (``clock``, ``reset``, ``stats``, and the pollers' ``receive``, ``delete`` and ``visible``).
It exits when its stdin closes, which happens however the kernel ends.

What it adds to moto:

- **Time.** moto's SQS reads the time through ``unix_time`` and ``unix_time_millis``; here they read the
  manager's clock, so visibility timeouts, delays, retention and timestamps follow ``advance()`` on a
  virtual clock. A long poll (``WaitTimeSeconds``) still ends after that many real seconds: a virtual clock
  may never get there by itself.
- **Speed and memory.** moto's queue scans all its messages, and asks the clock for each, on every send,
  receive and delete. Here a queue keeps its messages indexed by id and receipt handle, reads the clock
  once a scan, and skips the message counts a send never uses, so a queue of 10,000 messages stays quick;
  and moto's registry of every message it ever made is turned off.
- **Safety.** Requests must be signed for SQS (SigV4, any credentials), may not come from a web page
  (an ``Origin`` header; moto would answer CORS preflights), and, on Linux, must come from this user or
  the manager's sandboxed environments. moto's own control API (``/moto-api``) is not served.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import os
import sys
import threading
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lambda_widget.front.server import peer_uid


class ManagerClock:
    """The manager's clock, as the kernel last reported it: seconds since the manager started, and the
    Unix time those seconds count from."""

    def __init__(self, now: float = 0.0, virtual: bool = False, epoch: float | None = None) -> None:
        self.set(now, virtual, time.time() - now if epoch is None else epoch)

    def set(self, now: float, virtual: bool, epoch: float) -> None:
        # One tuple, replaced whole: readers on other threads never see half an update.
        self._state = (float(now), time.monotonic(), bool(virtual), float(epoch))

    @property
    def virtual(self) -> bool:
        return self._state[2]

    def seconds(self) -> float:
        now, at, virtual, _ = self._state
        return now if virtual else now + time.monotonic() - at

    def unix(self) -> float:
        return self._state[3] + self.seconds()


CLOCK = ManagerClock()
_quiet = threading.local()  # set while a send runs: it never reads the queue's message counts
# moto's models are not thread-safe: one request or command at a time (a long poll lets go while it waits).
BACKEND = threading.RLock()


def _wait_unlocked(condition: threading.Condition, timeout: float) -> None:
    """Wait on ``condition`` without holding :data:`BACKEND` (others go on meanwhile)."""
    depth = 0
    while True:
        try:
            BACKEND.release()
        except RuntimeError:  # not (or no longer) held by this thread
            break
        depth += 1
    try:
        with condition:
            condition.wait(timeout=timeout)
    finally:
        for _ in range(depth):
            BACKEND.acquire()


def install() -> None:
    """Put moto's SQS on :data:`CLOCK` and give its queues an index (see the module docstring)."""
    import moto.core.utils as core_utils
    import moto.sqs.models as sqs_models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    plain_unix_time = core_utils.unix_time

    def unix_time(dt: datetime.datetime | None = None) -> float:
        return CLOCK.unix() if dt is None else plain_unix_time(dt)

    def unix_time_millis(dt: datetime.datetime | None = None) -> float:
        return unix_time(dt) * 1000.0

    def utcnow() -> datetime.datetime:
        return datetime.datetime.fromtimestamp(CLOCK.unix(), datetime.timezone.utc).replace(tzinfo=None)

    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis
    core_utils.utcnow = utcnow
    # Every attribute read converts each attribute's name anew (a regex); the answer never changes.
    sqs_models.camelcase_to_underscores = functools.lru_cache(maxsize=512)(core_utils.camelcase_to_underscores)

    class IndexedQueue(sqs_models.Queue):
        """moto's Queue with its messages indexed, and one clock reading per scan."""

        __module__ = "moto.sqs.models"  # moto's instance registry files models by their module's name

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.lw_by_id: dict[str, Any] = {}
            self.lw_by_handle: dict[str, Any] = {}

        @property
        def messages(self) -> list[Any]:  # visible and not delayed, in the order they were sent
            now = CLOCK.unix() * 1000.0
            return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

        @property
        def approximate_number_of_messages(self) -> int:
            return 0 if getattr(_quiet, "on", False) else len(self.messages)

        @property
        def approximate_number_of_messages_not_visible(self) -> int:
            if getattr(_quiet, "on", False):
                return 0
            now = CLOCK.unix() * 1000.0
            return sum(1 for m in self._messages if not now > m.visible_at)

        @property
        def approximate_number_of_messages_delayed(self) -> int:
            if getattr(_quiet, "on", False):
                return 0
            now = CLOCK.unix() * 1000.0
            return sum(1 for m in self._messages if now < m.delayed_until)

        def add_message(self, message: Any) -> None:
            super().add_message(message)
            if self._messages and self._messages[-1] is message:  # not dropped as a FIFO duplicate
                self.lw_by_id[message.id] = message

        def delete_message(self, receipt_handle: str) -> None:
            if receipt_handle in self.deleted_messages:
                return  # deleting twice is fine, as on SQS
            message = self.lw_by_handle.pop(receipt_handle, None)
            try:
                if message is None:
                    raise ValueError
                self._messages.remove(message)  # ValueError: no longer here (moved to a dead-letter queue)
            except ValueError:
                message = next((m for m in self._messages if m.had_receipt_handle(receipt_handle)), None)
                if message is None:
                    raise ReceiptHandleIsInvalid() from None
                self._messages.remove(message)
            self.pending_messages.discard(message)
            self.deleted_messages.update(h for h in message.all_receipt_handles if h)
            self.lw_by_id.pop(message.id, None)

        def lw_stats(self) -> dict[str, Any]:
            now = CLOCK.unix() * 1000.0
            visible = in_flight = delayed = 0
            oldest = None
            for m in self._messages:
                if now < m.delayed_until:
                    delayed += 1
                elif now > m.visible_at:
                    visible += 1
                else:
                    in_flight += 1
                if m.sent_timestamp is not None and (oldest is None or m.sent_timestamp < oldest):
                    oldest = m.sent_timestamp
            redrive = self.redrive_policy or {}
            return {"name": self.name, "arn": self.queue_arn, "fifo": bool(self.fifo_queue),
                    "visible": visible, "in_flight": in_flight, "delayed": delayed,
                    "oldest_age_s": None if oldest is None else max(0.0, (now - oldest) / 1000.0),
                    "visibility_timeout": float(self.visibility_timeout),
                    "dead_letter_arn": redrive.get("deadLetterTargetArn"),
                    "max_receive_count": redrive.get("maxReceiveCount")}

    sqs_models.Queue = IndexedQueue
    # moto keeps every model it ever made in a list (for its /moto-api data pages, not served here):
    # every message, and every copy a receive makes. A day of serving would keep them all.
    sqs_models.Message.instances_tracked = _Untracked()
    backend_class = sqs_models.SQSBackend
    plain_receive = backend_class.receive_message

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None) -> list[Any]:
        queue = self.get_queue(queue_name)
        # A long poll ends after WaitTimeSeconds of real time (a virtual clock may never get there by
        # itself); between looks it lets other requests in.
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            result = plain_receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if result or left <= 0:
                break
            _wait_unlocked(queue._messages_lock, min(0.05, left))  # a send notifies it
        by_id = getattr(queue, "lw_by_id", None)
        if by_id is not None:
            for copy in result:  # the results are copies; the index points at the queue's own messages
                original = by_id.get(copy.id)
                if original is not None:
                    queue.lw_by_handle[copy.receipt_handle] = original
        return result

    def quietly(method: Any) -> Any:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            _quiet.on = True
            try:
                return method(self, *args, **kwargs)
            finally:
                _quiet.on = False
        return run

    # Both read the queue's attributes for one setting (deduplication, retention), never its counts.
    backend_class.send_message = quietly(backend_class.send_message)
    backend_class.is_message_valid_based_on_retention_period = quietly(
        backend_class.is_message_valid_based_on_retention_period)
    backend_class.receive_message = receive_message


class _Untracked(list):
    """A list that keeps nothing."""

    def append(self, item: Any) -> None:
        pass


def stats(account: str, region: str) -> list[dict[str, Any]]:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    return [q.lw_stats() for q in list(backend.queues.values()) if hasattr(q, "lw_stats")]


def reset() -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends.reset()


# ---------------------------------------------------------------------- the HTTP side
def _error(environ: dict[str, Any], start_response: Any, status: str, code: str, message: str) -> list[bytes]:
    """An error in the protocol the client spoke: SQS's JSON protocol, or the older query (XML) one."""
    if "json" in (environ.get("CONTENT_TYPE") or ""):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-query-error", f"{code};Sender")]
    else:
        text = (message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error>"
                f"<RequestId>lambda-widget</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


class Guard:
    """WSGI middleware in front of moto's app: who may call, and what."""

    def __init__(self, app: Any, uids: list[tuple[int, int]]) -> None:
        self.app = app
        self.own_uid = os.getuid()
        self.uids = [(int(lo), int(hi)) for lo, hi in uids]

    def allowed(self, uid: int | None) -> bool:
        if uid is None or uid == self.own_uid:
            return True  # None: not Linux, the owner cannot be known
        return any(lo <= uid < hi for lo, hi in self.uids)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or ""
        if path.startswith("/moto-api"):
            return _error(environ, start_response, "404 Not Found", "InvalidAction",
                          "lambda_widget's SQS endpoint serves the SQS API only")
        if environ.get("HTTP_ORIGIN"):
            return _error(environ, start_response, "403 Forbidden", "AccessDenied",
                          "Requests from web pages are not served")
        auth = environ.get("HTTP_AUTHORIZATION") or ""
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in auth else []
        if not auth.startswith("AWS4-HMAC-SHA256") or len(scope) < 4 or scope[3] != "sqs":
            return _error(environ, start_response, "403 Forbidden", "AccessDenied",
                          "The request must be signed for SQS (AWS Signature Version 4, any credentials): "
                          "use boto3 or the AWS CLI")
        if not self.allowed(environ.get("lw.peer_uid")):
            return _error(environ, start_response, "403 Forbidden", "AccessDenied",
                          "This endpoint serves its own user's processes and its execution environments only")
        with BACKEND:
            return list(self.app(environ, start_response))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    """The standard library's WSGI handler (werkzeug's development server waits 10 ms after every
    request), quiet, and knowing who is at the other end of the connection."""

    timeout = 30  # seconds a client may take to send its request: a silent connection is let go

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["lw.peer_uid"] = peer_uid(self.client_address, self.connection.getsockname())
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def _received(messages: list[Any]) -> list[dict[str, Any]]:
    """Messages as ReceiveMessage answers them with every attribute (binary values in base64)."""
    out = []
    for m in messages:
        attributes = {"SenderId": m.sender_id, "SentTimestamp": str(m.sent_timestamp),
                      "ApproximateReceiveCount": str(m.approximate_receive_count),
                      "ApproximateFirstReceiveTimestamp": str(m.approximate_first_receive_timestamp)}
        for key, value in (("MessageDeduplicationId", m.deduplication_id), ("MessageGroupId", m.group_id),
                           ("SequenceNumber", m.sequence_number),
                           ("AWSTraceHeader", (m.system_attributes.get("AWSTraceHeader") or {}).get("StringValue"))):
            if value is not None:
                attributes[key] = value
        msg: dict[str, Any] = {"MessageId": m.id, "ReceiptHandle": m.receipt_handle, "MD5OfBody": m.body_md5,
                               "Body": m.body, "Attributes": attributes}
        if m.message_attributes:
            msg["MessageAttributes"] = {
                name: {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in value.items()}
                for name, value in m.message_attributes.items()}
            msg["MD5OfMessageAttributes"] = m.attribute_md5
        out.append(msg)
    return out


def _answer(command: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """One command of the kernel's (the clock, a reset, statistics, and its pollers' receives and deletes:
    the same backend calls as the API's, without HTTP)."""
    from moto.sqs.exceptions import QueueDoesNotExist, ReceiptHandleIsInvalid
    from moto.sqs.models import sqs_backends

    op = command.get("op")
    if op == "clock":
        CLOCK.set(command["now"], command["virtual"], command["epoch"])
        return {"ok": True}
    backend = sqs_backends[config["account"]][config["region"]]
    with BACKEND:
        if op == "reset":
            reset()
            return {"ok": True}
        if op == "stats":
            return {"ok": True, "queues": stats(config["account"], config["region"]), "now": CLOCK.seconds()}
        try:
            queue = backend.get_queue(command["queue"])
        except QueueDoesNotExist:
            return {"ok": False, "code": "QueueDoesNotExist", "error": "The specified queue does not exist."}
        if op == "receive":
            messages = backend.receive_message(queue.name, int(command["count"]), 0,
                                               queue.visibility_timeout, ["All"])
            return {"ok": True, "messages": _received(messages)}
        if op == "delete":
            refused = 0
            for handle in command["handles"]:
                try:
                    backend.delete_message(queue.name, handle)
                except ReceiptHandleIsInvalid:
                    refused += 1
            return {"ok": True, "refused": refused}
        if op == "visible":
            return {"ok": True, "visible": queue.approximate_number_of_messages}
    return {"ok": False, "error": f"unknown command {op!r}"}


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    os.environ["MOTO_ACCOUNT_ID"] = config["account"]
    clock = config.get("clock") or {}
    CLOCK.set(clock.get("now", 0.0), clock.get("virtual", False), clock.get("epoch", time.time()))
    from moto.moto_api._internal import mock_random
    from moto.moto_server.werkzeug_app import create_backend_app

    if config.get("seed") is not None:
        mock_random.seed(config["seed"])  # message ids and receipt handles repeat run to run
    install()
    app = Guard(create_backend_app("sqs"), config.get("uids", []))
    server = make_server(config["host"], int(config["port"]), app, server_class=_Server, handler_class=_Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    out = sys.stdout
    out.write(json.dumps({"port": server.server_address[1]}) + "\n")
    out.flush()
    for line in sys.stdin:  # until the kernel closes the pipe (or dies)
        try:
            command = json.loads(line)
            reply = _answer(command, config)
        except Exception as exc:  # noqa: BLE001 - a bad command is answered, never fatal
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    os._exit(0)  # no waiting for request threads: the kernel is gone


if __name__ == "__main__":
    sys.exit(main(sys.argv))
