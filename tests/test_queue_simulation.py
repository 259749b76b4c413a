"""The traffic lab's queue: the mapping's rules without processes, and agreement with the real engine.

Small scenarios run twice: on real environments with the virtual clock (messages sent at their times, the
clock advanced between), and in the simulator with the same arrivals and a service time of zero (on a
virtual clock an invocation takes no clock time). Both ask the same policy objects; they must agree on
batches, deletions, redeliveries and the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

import lambda_widget as lw
from lambda_widget import traffic
from lambda_widget.front.sqs import queue_service

HANDLER = """def lambda_handler(event, context):
    failed = [r["messageId"] for r in event["Records"] if r["body"].startswith("poison")]
    if failed and not REPORT:
        raise RuntimeError("poison")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
"""


@pytest.fixture(scope="module")
def mgr() -> Iterator[lw.ContainerManager]:
    with lw.ContainerManager(seed=11, virtual_clock=True) as manager:
        yield manager


def engine(mgr, arrivals: list[tuple[float, str]], *, until: float, step: float = 1.0, visibility: int = 10,
           max_receive: int | None = None, report: bool = False, **mapping) -> dict:
    """Run a scenario on real environments; returns what it did, as the simulation reports it."""
    mgr.reset(seed=11, virtual_clock=True)
    sqs = boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name=mgr.region,
                       aws_access_key_id="local", aws_secret_access_key="local")
    attributes = {"VisibilityTimeout": str(visibility)}
    if max_receive:
        dlq = sqs.create_queue(QueueName="scenario-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive})
    url = sqs.create_queue(QueueName="scenario", Attributes=attributes)["QueueUrl"]
    mgr.register("worker", f"REPORT = {report}\n" + HANDLER, timeout=visibility)  # generous: a loaded machine
    service = queue_service(mgr)
    if "batching_window" in mapping:
        mapping["window"] = mapping.pop("batching_window")
    m = service.create("scenario", "worker", report_failures=report, **mapping)
    pending = sorted(arrivals)
    while mgr.clock.now() <= until:
        while pending and pending[0][0] <= mgr.clock.now() + 1e-9:
            sqs.send_message(QueueUrl=url, MessageBody=pending.pop(0)[1])
        mgr.advance(0)
        mgr.advance(step)
    invs = [i for i in mgr.history if i.status != "throttled"]
    return {"invocations": len(invs), "batch_sizes": dict(sorted(
                {n: sum(1 for b in m.batches if b.to_dict()["size"] == n) for n in {len(b.messages) for b in m.batches}}.items())),
            "deleted": m.counters["deleted"], "dead_lettered": m.series[-1]["dead_letter"],
            "receive_counts": sorted(int(r["attributes"]["ApproximateReceiveCount"])
                                     for i in invs for r in i.event["Records"])}


def simulated(arrivals: list[tuple[float, str]], *, visibility: int = 10, max_receive: int | None = None,
              report: bool = False, until: float, **mapping) -> dict:
    order = sorted(arrivals)
    r = traffic.simulate_queue(traffic.replay([t for t, _ in order]), duration=max(t for t, _ in order) + 1,
                               warm_ms=0, cold_ms=0, visibility_timeout=visibility, max_receive_count=max_receive,
                               report_batch_item_failures=report, until=until,
                               poison=[i for i, (_, body) in enumerate(order) if body.startswith("poison")],
                               **mapping)
    return {"invocations": r.invocations, "batch_sizes": r.batch_sizes, "deleted": r.deleted,
            "dead_lettered": r.dead_lettered, "receive_counts": None, "result": r}


def agree(mgr, arrivals, until, **options) -> dict:
    real = engine(mgr, arrivals, until=until, **options)
    sim = simulated(arrivals, until=until, **{k: v for k, v in options.items() if k != "step"})
    for key in ("invocations", "batch_sizes", "deleted", "dead_lettered"):
        assert real[key] == sim[key], (key, real, sim)
    return {"real": real, "sim": sim["result"]}


def test_batch_sizes_agree(mgr):
    agree(mgr, [(0.0, f"m{i}") for i in range(25)], until=2, batch_size=10)


def test_a_batching_window_agrees(mgr):
    out = agree(mgr, [(0.0, "a"), (0.0, "b"), (0.0, "c"), (19.0, "d"), (19.0, "e")], until=25, visibility=60,
                batch_size=100, batching_window=20)
    assert out["sim"].batch_sizes == {5: 1} and out["sim"].drained_at == 20


def test_redelivery_and_the_dead_letter_queue_agree(mgr):
    out = agree(mgr, [(0.0, "poison"), (0.0, "fine")], until=45, step=2.5, visibility=10, max_receive=3,
                batch_size=1)
    assert out["real"]["receive_counts"] == [1, 1, 2, 3]
    assert out["sim"].dead_lettered == 1 and out["sim"].invocations == 4


def test_partial_batch_responses_agree(mgr):
    out = agree(mgr, [(0.0, "ok-1"), (0.0, "poison"), (0.0, "ok-2")], until=45, step=2.5, visibility=10,
                max_receive=2, report=True, batch_size=10)
    assert out["real"]["receive_counts"] == [1, 1, 1, 2]


def test_maximum_concurrency_agrees(mgr):
    out = agree(mgr, [(0.0, f"m{i}") for i in range(30)], until=2, batch_size=1, maximum_concurrency=2)
    assert out["sim"].peak_pollers == 2


def test_the_simulated_ramp_is_the_engines():
    """The engine's ramp (test_queue_scaling): 5 batches for a minute of backlog, then 305."""
    r = traffic.simulate_queue(traffic.replay([0.0] * 400), warm_ms=1_000_000, cold_ms=1_000_000, batch_size=1,
                               visibility_timeout=3600, until=61)
    at = {p["t"]: p for p in r.series}
    assert (at[0.0]["pollers"], at[0.0]["batches"]) == (5, 5)
    assert (at[60.0]["pollers"], at[60.0]["batches"]) == (305, 305)


