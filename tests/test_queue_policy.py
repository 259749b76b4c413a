"""The SQS event source mapping's rules as plain objects (placement.esm): no processes, no queue."""

from __future__ import annotations

import pytest

from lambda_widget.placement import esm
from lambda_widget.placement.esm import BatchWindow, MappingConfigError, PollerScaling

PAYLOAD_LIMIT = esm.PAYLOAD_LIMIT
batch_outcome, check_mapping = esm.batch_outcome, esm.check_mapping
throttle_retry_at, to_dead_letter = esm.throttle_retry_at, esm.to_dead_letter


def test_the_ramp_steps_300_a_minute_while_messages_remain_up_to_1000():
    scaling = PollerScaling()
    assert scaling.tick(0) == 5
    scaling.saw("backlog", 0)
    assert scaling.tick(59.9) == 5
    assert [scaling.tick(t) for t in (60, 120, 180, 240, 300)] == [305, 605, 905, 1000, 1000]


def test_a_quiet_minute_goes_back_to_five_and_a_new_backlog_ramps_from_then():
    scaling = PollerScaling()
    scaling.saw("backlog", 0)
    scaling.tick(60)
    scaling.saw("quiet", 70)
    assert scaling.tick(119) == 305 and scaling.tick(120) == 5
    scaling.saw("backlog", 500)
    assert scaling.tick(559) == 5 and scaling.tick(560) == 305


def test_maximum_concurrency_caps_the_ramp_and_the_start():
    assert PollerScaling(2).tick(0) == 2
    scaling = PollerScaling(50)
    scaling.saw("backlog", 0)
    assert scaling.tick(600) == 50
    scaling.set_maximum(None)
    assert scaling.tick(660) == 350


def test_throttles_and_errors_back_off_one_batch_each_and_hold_the_ramp_for_that_minute():
    scaling = PollerScaling()
    scaling.saw("backlog", 0)
    assert scaling.tick(60) == 305
    for t in (61, 62, 63):
        scaling.saw("throttle", t)
    assert scaling.target == 302
    assert scaling.tick(120) == 302          # no step in a minute with throttles
    assert scaling.tick(180) == 602          # the backlog is still what the pollers saw last
    for _ in range(1000):
        scaling.saw("error", 200)
    assert scaling.target == 5               # never below the starting five


def test_a_batch_closes_full_on_payload_at_the_window_or_when_nothing_waits():
    window = BatchWindow(batch_size=10, window=0)
    assert window.closed(0) is None
    window.add(100, 0)
    assert window.closed(0) == "available"
    timed = BatchWindow(batch_size=100, window=20)
    timed.add(100, 5)
    assert timed.closed(24.9) is None and timed.closed(25) == "window" and timed.closes_at() == 25
    full = BatchWindow(batch_size=2, window=300)
    full.add(10, 0)
    full.add(10, 0)
    assert full.closed(0) == "full" and full.wanted() == 0
    big = BatchWindow(batch_size=10, window=0)
    big.add(PAYLOAD_LIMIT - 100, 0)
    assert not big.fits(200) and big.fits(50) and big.closed(0, overflow=True) == "payload"
    assert BatchWindow(batch_size=10, window=0).fits(PAYLOAD_LIMIT * 2)  # the first always fits


@pytest.mark.parametrize("result, deleted, retried, note", [
    (None, ["a", "b", "c"], [], ""),
    ({}, ["a", "b", "c"], [], ""),
    ({"batchItemFailures": []}, ["a", "b", "c"], [], ""),
    ({"batchItemFailures": None}, ["a", "b", "c"], [], ""),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["a", "c"], ["b"], "1 of 3 reported failed"),
    ({"batchItemFailures": [{"foo": "notvalid"}]}, [], ["a", "b", "c"], "has no itemIdentifier"),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, [], ["a", "b", "c"], "has no itemIdentifier"),
    ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, [], ["a", "b", "c"], "not a message of this batch"),
    ({"batchItemFailures": "b"}, [], ["a", "b", "c"], "is not a list"),
    ("ok", [], ["a", "b", "c"], "the response is a str"),
])
def test_partial_batch_responses_follow_awss_rules(result, deleted, retried, note):
    outcome = batch_outcome("succeeded", result, ["a", "b", "c"], report_failures=True)
    assert (outcome.delete, outcome.retry) == (deleted, retried)
    assert note in outcome.note
    assert outcome.reported == (note == "1 of 3 reported failed")  # a partial response, not an error


def test_without_the_setting_a_response_is_not_read_and_a_failure_returns_everything():
    assert batch_outcome("succeeded", "anything", ["a"], report_failures=False).delete == ["a"]
    failed = batch_outcome("timed-out", None, ["a", "b"], report_failures=True)
    assert (failed.delete, failed.retry, failed.failed) == ([], ["a", "b"], True)


def test_a_throttled_batch_is_retried_with_backoff_until_its_visibility_timeout():
    assert [throttle_retry_at(0, n, 1000) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert throttle_retry_at(0, 20, 1000) == 60           # capped
    assert throttle_retry_at(28, 2, 30) is None           # 30 s would pass first: back to the queue


def test_the_redrive_rule():
    assert not to_dead_letter(2, 3) and to_dead_letter(3, 3) and not to_dead_letter(50, None)


@pytest.mark.parametrize("config, code, words", [
    (dict(batch_size=0, window=0), "ValidationException", "Value '0' at 'batchSize'"),
    (dict(batch_size=10_001, window=1), "ValidationException", "less than or equal to 10000"),
    (dict(batch_size=True, window=0), "ValidationException", "whole number"),
    (dict(batch_size=11, window=0), "InvalidParameterValueException", "greater than 0 if maximum batch size"),
    (dict(batch_size=10, window=301), "ValidationException", "less than or equal to 300"),
    (dict(batch_size=10, window=-1), "ValidationException", "greater than or equal to 0"),
    (dict(batch_size=10, window=5, fifo=True), "InvalidParameterValueException", "not supported for FIFO"),
    (dict(batch_size=11, window=5, fifo=True), "InvalidParameterValueException", "not supported for FIFO"),
    (dict(batch_size=10, window=0, maximum_concurrency=1), "ValidationException", "maximumConcurrency"),
    (dict(batch_size=10, window=0, maximum_concurrency=1001), "ValidationException", "1000"),
    (dict(batch_size=10, window=0, function_timeout=60, visibility_timeout=30), "InvalidParameterValueException",
     "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"),
])
def test_refused_configurations_have_awss_messages(config, code, words):
    with pytest.raises(MappingConfigError) as error:
        check_mapping(**config)
    assert error.value.code == code and words in error.value.message


def test_accepted_configurations():
    check_mapping(batch_size=10_000, window=300, maximum_concurrency=1000)
    check_mapping(batch_size=10, window=0, fifo=True, maximum_concurrency=2, function_timeout=30,
                  visibility_timeout=30)
