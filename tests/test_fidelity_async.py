"""Asynchronous invocations (``invocation_type="Event"``), retries on the manager's clock,
destinations, the event-age limit, and ``DryRun`` (reference §7).

Managers here use a virtual clock: only ``advance()`` moves time, so retries come due
exactly when a lesson says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import wait_for

import lambda_widget as lw

FAILING_SOURCE = "def lambda_handler(event, context):\n    raise ValueError('nope')\n"

# Fails on the first call a process serves, succeeds after.
FLAKY_SOURCE = """
calls = 0


def lambda_handler(event, context):
    global calls
    calls += 1
    if calls == 1:
        raise RuntimeError("first call fails")
    return {"calls": calls, "echo": event}
"""

SLOW_SOURCE = """
import time


def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return event
"""

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}:$LATEST"


@pytest.fixture
def vmgr() -> Iterator[lw.ContainerManager]:
    with lw.ContainerManager(seed=3, virtual_clock=True) as manager:
        yield manager


def attempt(mgr: lw.ContainerManager, first: lw.Invocation, number: int) -> lw.Invocation | None:
    """The record of attempt ``number`` of the Event ``first`` (same request id)."""
    return next((i for i in mgr.history if i.request_id == first.request_id and i.attempt == number), None)


def test_event_returns_at_once_with_a_queued_record_and_runs(vmgr):
    successes: list[dict] = []
    published: list[str] = []
    vmgr.register("slow", SLOW_SOURCE, on_success=successes)
    vmgr.observe(lambda _: published.extend(i.status for i in vmgr.history[-1:]), names="revision")

    inv = vmgr.invoke("slow", {"sleep": 1.0}, invocation_type="Event")

    assert isinstance(inv, lw.Invocation)
    assert not inv.done and inv.result is None
    assert inv.invocation_type == "Event" and inv.attempt == 1
    assert published[0] == "queued"  # the record was published queued, before it ran
    assert wait_for(lambda: inv.done, timeout=15)
    assert inv.status == "succeeded" and inv.result == {"sleep": 1.0}
    assert wait_for(lambda: successes, timeout=5)
    [record] = successes
    assert record["version"] == "1.0"
    assert _TIMESTAMP.match(record["timestamp"])
    assert record["requestContext"] == {"requestId": inv.request_id, "functionArn": ARN.format("slow"),
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"sleep": 1.0}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"sleep": 1.0}


def test_failure_is_retried_60_and_120_seconds_later_then_goes_to_on_failure(vmgr):
    failures: list[dict] = []
    vmgr.register("failing", FAILING_SOURCE, on_failure=failures)

    first = vmgr.invoke("failing", {"order": 7}, invocation_type="Event")
    assert wait_for(lambda: first.done and attempt(vmgr, first, 2) is not None, timeout=10)
    assert first.status == "failed"
    second = attempt(vmgr, first, 2)
    assert (second.status, second.submitted_at) == ("queued", first.ended_at + 60)

    vmgr.advance(59)
    assert second.status == "queued"
    vmgr.advance(1)
    assert second.done and second.status == "failed"  # advance() ran the due retry and waited
    assert wait_for(lambda: attempt(vmgr, first, 3) is not None, timeout=5)
    third = attempt(vmgr, first, 3)
    assert third.submitted_at == second.ended_at + 120

    vmgr.advance(119)
    assert third.status == "queued" and not failures
    vmgr.advance(1)
    assert third.done and third.status == "failed"

    assert wait_for(lambda: failures, timeout=5)
    [record] = failures
    assert record["requestContext"] == {"requestId": first.request_id, "functionArn": ARN.format("failing"),
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"] == third.error
    assert record["responsePayload"]["errorType"] == "ValueError"
    vmgr.advance(600)
    assert attempt(vmgr, first, 4) is None and len(failures) == 1


def test_retries_that_come_due_while_advance_reaps_have_run_when_it_returns(vmgr):
    # advance(60) both reaps the idle environment (idle_timeout=30) and makes the retry due.
    for round_number in range(3):
        name = f"failing-reaped-{round_number}"
        vmgr.register(name, FAILING_SOURCE, idle_timeout=30)
        first = vmgr.invoke(name, {}, invocation_type="Event")
        assert wait_for(lambda first=first: first.done and attempt(vmgr, first, 2) is not None, timeout=10)
        second = attempt(vmgr, first, 2)

        reaped = vmgr.advance(60)

        # This round's environment is reaped (an earlier round's retry environment may be too).
        assert first.container_id in [e.id for e in reaped]
        assert second.done, f"round {round_number}: advance() returned with the retry {second.status}"


def test_success_after_a_retry_goes_to_on_success_with_the_invoke_count(vmgr):
    successes, failures = [], []
    vmgr.register("flaky", FLAKY_SOURCE, on_success=successes.append, on_failure=failures.append)

    first = vmgr.invoke("flaky", {"n": 1}, invocation_type="Event")
    assert wait_for(lambda: first.done and attempt(vmgr, first, 2) is not None, timeout=10)
    vmgr.advance(60)
    assert wait_for(lambda: successes, timeout=10)

    [record] = successes
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"] == {"calls": 2, "echo": {"n": 1}}
    assert failures == []
    vmgr.advance(600)
    assert attempt(vmgr, first, 3) is None


def test_max_retry_attempts_zero_fails_at_once(vmgr):
    failures: list[dict] = []
    vmgr.register("no-retry", FAILING_SOURCE, max_retry_attempts=0, on_failure=failures)

    first = vmgr.invoke("no-retry", {}, invocation_type="Event")

    assert wait_for(lambda: failures, timeout=10)
    assert failures[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert failures[0]["requestContext"]["approximateInvokeCount"] == 1
    vmgr.advance(600)
    assert [i.attempt for i in vmgr.history if i.request_id == first.request_id] == [1]


def test_throttled_event_older_than_max_event_age_is_dropped(vmgr):
    failures: list[dict] = []
    vmgr.register("throttled", SLOW_SOURCE, reserved_concurrency=0, max_event_age=60,
                  on_failure=failures)

    first = vmgr.invoke("throttled", {"k": 1}, invocation_type="Event")
    assert wait_for(lambda: first.done, timeout=10)
    assert first.status == "throttled"
    for _ in range(30):
        if failures:
            break
        vmgr.advance(10)
        assert wait_for(lambda: all(i.done for i in vmgr.history if i.submitted_at <= vmgr.clock.now()),
                        timeout=10)

    [record] = failures
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"k": 1}
    assert "responsePayload" not in record
    attempts = [i for i in vmgr.history if i.request_id == first.request_id]
    assert attempts[-1].status == "dropped"
    assert {i.status for i in attempts[:-1]} == {"throttled"}
    assert vmgr.all_containers == []  # a throttled event never gets an environment


def test_a_destination_that_raises_does_not_hurt_the_manager(vmgr):
    def broken(record: dict) -> None:
        raise RuntimeError("destination down")

    vmgr.register("to-broken", SLOW_SOURCE, on_success=broken)
    inv = vmgr.invoke("to-broken", {"x": 1}, invocation_type="Event")
    assert wait_for(lambda: inv.done, timeout=10)
    assert inv.status == "succeeded"
    assert vmgr.invoke("to-broken", {"x": 2}).result == {"x": 2}


def test_dry_run_validates_only(vmgr):
    vmgr.register("dry", SLOW_SOURCE)

    inv = vmgr.invoke("dry", {"k": 1}, invocation_type="DryRun")

    assert inv.status == "dry-run" and inv.done
    assert inv.result is None and inv.error is None and inv.container_id is None
    assert vmgr.all_containers == [] and vmgr.events == []
    with pytest.raises(lw.ResourceNotFoundException):
        vmgr.invoke("missing", {}, invocation_type="DryRun")
    with pytest.raises(lw.RequestTooLargeException):
        vmgr.invoke("dry", "x" * (6 * 1024 * 1024), invocation_type="DryRun")
    with pytest.raises(lw.InvalidRequestContentException):
        vmgr.invoke("dry", b"not json", invocation_type="DryRun")
    with pytest.raises(lw.InvalidParameterValueException):
        vmgr.invoke("dry", {}, invocation_type="Sometimes")
    assert vmgr.all_containers == []


@pytest.mark.parametrize(("option", "value"), [
    ("max_retry_attempts", 3), ("max_event_age", 59), ("max_event_age", 21601),
    ("on_failure", "not a destination"),
])
def test_async_configuration_is_validated_at_registration(vmgr, option, value):
    with pytest.raises(lw.InvalidParameterValueException, match=option):
        vmgr.register("bad-async", SLOW_SOURCE, **{option: value})
    assert "bad-async" not in vmgr.functions
