"""How an SQS mapping's pollers scale on the virtual clock: 5 concurrent batches, then 300 more a minute while
messages remain; reserved concurrency throttles and sends messages back to the queue.

The handlers hold their batches by opening a FIFO (sleeping in the kernel) until the test opens its other end,
so "every poller is busy while messages wait" is certain, whatever the machine's speed. The pollers are
then stepped with ``settle(invocations=False)``: ``advance()`` would wait for the held batches to finish.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator

import boto3
import pytest

import lambda_widget as lw
from lambda_widget.front.sqs import queue_service

HOLD = """import os


def lambda_handler(event, context):
    os.close(os.open(os.environ["GO"], os.O_RDONLY))  # sleeps until the test opens the other end
    return [r["body"] for r in event["Records"]]
"""


@pytest.fixture
def go() -> Iterator[str]:
    """A FIFO a sandboxed environment can open (not under /tmp: a sandbox has a /tmp of its own)."""
    with tempfile.TemporaryDirectory(prefix="lw-queue-", dir="/var/tmp") as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "go")
        os.mkfifo(path, 0o644)
        yield path


def release(path: str) -> int:
    """Open the FIFO's write end and keep it open: every held handler goes on, and later ones do not wait."""
    return os.open(path, os.O_WRONLY)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def held(mgr: lw.ContainerManager) -> int:
    return sum(1 for e in mgr.containers if e.state == "busy")


def step(mgr: lw.ContainerManager, seconds: float) -> None:
    """Move the clock and let the pollers work, without waiting for the held batches."""
    mgr.clock.advance(seconds)
    service = queue_service(mgr)
    service.sqs.sync_clock()
    service.settle(invocations=False)


def queue(mgr: lw.ContainerManager, name: str, n: int, visibility: int = 600) -> tuple:
    sqs = boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name=mgr.region,
                       aws_access_key_id="local", aws_secret_access_key="local")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    for i in range(0, n, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(k), "MessageBody": f"m{i + k}"}
                                                      for k in range(min(10, n - i))])
    return sqs, url


@pytest.mark.slow
def test_pollers_start_with_5_batches_and_add_300_a_minute_while_messages_remain(go: str) -> None:
    with lw.ContainerManager(seed=7, virtual_clock=True) as mgr:
        sqs, url = queue(mgr, "backlog", 400)
        mgr.register("hold", HOLD, env={"GO": go}, timeout=300)
        service = queue_service(mgr)
        mapping = service.create("backlog", "hold", batch_size=1)
        service.settle(invocations=False)
        wait_until(lambda: held(mgr) == 5, 120, "5 held batches")
        assert mapping.inflight == 5 and mapping.scaling.target == 5
        step(mgr, 59)                           # 59 s of backlog: still 5
        assert mapping.inflight == 5 and mapping.scaling.target == 5
        step(mgr, 1)                            # a full minute while messages remained: +300
        assert mapping.scaling.target == 305
        wait_until(lambda: held(mgr) == 305, 300, "305 held batches")
        assert mapping.inflight == 305 and len(mgr.containers) == 305
        fd = release(go)
        try:
            mgr.advance(0)                      # the held batches finish; 305 pollers drain the rest
            assert sorted(b for inv in mgr.history for b in inv.result) == sorted(f"m{i}" for i in range(400))
            assert all(inv.status == "succeeded" for inv in mgr.history)
            assert mapping.scaling.target == 305  # no minute has passed yet
            mgr.advance(60)                       # a quiet minute: back to 5
            assert mapping.scaling.target == 5
            times = [p["t"] for p in mapping.series]
            pollers = [p["pollers"] for p in mapping.series]
            assert pollers[times.index(60.0)] == 305 and pollers[-1] == 5
        finally:
            os.close(fd)


@pytest.mark.slow
def test_reserved_concurrency_throttles_and_throttled_messages_come_back_to_the_queue(go: str) -> None:
    with lw.ContainerManager(seed=8, virtual_clock=True) as mgr:
        sqs, url = queue(mgr, "throttled", 5, visibility=60)
        mgr.register("hold", HOLD, env={"GO": go}, timeout=60, reserved_concurrency=1)
        service = queue_service(mgr)
        mapping = service.create("throttled", "hold", batch_size=1)
        service.settle(invocations=False)
        wait_until(lambda: held(mgr) == 1, 120, "the one batch reserved concurrency lets run")
        throttled = [i for i in mgr.history if i.status == "throttled"]
        assert len(throttled) == 4 and {i.error["Reason"] for i in throttled} == {
            "ReservedFunctionConcurrentInvocationLimitExceeded"}
        for _ in range(35):                    # retried with backoff (1, 2, 4 s...) until the
            step(mgr, 1)                       # visibility timeout would pass: then they go back
        assert mapping.counters["throttles"] == 4 * 6  # at 0, 1, 3, 7, 15 and 31 s
        assert mapping.counters["returned"] == 4
        fd = release(go)
        try:
            for _ in range(200):               # one batch at a time gets through; the rest are throttled again
                mgr.advance(1)
                if mapping.counters["deleted"] == 5:
                    break
            done = [i for i in mgr.history if i.status == "succeeded"]
            assert sorted(b for inv in done for b in inv.result) == [f"m{i}" for i in range(5)]
            counts = [int(i.event["Records"][0]["attributes"]["ApproximateReceiveCount"]) for i in done]
            assert max(counts) >= 2            # throttled messages were received again
        finally:
            os.close(fd)


def test_maximum_concurrency_below_reserved_concurrency_avoids_throttles() -> None:
    with lw.ContainerManager(seed=9, virtual_clock=True) as mgr:
        sqs, url = queue(mgr, "calm", 30)
        mgr.register("worker", "def lambda_handler(event, context):\n    return 1\n", reserved_concurrency=2,
                     timeout=30)
        mapping = queue_service(mgr).create("calm", "worker", batch_size=1, maximum_concurrency=2)
        mgr.advance(0)
        assert mapping.counters["deleted"] == 30 and mapping.counters["throttles"] == 0
        assert all(i.status == "succeeded" for i in mgr.history)
