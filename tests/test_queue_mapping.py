"""SQS event source mappings on real environments, driven with boto3 on the manager's virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

import lambda_widget as lw
from lambda_widget import events
from lambda_widget.front.sqs import queue_service
from lambda_widget.placement.esm import PAYLOAD_LIMIT, MappingConfigError

COUNT = """def lambda_handler(event, context):
    return [r["body"] for r in event["Records"]]
"""

FAIL_ALWAYS = """def lambda_handler(event, context):
    raise RuntimeError("poison")
"""

# Reports the messages whose body is "bad" (partial batch response).
PARTIAL = """def lambda_handler(event, context):
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if r["body"] == "bad"]}
"""

MALFORMED = """def lambda_handler(event, context):
    return {"batchItemFailures": [{"foo": "notvalid"}]}
"""

# Fails a1's first delivery only.
FIFO = """def lambda_handler(event, context):
    record = event["Records"][0]
    if record["body"] == "a1" and record["attributes"]["ApproximateReceiveCount"] == "1":
        raise RuntimeError("a1 fails once")
    return record["body"]
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[lw.ContainerManager]:
    """The kernel's manager (``lw.event_source`` works on it), shut down after the module."""
    yield lw.get_manager()
    lw.get_manager().shutdown()


@pytest.fixture
def mgr(kernel) -> lw.ContainerManager:
    kernel.reset(seed=4, virtual_clock=True)  # no queues, no mappings, clock 0
    return kernel


@pytest.fixture
def sqs(mgr):
    return boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name=mgr.region,
                        aws_access_key_id="local", aws_secret_access_key="local")


def make_queue(sqs, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30", **attributes})["QueueUrl"]


def send(sqs, url: str, bodies: list[str], **fields) -> None:
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": b, **fields}
                                                      for n, b in enumerate(bodies[i:i + 10])])


def depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                       "ApproximateNumberOfMessagesDelayed"))


def bodies_of(inv) -> list[str]:
    return [r["body"] for r in inv.event["Records"]]


def test_batches_are_up_to_batch_size_and_every_message_is_deleted(mgr, sqs):
    url = make_queue(sqs, "orders")
    send(sqs, url, [f"m{i}" for i in range(25)])
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    view = lw.event_source("orders", "worker", batch_size=10)  # polls once before it returns
    sizes = sorted(len(inv.event["Records"]) for inv in mgr.history)
    assert sizes == [5, 10, 10]
    assert sorted(b for inv in mgr.history for b in bodies_of(inv)) == sorted(f"m{i}" for i in range(25))
    assert all(inv.status == "succeeded" for inv in mgr.history)
    assert depth(sqs, url) == 0
    assert view.counters["deleted"] == 25 and view.counters["invocations"] == 3


def test_a_batching_window_gathers_messages_until_it_closes(mgr, sqs):
    url = make_queue(sqs, "gathered")
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    send(sqs, url, ["a", "b", "c"])
    lw.event_source("gathered", "worker", batch_size=100, batching_window=20)
    assert mgr.history == []          # the window opened at clock 0 with 3 messages
    mgr.advance(19)
    assert mgr.history == []
    send(sqs, url, ["d", "e"])
    mgr.advance(1)                    # 20 s: the window closes, with what arrived meanwhile
    assert [bodies_of(inv) for inv in mgr.history] == [["a", "b", "c", "d", "e"]]


def test_a_full_batch_does_not_wait_for_the_window(mgr, sqs):
    url = make_queue(sqs, "full", VisibilityTimeout="400")  # AWS: longer than the window and the timeout
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    send(sqs, url, [f"m{i}" for i in range(45)])
    lw.event_source("full", "worker", batch_size=20, batching_window=300)
    assert sorted(len(inv.event["Records"]) for inv in mgr.history) == [20, 20]
    mgr.advance(300)
    assert sorted(len(inv.event["Records"]) for inv in mgr.history) == [5, 20, 20]


