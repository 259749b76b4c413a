"""Case 10: queues. An SQS event source mapping's own cost, and the simulated queue's speed.

1. Drain: 10,000 messages (in a moto SQS queue, sent before the clock starts) through real environments,
   batch size 10, against the same 1,000 invocations (events of 10 SQS records each) submitted directly,
   5 at a time as the mapping's 5 pollers run them. The ratio is what the mapping adds: receives, deletes,
   batch assembly, its bookkeeping. On a virtual clock, so the pollers never wait for time to pass.
2. The simulated queue (``traffic.simulate_queue``) against the plain traffic simulator on the same arrivals
   (same workload and seed): simulated messages (requests) per second. The queue simulation does more per
   request (batches, pollers, visibility, the queue itself); the ratio says how much.
The contenders alternate round by round.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import wait
from typing import Any

from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave
from lambda_widget import events, traffic

HANDLER = "def lambda_handler(event, context):\n    return len(event['Records'])\n"
MAPPING, DIRECT = "drain by the mapping (batch 10)", "the same invocations, direct (5 at a time)"
SIMULATED, PLAIN = "simulated queue", "plain traffic simulator, same arrivals"


class _Drain:
    """Each call: a fresh queue of N messages (sent untimed), then the mapping drains it (timed)."""

    def __init__(self, mgr: Any, sqs: Any, n: int) -> None:
        self.mgr, self.sqs, self.n = mgr, sqs, n
        self.round = 0
        self.invocations: list[int] = []

    def __call__(self) -> float:
        from lambda_widget.front.sqs import queue_service

        self.round += 1
        name = f"drain-{self.round}"
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        for i in range(0, self.n, 10):
            self.sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(k), "MessageBody": json.dumps({"order": i + k})} for k in range(min(10, self.n - i))])
        service = queue_service(self.mgr)
        before = len(self.mgr.history)
        t0 = time.perf_counter()
        mapping = service.create(name, "worker", batch_size=10)
        service.settle()  # on a virtual clock: every batch due now, received, invoked and deleted
        elapsed = time.perf_counter() - t0
        assert mapping.counters["deleted"] == self.n, mapping.counters
        self.invocations.append(len(self.mgr.history) - before)
        service.remove(mapping.uuid)
        return elapsed


class _Direct:
    """Each call: the same number of invocations, with events of 10 SQS records, 5 in flight at a time."""

    def __init__(self, mgr: Any, n: int) -> None:
        self.mgr = mgr
        self.batches = max(1, n // 10)
        self.event = events.sqs(messages=[{"order": k} for k in range(10)], queue="direct")

    def __call__(self) -> float:
        t0 = time.perf_counter()
        running: set = set()
        for _ in range(self.batches):
            if len(running) >= 5:
                done, running = wait(running, return_when="FIRST_COMPLETED")
            running.add(self.mgr.submit("worker", self.event))
        wait(running)
        return time.perf_counter() - t0


class _Simulated:
    def __init__(self, queue: bool, duration: float) -> None:
        self.queue, self.duration = queue, duration
        self.requests: list[int] = []
        self.seed = 0

    def __call__(self) -> float:
        self.seed += 1
        workload = traffic.poisson(100.0)
        t0 = time.perf_counter()
        if self.queue:
            r = traffic.simulate_queue(workload, self.duration, warm_ms=20.0, cold_ms=250.0, batch_size=10,
                                       seed=self.seed)
            self.requests.append(r.messages)
        else:
            r = traffic.simulate(workload, self.duration, warm_ms=20.0, cold_ms=250.0, seed=self.seed)
            self.requests.append(r.requests)
        return time.perf_counter() - t0

    def per_second(self, samples: list[float]) -> list[float]:
        return [n / s for n, s in zip(self.requests, samples, strict=True)]


def run(sizes: Sizes) -> CaseResult:
    import boto3

    import lambda_widget as lw

    result = CaseResult("queue", "Queues: an SQS mapping's drain against direct invocations; the simulated "
                                 "queue against the plain simulator")
    with lw.ContainerManager(seed=1, virtual_clock=True) as mgr:
        mgr.register("worker", HANDLER, timeout=30)
        sqs = boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name=mgr.region,
                           aws_access_key_id="local", aws_secret_access_key="local")
        mgr.invoke("worker", {"Records": []})  # the first environment's start is in neither contender
        drain = _Drain(mgr, sqs, sizes.queue_messages)
        samples = interleave({MAPPING: drain, DIRECT: _Direct(mgr, sizes.queue_messages)}, sizes.queue_rounds)
    for label in (MAPPING, DIRECT):
        result.add(label, samples[label])
    result.compare(MAPPING, DIRECT)
    result.info[MAPPING] = {"messages": sizes.queue_messages, "invocations": drain.invocations}
    duration = 3600.0 * sizes.traffic_scale
    runs = {SIMULATED: _Simulated(True, duration), PLAIN: _Simulated(False, duration)}
    sim = interleave(runs, sizes.queue_rounds)
    for label, contender in runs.items():
        result.add(label, sim[label])
        result.add(f"{label}: requests/s", contender.per_second(sim[label]), unit="req/s")
        result.info[label] = {"requests": contender.requests}
    result.compare(f"{SIMULATED}: requests/s", f"{PLAIN}: requests/s")
    result.notes.append(f"drain: {sizes.queue_messages:,} messages, batch size 10, on a virtual clock; "
                        f"simulators: 1 hour at 100 messages/s x {sizes.traffic_scale:g}")
    return result
