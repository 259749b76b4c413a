"""Limits: payload sizes (reference §3, §7) and the configuration ranges CreateFunction enforces."""

from __future__ import annotations

import json

import pytest
from conftest import report_fields

import lambda_widget as lw

SYNC_LIMIT = 6 * 1024 * 1024  # 6,291,456 bytes, as AWS quotes for requests
RESPONSE_LIMIT = 6_291_556  # as AWS quotes for responses
ASYNC_LIMIT = 1024 * 1024

ECHO_SIZE_SOURCE = """
import json


def lambda_handler(event, context):
    return len(json.dumps(event))
"""

# Returns a JSON string whose encoded body is exactly event["size"] bytes.
SIZED_RESPONSE_SOURCE = """
def lambda_handler(event, context):
    return "y" * (event["size"] - 2)
"""


def string_event(size: int) -> str:
    """An event whose JSON payload is exactly ``size`` bytes."""
    event = "a" * (size - 2)
    assert len(json.dumps(event)) == size
    return event


@pytest.mark.parametrize(("invocation_type", "limit"), [("RequestResponse", SYNC_LIMIT),
                                                         ("Event", ASYNC_LIMIT)])
def test_request_over_the_limit_raises_request_too_large(mgr, invocation_type, limit):
    mgr.register("sized", ECHO_SIZE_SOURCE, trace=False)

    with pytest.raises(lw.RequestTooLargeException) as caught:
        mgr.invoke("sized", string_event(limit + 1), invocation_type=invocation_type)

    assert caught.value.code == "RequestTooLargeException"
    assert caught.value.args[0] == (f"{limit + 1} byte payload is too large for the {invocation_type} "
                                    f"invocation type (limit {limit} bytes)")
    assert mgr.history == [] and mgr.all_containers == []


def test_requests_at_the_limits_are_accepted(mgr):
    mgr.register("sized", ECHO_SIZE_SOURCE, trace=False, timeout=30)
    inv = mgr.invoke("sized", string_event(SYNC_LIMIT))
    assert (inv.status, inv.result) == ("succeeded", SYNC_LIMIT)
    queued = mgr.invoke("sized", string_event(ASYNC_LIMIT), invocation_type="Event")
    assert queued.invocation_type == "Event"


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_response_over_6_mb_is_function_response_size_too_large(mgr, runtime):
    mgr.register("big-response", SIZED_RESPONSE_SOURCE, runtime=runtime, trace=False, timeout=30)
    size = 7_000_000

    inv = mgr.invoke("big-response", {"size": size})

    assert inv.status == "failed"
    assert inv.result is None
    assert inv.error == {"errorMessage": f"Response payload size exceeded maximum allowed "
                                         f"payload size ({RESPONSE_LIMIT} bytes).",  # recorded 2025-11
                         "errorType": "Function.ResponseSizeTooLarge"}
    fields = report_fields(inv)
    assert (fields["Status"], fields["Error Type"]) == ("error", "Function.ResponseSizeTooLarge")

    after = mgr.invoke("big-response", {"size": 10})
    assert after.status == "succeeded", after.error
    assert after.result == "y" * 8


def test_response_limit_is_the_one_lambda_quotes(mgr):
    mgr.register("edge-response", SIZED_RESPONSE_SOURCE, trace=False, timeout=30)
    at_limit = mgr.invoke("edge-response", {"size": RESPONSE_LIMIT})
    over = mgr.invoke("edge-response", {"size": RESPONSE_LIMIT + 1})
    assert over.error["errorType"] == "Function.ResponseSizeTooLarge"
    assert at_limit.status == "succeeded", at_limit.error
    assert len(at_limit.result) == RESPONSE_LIMIT - 2


@pytest.mark.parametrize(("option", "value", "words"), [
    ("timeout", 0.5, "between 1 and 900 seconds"),
    ("timeout", 901, "between 1 and 900 seconds"),
    ("timeout", 0, "between 1 and 900 seconds"),
    ("memory_mb", 127, "from 128 to 10240"),
    ("memory_mb", 10241, "from 128 to 10240"),
    ("memory_mb", 256.0, "whole number"),
])
def test_out_of_range_configuration_is_rejected_at_registration(mgr, option, value, words):
    with pytest.raises(lw.InvalidParameterValueException) as caught:
        mgr.register("limited", "def lambda_handler(event, context):\n    return 1\n", **{option: value})
    assert caught.value.code == "InvalidParameterValueException"
    assert words in str(caught.value) and repr(value) in str(caught.value)
    assert "limited" not in mgr.functions


def test_configuration_at_the_edges_is_accepted(mgr):
    source = "def lambda_handler(event, context):\n    return 1\n"
    for config in ({"timeout": 1, "memory_mb": 128}, {"timeout": 900, "memory_mb": 10240}):
        fn = mgr.register("edges", source, **config)
        assert (fn.timeout, fn.memory_mb) == (config["timeout"], config["memory_mb"])
    assert mgr.invoke("edges", {}).result == 1
