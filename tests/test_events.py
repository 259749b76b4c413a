"""Sample events: the keys AWS consumers rely on, JSON-serialisable, deterministic, adjustable."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qsl, unquote_plus

import pytest

import lambda_widget as lw
from lambda_widget import events


@pytest.mark.parametrize("name", sorted(events.SAMPLES))
def test_every_sample_is_json_and_deterministic(name: str) -> None:
    first = events.SAMPLES[name]()
    assert json.loads(json.dumps(first)) == first
    assert events.SAMPLES[name]() == first
    assert events.sample(name) == first


def test_registry_names_and_lazy_export() -> None:
    assert set(events.SAMPLES) == {"apigw-rest", "apigw-http", "s3-put", "sqs", "sns",
                                   "eventbridge-schedule", "dynamodb-stream"}
    assert lw.events is events
    assert lw.events.s3_put(bucket="b")["Records"][0]["s3"]["bucket"]["name"] == "b"
    with pytest.raises(KeyError, match="s3-put"):
        events.sample("s3-get")


def test_apigateway_rest_proxy_v1() -> None:
    ev = events.apigateway_rest("post", "/orders/42", body={"qty": 2}, query={"tag": ["a", "b"], "page": 3},
                                path_parameters={"id": "42"}, resource="/orders/{id}", stage="dev",
                                stage_variables={"table": "orders-dev"}, headers={"Authorization": "x"})
    for key in ("resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext",
                "body", "isBase64Encoded"):
        assert key in ev
    assert ev["httpMethod"] == "POST" and ev["path"] == "/orders/42" and ev["resource"] == "/orders/{id}"
    assert json.loads(ev["body"]) == {"qty": 2} and ev["isBase64Encoded"] is False
    assert ev["headers"]["Content-Type"] == "application/json" and ev["headers"]["Authorization"] == "x"
    assert ev["multiValueHeaders"]["Authorization"] == ["x"]
    assert ev["queryStringParameters"] == {"tag": "b", "page": "3"}  # v1 keeps the last value
    assert ev["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert ev["pathParameters"] == {"id": "42"} and ev["stageVariables"] == {"table": "orders-dev"}
    ctx = ev["requestContext"]
    assert ctx["httpMethod"] == "POST" and ctx["stage"] == "dev" and ctx["resourcePath"] == "/orders/{id}"
    assert ctx["path"] == "/dev/orders/42" and ctx["identity"]["sourceIp"]
    assert ctx["requestTimeEpoch"] == 1705320000000 and ctx["requestTime"] == "15/Jan/2024:12:00:00 +0000"


def test_apigateway_rest_get_has_null_fields_like_aws() -> None:
    ev = events.apigateway_rest()
    assert ev["body"] is None
    assert ev["queryStringParameters"] is None and ev["multiValueQueryStringParameters"] is None
    assert ev["pathParameters"] is None and ev["stageVariables"] is None


def test_apigateway_rest_binary_body_is_base64() -> None:
    ev = events.apigateway_rest("PUT", "/blob", body=b"\x00\x01")
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\x00\x01"


def test_apigateway_http_payload_v2() -> None:
    ev = events.apigateway_http("post", "/items", body="hi", query={"q": ["x", "y"]}, cookies=["a=1"],
                                headers={"X-Custom": "1"}, path_parameters={"id": "7"})
    assert ev["version"] == "2.0" and ev["routeKey"] == "POST /items" and ev["rawPath"] == "/items"
    assert dict(parse_qsl(ev["rawQueryString"])) == {"q": "y"} and ev["rawQueryString"] == "q=x&q=y"
    assert ev["queryStringParameters"] == {"q": "x,y"}  # v2 joins repeated values with commas
    assert ev["cookies"] == ["a=1"] and ev["pathParameters"] == {"id": "7"}
    assert all(k == k.lower() for k in ev["headers"]) and ev["headers"]["x-custom"] == "1"
    assert "multiValueHeaders" not in ev
    http = ev["requestContext"]["http"]
    assert http["method"] == "POST" and http["path"] == "/items" and http["sourceIp"]
    assert ev["body"] == "hi" and ev["isBase64Encoded"] is False


def test_apigateway_http_leaves_out_empty_optional_keys() -> None:
    ev = events.apigateway_http(stage="prod")
    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert key not in ev
    assert ev["rawQueryString"] == "" and ev["rawPath"] == "/prod/hello"


def test_s3_put() -> None:
    ev = events.s3_put(bucket="photos", key="holiday pics/cat 1.jpg", size=2048)
    (record,) = ev["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {"name": "photos", "ownerIdentity": record["s3"]["bucket"]["ownerIdentity"],
                                      "arn": "arn:aws:s3:::photos"}
    obj = record["s3"]["object"]
    assert obj["key"] == "holiday+pics/cat+1.jpg"  # URL-encoded, as S3 sends it
    assert unquote_plus(obj["key"]) == "holiday pics/cat 1.jpg"
    assert obj["size"] == 2048 and obj["eTag"] and obj["sequencer"]
    assert record["eventTime"] == "2024-01-15T12:00:00.000Z"
    assert events.s3_put(key="a.txt") != events.s3_put(key="b.txt")


def test_sqs_batch() -> None:
    ev = events.sqs(messages=["one", {"order": 7}], queue="jobs", attributes={"priority": 1})
    first, second = ev["Records"]
    assert first["body"] == "one" and json.loads(second["body"]) == {"order": 7}
    assert first["messageId"] != second["messageId"]
    assert first["md5OfBody"] == hashlib.md5(b"one").hexdigest()
    assert first["eventSource"] == "aws:sqs" and first["eventSourceARN"].endswith(":jobs")
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["messageAttributes"]["priority"]["dataType"] == "Number"
    assert len(events.sqs()["Records"]) == 1


def test_sns_notification() -> None:
    (record,) = events.sns(message={"alert": "disk"}, subject="Ops")["Records"]
    assert record["EventSource"] == "aws:sns"
    sns = record["Sns"]
    assert sns["Type"] == "Notification" and sns["Subject"] == "Ops"
    assert json.loads(sns["Message"]) == {"alert": "disk"} and sns["TopicArn"].startswith("arn:aws:sns:")
    assert events.sns()["Records"][0]["Sns"]["Subject"] is None


def test_eventbridge_schedule() -> None:
    ev = events.eventbridge_schedule("nightly", time="2024-03-01T02:00:00Z")
    assert ev["detail-type"] == "Scheduled Event" and ev["source"] == "aws.events"
    assert ev["time"] == "2024-03-01T02:00:00Z" and ev["resources"][0].endswith(":rule/nightly")
    assert ev["detail"] == {} and ev["version"] == "0"


def test_dynamodb_stream_default_batch() -> None:
    records = events.dynamodb_stream()["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["Keys"] == {"Id": {"N": "101"}} and "OldImage" not in insert
    assert insert["NewImage"]["Message"] == {"S": "New item!"}
    assert modify["OldImage"]["Message"] == {"S": "New item!"} and "NewImage" in modify
    assert "NewImage" not in remove and remove["OldImage"]["Id"] == {"N": "101"}
    assert all(r["eventSource"] == "aws:dynamodb" and "/stream/" in r["eventSourceARN"] for r in records)
    assert len({r["eventID"] for r in records}) == 3


def test_dynamodb_stream_custom_records_and_types() -> None:
    ev = events.dynamodb_stream([{"eventName": "INSERT", "new": {
        "pk": "user#1", "n": 2.5, "ok": True, "none": None, "tags": {"a", "b"}, "list": [1, "x"],
        "map": {"k": 1}, "raw": b"\x01"}}], key="pk", table="Users", view_type="KEYS_ONLY")
    (record,) = ev["Records"]
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "user#1"}}
    assert "NewImage" not in record["dynamodb"]  # KEYS_ONLY streams carry no images
    image = events.to_dynamodb_json({"n": 2.5, "ok": True, "none": None, "tags": {"b", "a"},
                                     "list": [1, "x"], "map": {"k": 1}, "raw": b"\x01"})["M"]
    assert image == {"n": {"N": "2.5"}, "ok": {"BOOL": True}, "none": {"NULL": True},
                     "tags": {"SS": ["a", "b"]}, "list": {"L": [{"N": "1"}, {"S": "x"}]},
                     "map": {"M": {"k": {"N": "1"}}}, "raw": {"B": "AQ=="}}
    with pytest.raises(ValueError, match="key attribute"):
        events.dynamodb_stream([{"eventName": "INSERT", "new": {"other": 1}}])
    with pytest.raises(ValueError, match="eventName"):
        events.dynamodb_stream([{"eventName": "UPSERT", "new": {"Id": 1}}])
