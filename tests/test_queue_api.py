"""The event source mapping API on the Lambda front, against recordings of real AWS.

``tests/data/queues/aws-recordings.json`` holds what AWS answered to LocalStack's SQS event source mapping
tests (placeholders for ids: ``<uuid:1>``, ``111111111111``...). boto3 and the AWS CLI call this front; the
answers must have the recorded keys, states, status codes and messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_widget as lw

RECORDED = json.loads((Path(__file__).parent / "data" / "queues" / "aws-recordings.json").read_text())["recordings"]
ECHO = "def lambda_handler(event, context):\n    return event\n"


def recorded(test: str, key: str) -> dict:
    return RECORDED[test]["recorded-content"][key]


def without_metadata(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "ResponseMetadata"}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple]:
    with lw.ContainerManager(seed=5, virtual_clock=True) as mgr:
        endpoint = mgr.serve()
        keys = dict(region_name=mgr.region, aws_access_key_id="local", aws_secret_access_key="local")
        yield mgr, endpoint, boto3.client("lambda", endpoint_url=endpoint.url, **keys), \
            boto3.client("sqs", endpoint_url=mgr.sqs_url, **keys)


@pytest.fixture
def lam(world):
    mgr, _, client, _ = world
    for m in client.list_event_source_mappings()["EventSourceMappings"]:
        client.delete_event_source_mapping(UUID=m["UUID"])
    return client


@pytest.fixture
def mgr(world):
    return world[0]


@pytest.fixture
def sqs(world):
    return world[3]


def queue_arn(sqs, name: str, **attributes: str) -> str:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def error_of(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return {"code": response["Error"]["Code"], "message": response["Error"]["Message"],
            "status": response["ResponseMetadata"]["HTTPStatusCode"],
            "keys": sorted(k for k in response if k not in ("Error", "ResponseMetadata"))}


def recorded_error(test: str, key: str) -> dict:
    response = recorded(test, key)
    return {"code": response["Error"]["Code"], "message": response["Error"]["Message"],
            "status": response["ResponseMetadata"]["HTTPStatusCode"],
            "keys": sorted(k for k in response if k not in ("Error", "ResponseMetadata"))}


def test_the_lifecycle_has_the_recorded_shapes_and_states(mgr, lam, sqs):
    arn = queue_arn(sqs, "lifecycle")
    mgr.register("echo", ECHO, timeout=30)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo")
    expected = recorded("TestSQSEventSourceMapping::test_event_source_mapping_default_batch_size",
                        "create-event-source-mapping")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert sorted(without_metadata(created)) == sorted(without_metadata(expected))
    for key in ("BatchSize", "FunctionResponseTypes", "MaximumBatchingWindowInSeconds", "State",
                "StateTransitionReason"):
        assert created[key] == expected[key], key
    assert created["EventSourceArn"] == arn
    assert created["EventSourceMappingArn"] == f"arn:aws:lambda:{mgr.region}:{mgr.account_id}:event-source-mapping:{created['UUID']}"
    assert created["FunctionArn"] == f"arn:aws:lambda:{mgr.region}:{mgr.account_id}:function:echo"
    got = lam.get_event_source_mapping(UUID=created["UUID"])
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["State"] == "Enabled"
    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)
    recorded_update = recorded("TestSQSEventSourceMapping::test_sqs_event_source_mapping_update", "updated_esm")
    assert (updated["ResponseMetadata"]["HTTPStatusCode"], updated["State"]) == (202, recorded_update["State"])
    assert updated["BatchSize"] == 5
    deleted = lam.delete_event_source_mapping(UUID=created["UUID"])
    assert (deleted["ResponseMetadata"]["HTTPStatusCode"], deleted["State"]) == (202, "Deleting")
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_disabled_then_enabled_as_recorded(mgr, lam, sqs):
    arn = queue_arn(sqs, "switched.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    mgr.register("echo", ECHO, timeout=30)
    test = "test_fifo_message_group_parallelism"
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo", Enabled=False, BatchSize=1)
    assert (created["ResponseMetadata"]["HTTPStatusCode"], created["State"]) == (202, recorded(test, "create_esm_disabled")["State"])
    enabling = lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
    assert enabling["State"] == recorded(test, "update_esm_enabling")["State"] == "Enabling"
    assert lam.get_event_source_mapping(UUID=created["UUID"])["State"] == recorded(test, "get_esm_enabled")["State"]


def test_scaling_config_and_filter_criteria_come_back_as_recorded(mgr, lam, sqs):
    arn = queue_arn(sqs, "configured")
    mgr.register("echo", ECHO, timeout=30)
    pattern = json.dumps({"body": {"my-number": [{"numeric": [">=", 100, "<", 200]}]}})
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo", BatchSize=20,
                                              MaximumBatchingWindowInSeconds=1,
                                              ScalingConfig={"MaximumConcurrency": 2},
                                              FilterCriteria={"Filters": [{"Pattern": pattern}]})
    scaled = recorded("TestSQSEventSourceMapping::test_sqs_event_source_mapping_batching_reserved_concurrency",
                      "create-event-source-mapping-response")
    filtered = recorded("TestSQSEventSourceMapping::test_sqs_event_filter[numeric-range]",
                        "create_event_source_mapping_response")
    assert created["ScalingConfig"] == scaled["ScalingConfig"]
    assert json.loads(created["FilterCriteria"]["Filters"][0]["Pattern"]) == \
        filtered["FilterCriteria"]["Filters"][0]["Pattern"]
    assert sorted(without_metadata(created)) == sorted(set(without_metadata(scaled)) | {"FilterCriteria"})
    removed = lam.update_event_source_mapping(UUID=created["UUID"], ScalingConfig={})
    assert "ScalingConfig" not in removed


def test_a_qualified_function_name_shows_in_the_function_arn(mgr, lam, sqs):
    arn = queue_arn(sqs, "qualified")
    mgr.register("echo", ECHO, timeout=30)
    partial = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{mgr.account_id}:function:echo:$LATEST")
    recorded_arn = recorded("TestLambdaEventSourceMappings::test_function_name_variations",
                            "partial_arn_latest_create_esm")["FunctionArn"]
    assert recorded_arn.endswith(":$LATEST") and partial["FunctionArn"].endswith(":function:echo:$LATEST")


def test_list_filters_by_queue_and_function_and_pages(mgr, lam, sqs):
    mgr.register("echo", ECHO, timeout=30)
    mgr.register("other", ECHO)
    arns = [queue_arn(sqs, f"listed-{i}") for i in range(3)]
    for arn in arns:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo")
    lam.create_event_source_mapping(EventSourceArn=arns[0], FunctionName="other")
    assert len(lam.list_event_source_mappings(EventSourceArn=arns[0])["EventSourceMappings"]) == 2
    assert len(lam.list_event_source_mappings(FunctionName="other")["EventSourceMappings"]) == 1
    first = lam.list_event_source_mappings(FunctionName="echo", MaxItems=2)
    rest = lam.list_event_source_mappings(FunctionName="echo", Marker=first["NextMarker"])
    assert len(first["EventSourceMappings"]) == 2 and len(rest["EventSourceMappings"]) == 1
    assert "NextMarker" not in rest


def test_errors_are_the_recorded_ones(mgr, lam, sqs):
    mgr.register("echo", ECHO, timeout=30)
    arn = queue_arn(sqs, "errors")
    api = "TestLambdaEventSourceMappings::test_event_source_mapping_exceptions"
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_of(lambda: lam.get_event_source_mapping(UUID=unknown)) == recorded_error(api, "get_unknown_uuid")
    assert error_of(lambda: lam.delete_event_source_mapping(UUID=unknown)) == recorded_error(api, "delete_unknown_uuid")
    assert error_of(lambda: lam.update_event_source_mapping(UUID=unknown, Enabled=False)) == \
        recorded_error(api, "update_unknown_uuid")
    assert error_of(lambda: lam.create_event_source_mapping(FunctionName="echo")) == \
        recorded_error(api, "create_no_event_source_arn")
    assert error_of(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="nobody")) == \
        recorded_error(api, "create_unknown_params")
    assert error_of(lambda: lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": arn}})) == \
        recorded_error(api, "destination_config_failure")
    missing = arn.rsplit(":", 1)[0] + ":not-existing-queue"
    assert error_of(lambda: lam.create_event_source_mapping(EventSourceArn=missing, FunctionName="echo",
                                                            BatchSize=1)) == \
        recorded_error("test_esm_with_not_existing_sqs_queue", "error")
    batch = "TestSQSEventSourceMapping::test_event_source_mapping_default_batch_size"
    assert error_of(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo",
                                                            BatchSize=11)) == \
        recorded_error(batch, "invalid-create-event-source-mapping")
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo")
    assert error_of(lambda: lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=11)) == \
        recorded_error(batch, "invalid-update-event-source-mapping")
    duplicate = error_of(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo"))
    expected = recorded_error("TestSQSEventSourceMapping::test_duplicate_event_source_mappings", "error")
    assert (duplicate["code"], duplicate["status"], duplicate["keys"]) == (expected["code"], expected["status"],
                                                                           expected["keys"])
    assert duplicate["message"] == (f'An event source mapping with SQS arn (" {arn} ") and function (" echo ") '
                                    f'already exists. Please update or delete the existing mapping with UUID '
                                    f'{created["UUID"]}')


@pytest.mark.parametrize("case, pattern", [("None", None), ("simple string", "simple string"),
                                           ("invalid_filter2", {"eventSource": "aws:sqs"}),
                                           ("invalid_filter3", {"eventSource": []})])
def test_invalid_filters_are_refused_as_recorded(mgr, lam, sqs, case, pattern):
    mgr.register("echo", ECHO, timeout=30)
    arn = queue_arn(sqs, "filters")
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    assert error_of(lambda: lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="echo", MaximumBatchingWindowInSeconds=1,
        FilterCriteria={"Filters": [{"Pattern": text}]})) == \
        recorded_error(f"TestSQSEventSourceMapping::test_sqs_invalid_event_filter[{case}]",
                       "create_event_source_mapping_exception")


def test_a_window_on_a_fifo_queue_and_stream_parameters_are_refused(mgr, lam, sqs):
    mgr.register("echo", ECHO, timeout=30)
    fifo = queue_arn(sqs, "windowed.fifo", FifoQueue="true")
    refused = error_of(lambda: lam.create_event_source_mapping(EventSourceArn=fifo, FunctionName="echo",
                                                               MaximumBatchingWindowInSeconds=5))
    assert (refused["code"], refused["status"], refused["message"]) == (
        "InvalidParameterValueException", 400, "Batching window is not supported for FIFO queues")
    stream = error_of(lambda: lam.create_event_source_mapping(EventSourceArn=fifo, FunctionName="echo",
                                                              StartingPosition="LATEST"))
    assert stream["message"] == "Unsupported 'startingPosition' parameter for given event source mapping type."


def test_a_mapping_made_through_the_api_delivers_the_recorded_event(mgr, lam, sqs):
    url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
    arn = queue_arn(sqs, "delivered")
    mgr.register("echo", ECHO, timeout=30)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="echo", MaximumBatchingWindowInSeconds=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"foo": "bar"}))
    mgr.advance(1)  # a virtual clock: the pollers work when it moves; the 1 s window closes
    record = mgr.history[-1].result["Records"][0]
    expected = recorded("TestSQSEventSourceMapping::test_sqs_event_source_mapping", "events")[0]["Records"][0]
    assert list(record) == list(expected)  # with a window: md5OfMessageAttributes null, as recorded
    assert sorted(record["attributes"]) == sorted(expected["attributes"])
    assert record["md5OfMessageAttributes"] is None and expected["md5OfMessageAttributes"] is None
    assert json.loads(record["body"]) == expected["body"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_the_aws_cli_lists_and_creates_mappings(mgr, lam, sqs, world):
    endpoint = world[1]
    mgr.register("echo", ECHO, timeout=30)
    arn = queue_arn(sqs, "from-the-cli")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
           "AWS_DEFAULT_REGION": mgr.region}
    cli = [sys.executable, "-m", "awscli", "lambda", "--endpoint-url", endpoint.url, "--output", "json"]
    made = subprocess.run(cli + ["create-event-source-mapping", "--event-source-arn", arn, "--function-name", "echo",
                                 "--batch-size", "5"], capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["State"] == "Creating"
    listed = subprocess.run(cli + ["list-event-source-mappings", "--function-name", "echo"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert [m["BatchSize"] for m in json.loads(listed.stdout)["EventSourceMappings"]] == [5]


def test_lambda_widget_serve_serves_sqs_and_mappings(tmp_path):
    handler = tmp_path / "worker.py"
    handler.write_text("def lambda_handler(event, context):\n    return [r['body'] for r in event['Records']]\n")
    proc = subprocess.Popen([sys.executable, "-m", "lambda_widget.cli", "serve", str(handler), "--port", "0",
                             "--sqs-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        for line in proc.stdout:  # what serve prints before it waits
            lines.append(line)
            if line.startswith("Ctrl-C stops."):
                break
        else:
            raise AssertionError("serve ended early:\n" + "".join(lines))
        invoke_url = next(line.split()[2] for line in lines if line.startswith("Invoke API:"))
        sqs_endpoint = next(line.split()[1] for line in lines if line.startswith("SQS:"))
        keys = dict(region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
        sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, **keys)
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam = boto3.client("lambda", endpoint_url=invoke_url, **keys)
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker")
        sqs.send_message(QueueUrl=url, MessageBody="hello")  # a real clock: the pollers find it themselves
        assert "#1 worker $LATEST RequestResponse cold (first-invocation)" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