def test_a_batch_stays_under_the_6_mb_payload(mgr, sqs):
    url = make_queue(sqs, "large")
    mgr.register("worker", "def lambda_handler(event, context):\n    return len(event['Records'])\n", timeout=30)
    for i in range(8):  # 8 MB in 1 MB messages
        sqs.send_message(QueueUrl=url, MessageBody=chr(97 + i) * 1_000_000)
    lw.event_source("large", "worker", batch_size=10)
    sizes = [inv.result for inv in mgr.history]
    assert sorted(sizes) == [2, 6]
    assert all(len(json.dumps(inv.event)) <= PAYLOAD_LIMIT for inv in mgr.history)
    assert depth(sqs, url) == 0


def test_a_failed_batch_comes_back_after_the_visibility_timeout_then_goes_to_the_dead_letter_queue(mgr, sqs):
    dlq = make_queue(sqs, "poison-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = make_queue(sqs, "poison", VisibilityTimeout="10",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}))
    mgr.register("fragile", FAIL_ALWAYS, timeout=10)
    send(sqs, url, ["poison"])
    mapping = lw.event_source("poison", "fragile", batch_size=1)
    for _ in range(4):
        mgr.advance(9)                    # still invisible: nothing new
        mgr.advance(1.5)                  # the visibility timeout has passed
    counts = [inv.event["Records"][0]["attributes"]["ApproximateReceiveCount"] for inv in mgr.history]
    assert counts == ["1", "2", "3"]      # the fourth receive moved it instead
    assert all(inv.status == "failed" for inv in mgr.history)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq).get("Messages", [])] == ["poison"]
    assert mapping.counters["returned"] == 3 and mapping.series[-1]["dead_letter"] == 1


def test_a_partial_batch_response_returns_only_the_failed_messages(mgr, sqs):
    url = make_queue(sqs, "partial", VisibilityTimeout="10")
    mgr.register("picky", PARTIAL, timeout=10)
    send(sqs, url, ["ok-1", "bad", "ok-2"])
    mapping = lw.event_source("partial", "picky", batch_size=10, report_batch_item_failures=True)
    assert [sorted(bodies_of(inv)) for inv in mgr.history] == [["bad", "ok-1", "ok-2"]]
    assert mapping.batches[-1].status == "partial" and mapping.batches[-1].returned == 1
    mgr.advance(11)
    assert bodies_of(mgr.history[-1]) == ["bad"]  # only the reported one came back
    assert mgr.history[-1].event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_without_report_batch_item_failures_a_response_deletes_the_whole_batch(mgr, sqs):
    url = make_queue(sqs, "ignored")
    mgr.register("picky", PARTIAL, timeout=10)
    send(sqs, url, ["ok", "bad"])
    lw.event_source("ignored", "picky")
    assert depth(sqs, url) == 0


def test_a_malformed_batch_item_failures_fails_the_whole_batch_and_loses_nothing(mgr, sqs):
    url = make_queue(sqs, "malformed", VisibilityTimeout="10")
    mgr.register("broken", MALFORMED, timeout=10)
    send(sqs, url, ["one", "two"])
    mapping = lw.event_source("malformed", "broken", report_batch_item_failures=True)
    batch = mapping.batches[-1]
    assert batch.status == "failed" and batch.returned == 2
    assert "item 0 of batchItemFailures has no itemIdentifier" in batch.note
    assert depth(sqs, url) == 2           # both are still in the queue
    mgr.advance(11)
    assert sorted(bodies_of(mgr.history[-1])) == ["one", "two"]


def test_messages_that_no_filter_matches_are_deleted(mgr, sqs):
    url = make_queue(sqs, "filtered")
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    send(sqs, url, [json.dumps({"kind": "order", "n": 1}), json.dumps({"kind": "refund"}), "plain text",
                    json.dumps({"kind": "order", "n": 2})])
    mapping = lw.event_source("filtered", "worker", filters=[{"body": {"kind": ["order"]}}])
    delivered = sorted(json.loads(b)["n"] for inv in mgr.history for b in bodies_of(inv))
    assert delivered == [1, 2]
    assert mapping.counters["filtered"] == 2
    assert depth(sqs, url) == 0           # the other two were deleted, as on Lambda


