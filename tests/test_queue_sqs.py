"""The SQS endpoint (moto's server, in its own process, on the manager's clock), driven with boto3."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_widget as lw
from lambda_widget.events import DEFAULT_TIME, message_attributes_md5


@pytest.fixture(scope="module")
def qmgr() -> Iterator[lw.ContainerManager]:
    with lw.ContainerManager(seed=3, virtual_clock=True) as manager:
        yield manager


def client(mgr: lw.ContainerManager):
    return boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name=mgr.region,
                        aws_access_key_id="local", aws_secret_access_key="local")


@pytest.fixture
def sqs(qmgr):
    return client(qmgr)


def receive(sqs, url: str, n: int = 10) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, AttributeNames=["All"],
                               MessageAttributeNames=["All"]).get("Messages", [])


def test_visibility_timeout_and_receive_count_follow_the_virtual_clock(qmgr, sqs):
    url = sqs.create_queue(QueueName="visibility", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    first = receive(sqs, url)
    assert [m["Body"] for m in first] == ["once"]
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive(sqs, url) == []          # in flight
    qmgr.advance(29)
    assert receive(sqs, url) == []          # 29 s of 30: still invisible
    qmgr.advance(2)
    again = receive(sqs, url)
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_timestamps_count_from_the_sample_events_date_on_a_virtual_clock(qmgr, sqs):
    url = sqs.create_queue(QueueName="stamps")["QueueUrl"]
    now = qmgr.clock.now()
    sqs.send_message(QueueUrl=url, MessageBody="when")
    sent = int(receive(sqs, url)[0]["Attributes"]["SentTimestamp"])
    assert sent == round((DEFAULT_TIME.timestamp() + now) * 1000)


def test_a_message_moves_to_the_dead_letter_queue_after_max_receive_count(qmgr, sqs):
    dlq = sqs.create_queue(QueueName="poison-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="poison", Attributes={
        "VisibilityTimeout": "10",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for attempt in (1, 2):
        got = receive(sqs, url)
        assert got and got[0]["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        qmgr.advance(11)
    assert receive(sqs, url) == []  # the third receive moves it instead of delivering it
    moved = receive(sqs, dlq)
    assert [m["Body"] for m in moved] == ["poison"]


def test_fifo_keeps_order_in_a_group_and_blocks_the_group_while_a_message_is_in_flight(qmgr, sqs):
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "20"})["QueueUrl"]
    for body, group in [("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = receive(sqs, url, 1)
    assert [m["Body"] for m in first] == ["a1"]
    # A is blocked while a1 is in flight: the next receive serves group B only.
    b = receive(sqs, url)
    assert [m["Body"] for m in b] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=b[0]["ReceiptHandle"])
    qmgr.advance(21)  # a1 was not deleted: it comes back first, before a2
    retried = receive(sqs, url, 1)
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in retried] == [("a1", "2")]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=retried[0]["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a2", "a3"]


def test_message_attributes_and_their_md5_as_sqs_computes_it(qmgr, sqs):
    url = sqs.create_queue(QueueName="attributes")["QueueUrl"]
    attributes = {"Author": {"DataType": "String", "StringValue": "John Grisham"},
                  "WeeksOn": {"DataType": "Number", "StringValue": "6"},
                  "Cover": {"DataType": "Binary", "BinaryValue": b"\x89PNG"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="book", MessageAttributes=attributes)
    got = receive(sqs, url)[0]
    assert got["MessageAttributes"] == attributes
    assert got["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"] == message_attributes_md5(attributes)


def test_the_message_size_limit(qmgr, sqs):
    url = sqs.create_queue(QueueName="sizes")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)  # 1 MiB: SQS's limit since August 2025
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_577)
    assert "Message must be shorter than 1048576 bytes" in str(error.value)
    old = sqs.create_queue(QueueName="sizes-256k", Attributes={"MaximumMessageSize": "262144"})["QueueUrl"]
    sqs.send_message(QueueUrl=old, MessageBody="x" * 262_144)  # the 256 KB limit of before
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=old, MessageBody="x" * 262_145)
    assert "Message must be shorter than 262144 bytes" in str(error.value)


def _post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=b"Action=ListQueues", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_unsigned_requests_web_pages_and_motos_control_api_are_refused(qmgr, sqs):
    sqs.create_queue(QueueName="guarded")
    assert _post(qmgr.sqs_url + "/", {}) == 403
    signed = "AWS4-HMAC-SHA256 Credential=local/20240115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
    assert _post(qmgr.sqs_url + "/", {"Authorization": signed}) == 200
    assert _post(qmgr.sqs_url + "/", {"Authorization": signed, "Origin": "https://evil.example"}) == 403
    assert _post(qmgr.sqs_url + "/moto-api/reset", {"Authorization": signed}) == 404
    assert "guarded" in "".join(sqs.list_queues().get("QueueUrls", []))  # nothing was reset


def test_reset_forgets_every_queue_and_keeps_the_endpoint():
    with lw.ContainerManager(virtual_clock=True) as mgr:
        sqs = client(mgr)
        sqs.create_queue(QueueName="gone")
        url = mgr.sqs_url
        mgr.reset()
        assert mgr.sqs_url == url
        assert sqs.list_queues().get("QueueUrls", []) == []
    with pytest.raises(RuntimeError):
        mgr.sqs_url  # noqa: B018 - a closed manager has no endpoint


SENDER = """import os

import boto3


def lambda_handler(event, context):
    sqs = boto3.client("sqs")  # AWS_ENDPOINT_URL_SQS points it at the notebook's endpoint
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=event["body"])
    return os.environ["AWS_ENDPOINT_URL_SQS"]
"""


def test_handlers_reach_the_endpoint_through_aws_endpoint_url_sqs(isolation):
    with lw.ContainerManager(virtual_clock=True) as mgr:
        sqs = client(mgr)
        url = sqs.create_queue(QueueName="from-handlers")["QueueUrl"]
        mgr.register("sender", SENDER, timeout=30)
        inv = mgr.invoke("sender", {"queue": "from-handlers", "body": f"sent in {isolation}"})
        assert inv.status == "succeeded", inv.error
        assert inv.result == mgr.sqs_url
        assert [m["Body"] for m in receive(sqs, url)] == [f"sent in {isolation}"]
        fn_env = mgr.register("own", SENDER, env={"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9"})
        assert fn_env.env["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:9"  # the function's own value wins


def test_an_endpoint_whose_process_died_warns_and_is_replaced():
    from lambda_widget.front.sqs import SqsWarning

    with lw.ContainerManager(virtual_clock=True) as mgr:
        mgr.sqs_url  # noqa: B018
        endpoint = mgr.__dict__["_sqs_endpoint"]
        endpoint._proc.kill()
        endpoint._proc.wait()
        with pytest.warns(SqsWarning, match="did not follow the clock"):
            mgr.advance(1)                       # the manager goes on
        with pytest.warns(SqsWarning, match="a new one starts"):
            mgr.sqs_url  # noqa: B018
        assert mgr.__dict__["_sqs_endpoint"] is not endpoint and mgr.__dict__["_sqs_endpoint"].alive
        assert client(mgr).list_queues().get("QueueUrls", []) == []