def test_ten_thousand_messages_with_two_second_batches_ramp_and_drain():
    r = traffic.simulate_queue(traffic.bursts(10_000, "1d"), duration=60, warm_ms=2000, cold_ms=2300,
                               batch_size=10, seed=1)
    assert r.deleted == 10_000 and r.batches == 1000 and r.batch_sizes == {10: 1000}
    assert r.peak_pollers == 305                      # 5 for the first minute, then 305: enough
    assert 60 < r.time_to_drain < 70                  # 5 x 30 batches a minute, then the rest at once
    assert r.series[-1]["pollers"] == 5               # a quiet minute after: back to 5
    assert json.loads(r.to_json())["messages"] == 10_000


def test_throttles_by_reserved_concurrency_and_none_with_maximum_concurrency():
    burst = traffic.bursts(20, "1d")
    options = dict(duration=1, warm_ms=20_000, cold_ms=20_000, batch_size=1, reserved_concurrency=2,
                   visibility_timeout=30, max_receive_count=2)
    throttled = traffic.simulate_queue(burst, **options)
    calm = traffic.simulate_queue(burst, maximum_concurrency=2, **options)
    assert throttled.throttles > 0 and calm.throttles == 0
    assert calm.deleted == 20 and calm.dead_lettered == 0
    # Throttled batches are retried at 1, 3, 7 and 15 s; the next retry would be after the 30 s visibility
    # timeout, so their messages come back, are received a second time, and then go to the dead-letter queue.
    assert throttled.dead_lettered > 0


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="Batching window|greater than 0 if maximum batch size"):
        traffic.simulate_queue(traffic.poisson(1), 60, batch_size=11)
    with pytest.raises(ValueError, match="poison"):
        traffic.simulate_queue(traffic.poisson(1), 60, poison=1.5)
    with pytest.raises(ValueError, match="workload"):
        traffic.simulate_queue([0, 1], 60)