def test_fifo_order_within_a_group_and_the_group_waits_for_its_retry(mgr, sqs):
    url = make_queue(sqs, "orders.fifo", FifoQueue="true", ContentBasedDeduplication="true",
                     VisibilityTimeout="20")
    mgr.register("ordered", FIFO, timeout=20)
    for body, group in [("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    lw.event_source("orders.fifo", "ordered", batch_size=1)
    first = [(bodies_of(inv)[0], inv.status) for inv in mgr.history]
    assert first == [("a1", "failed"), ("b1", "succeeded")]  # A waits for a1; B goes on
    mgr.advance(21)
    later = [bodies_of(inv)[0] for inv in mgr.history[2:]]
    assert later == ["a1", "a2", "a3"]
    assert all(inv.status == "succeeded" for inv in mgr.history[2:])


def test_maximum_concurrency_caps_the_concurrent_batches(mgr, sqs):
    url = make_queue(sqs, "capped")
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    send(sqs, url, [f"m{i}" for i in range(40)])
    mapping = lw.event_source("capped", "worker", batch_size=1, maximum_concurrency=2)
    assert mapping.scaling.target == 2
    assert len(mgr.history) == 40 and depth(sqs, url) == 0
    assert len(mgr.all_containers) <= 2   # never more than two batches at once


def test_events_have_the_shape_of_the_sample_event(mgr, sqs):
    url = make_queue(sqs, "shapes")
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    attributes = {"Author": {"DataType": "String", "StringValue": "John Grisham"},
                  "WeeksOn": {"DataType": "Number", "StringValue": "6"}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": 7}), MessageAttributes=attributes)
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    lw.event_source("shapes", "worker")
    got = {r["body"]: r for inv in mgr.history for r in inv.event["Records"]}
    sample = events.sqs(messages=[{"order": 7}], queue="shapes", attributes={"Author": "John Grisham", "WeeksOn": 6},
                        account_id=mgr.account_id, region=mgr.region)["Records"][0]
    mine = got[json.dumps({"order": 7})]

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        return type(value).__name__

    assert shape(mine) == shape(sample)
    for key in ("body", "messageAttributes", "md5OfBody", "md5OfMessageAttributes", "eventSource",
                "eventSourceARN", "awsRegion"):
        assert mine[key] == sample[key], key
    assert "md5OfMessageAttributes" not in got["plain"]  # as AWS sends it with no batching window


def test_bad_input_is_refused_with_awss_message_and_loses_no_message(mgr, sqs):
    url = make_queue(sqs, "kept")
    fifo = make_queue(sqs, "kept.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    send(sqs, url, ["one", "two"])
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    mgr.register("slow", COUNT, timeout=60)
    cases = [
        (dict(queue="missing"), "InvalidParameterValueException", "AWS.SimpleQueueService.NonExistentQueue"),
        (dict(batch_size=0), "ValidationException", "greater than or equal to 1"),
        (dict(batch_size=10_001), "ValidationException", "less than or equal to 10000"),
        (dict(batch_size=11), "InvalidParameterValueException",
         "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
        (dict(batching_window=301), "ValidationException", "less than or equal to 300"),
        (dict(queue="kept.fifo", batching_window=1), "InvalidParameterValueException",
         "Batching window is not supported for FIFO queues"),
        (dict(maximum_concurrency=1), "ValidationException", "greater than or equal to 2"),
        (dict(function="nobody"), "InvalidParameterValueException", "Function does not exist"),
        (dict(function="slow"), "InvalidParameterValueException",
         "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"),
        (dict(filters=["simple string"]), "InvalidParameterValueException", "Invalid filter pattern definition."),
        (dict(filters=[{"eventSource": []}]), "InvalidParameterValueException", "Invalid filter pattern definition."),
    ]
    for change, code, words in cases:
        args = {"queue": "kept", "function": "worker", **change}
        with pytest.raises(MappingConfigError) as error:
            lw.event_source(args.pop("queue"), args.pop("function"), **args)
        assert error.value.code == code and words in str(error.value), (change, error.value)
    assert queue_service(mgr).list() == [] and mgr.history == []
    assert depth(sqs, url) == 2 and depth(sqs, fifo) == 0
    lw.event_source("kept", "worker")
    with pytest.raises(MappingConfigError) as error:
        lw.event_source("kept", "worker")
    assert error.value.code == "ResourceConflictException"


def test_a_disabled_mapping_does_not_poll_and_a_deleted_one_stops(mgr, sqs):
    url = make_queue(sqs, "switch")
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    send(sqs, url, ["one"])
    mapping = lw.event_source("switch", "worker", enabled=False)
    assert mgr.history == [] and depth(sqs, url) == 1
    mapping.update(enabled=True)
    assert [bodies_of(inv) for inv in mgr.history] == [["one"]]
    mapping.delete()
    send(sqs, url, ["two"])
    mgr.advance(1)
    assert len(mgr.history) == 1 and depth(sqs, url) == 1


def test_a_sam_templates_queue_and_sqs_event(mgr, sqs):
    """What a template's loader calls: the AWS::SQS::Queue, then the function's SQS event (intrinsics resolved)."""
    from lambda_widget.front.sqs import event_source_from_sam, queue_from_sam

    dlq = queue_from_sam(mgr, "JobsDlq")
    arn = queue_from_sam(mgr, "Jobs", {"VisibilityTimeout": 60,
                                       "RedrivePolicy": {"deadLetterTargetArn": dlq, "maxReceiveCount": 3}})
    assert arn == f"arn:aws:sqs:{mgr.region}:{mgr.account_id}:Jobs"
    mgr.register("worker", COUNT, timeout=30)  # generous: a loaded machine
    url = sqs.get_queue_url(QueueName="Jobs")["QueueUrl"]
    send(sqs, url, ["a", "b", "c"])
    mapping = event_source_from_sam(mgr, "worker", {"Queue": arn, "BatchSize": 2,
                                                     "FunctionResponseTypes": ["ReportBatchItemFailures"],
                                                     "ScalingConfig": {"MaximumConcurrency": 5}})
    assert (mapping.batch_size, mapping.report_failures, mapping.maximum_concurrency) == (2, True, 5)
    assert sorted(len(inv.event["Records"]) for inv in mgr.history) == [1, 2]
    with pytest.raises(MappingConfigError, match="does not model KmsKeyArn"):
        event_source_from_sam(mgr, "worker", {"Queue": arn, "KmsKeyArn": "arn:aws:kms:..."})


def test_lw_event_source_takes_a_templates_sqs_event_as_the_loader_describes_it(mgr, sqs):
    """``lw.event_source(**spec.to_dict())``, with the SAM loader's EventSourceSpec.to_dict() keys."""
    mgr.register("worker", COUNT, timeout=30)
    described = {"function": "worker", "queue": "JobsQueue", "BatchSize": 5, "MaximumBatchingWindowInSeconds": 0,
                 "Enabled": True, "FunctionResponseTypes": ["ReportBatchItemFailures"],
                 "queue_properties": {"VisibilityTimeout": 60}}
    panel = lw.event_source(**described)
    assert (panel.batch_size, panel.report_failures, panel.visibility_timeout) == (5, True, 60.0)
    url = sqs.get_queue_url(QueueName="JobsQueue")["QueueUrl"]
    send(sqs, url, [f"m{i}" for i in range(7)])
    mgr.advance(0)
    assert sorted(len(inv.event["Records"]) for inv in mgr.history) == [2, 5]
    with pytest.raises(MappingConfigError, match="does not model ProvisionedPollerConfig"):
        lw.event_source("JobsQueue", "worker", ProvisionedPollerConfig={"MinimumPollers": 2})
