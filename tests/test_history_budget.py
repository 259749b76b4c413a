"""The history is bounded in bytes as well as in records: older invocations keep large payloads
(events, results, errors, log output) truncated behind a marker, and the views show the marker."""

from __future__ import annotations

import gc
import json
import tracemalloc
import weakref

import pytest
from conftest import report_fields

import lambda_widget as lw
from lambda_widget import api
from lambda_widget.engine.history import HISTORY_BYTES, KEPT_BYTES, MARKER, is_truncated
from lambda_widget.views import html, text

ECHO = "def lambda_handler(event, context):\n    return event\n"
CHATTY = """def lambda_handler(event, context):
    print('x' * event['print'])
    raise ValueError('y' * event['fail'])
"""
MIB = 2**20


def payload_bytes(mgr: lw.ContainerManager) -> int:
    """The history's payloads as bytes of JSON (log output as text), as the budget counts them."""
    total = 0
    for inv in mgr.history:
        data = inv.to_dict()
        total += sum(len(json.dumps(data[k], separators=(",", ":"))) for k in ("event", "result", "error"))
        total += sum(len(line) + 1 for line in data["logs"])
    return total


def test_a_hundred_megabytes_of_payloads_keep_the_kernel_within_the_budget(isolation):
    """The issue's case, smaller: twelve 5 MiB events echoed back (120 MiB of payloads) grow the
    kernel by about the 64 MiB budget, not by all of it; the newest invocation is whole."""
    big = {"data": "x" * (5 * MIB)}
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("echo", ECHO, memory_mb=1024)
        mgr.invoke("echo", {"warm": "up"})
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(12):
                last = mgr.invoke("echo", big)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert last.status == "succeeded"
        assert last.event == big and last.result == big  # whoever waited for it got it whole
        assert grown < HISTORY_BYTES + 8 * MIB, f"the kernel grew by {grown / MIB:.0f} MiB"
        assert payload_bytes(mgr) <= HISTORY_BYTES + len(mgr.history) * 8 * KEPT_BYTES
        oldest = mgr.history[1]
        for value in (oldest.event, oldest.result):
            assert is_truncated(value) and f"of {len(json.dumps(big, separators=(',', ':'))):,} bytes" in value
            assert '{"data":"xxxx' in value and len(value) < KEPT_BYTES + 300
        assert oldest.status == "succeeded" and oldest.duration_ms is not None  # the rest is whole


@pytest.fixture
def small() -> lw.ContainerManager:
    """A manager whose history keeps 64 KiB of payloads whole."""
    with lw.ContainerManager(seed=3, virtual_clock=True, max_history_bytes=64 * 1024) as mgr:
        yield mgr


def test_the_marker_shows_in_to_dict_and_in_the_views(small):
    small.register("echo", ECHO)
    first = small.invoke("echo", {"data": "é" * 30_000})
    assert not is_truncated(first.event)
    for _ in range(3):
        small.invoke("echo", {"data": "z" * 30_000})
    assert is_truncated(first.event) and is_truncated(first.result)
    data = json.loads(json.dumps(first.to_dict()))  # still plain JSON
    assert data["event"].startswith(MARKER) and "éééé" in data["event"]
    assert MARKER in html.invocation_page(first.to_dict())
    assert MARKER in text.render_invocation(first)
    history = api.history_view(small)
    bundle = history._repr_mimebundle_()
    assert bundle["text/plain"] and "text/html" in bundle
    view = api.invocation_view(first, small)
    assert MARKER in view._repr_mimebundle_()["text/html"]


def test_log_output_and_errors_are_truncated_and_the_report_line_kept(small):
    small.register("chatty", CHATTY)
    first = small.invoke("chatty", {"print": 40_000, "fail": 20_000})
    assert first.status == "failed" and len(first.error["errorMessage"]) == 20_000
    whole = report_fields(first)
    opening = [line for line in first.logs if "START" in line]  # INIT_START and START
    small.invoke("chatty", {"print": 40_000, "fail": 20_000})
    small.invoke("chatty", {"print": 40_000, "fail": 20_000})
    assert first.logs[:len(opening)] == opening
    assert any(line.startswith(MARKER) for line in first.logs)
    assert first.logs[-2].startswith("END RequestId: ")
    assert report_fields(first) == whole
    assert sum(len(line) for line in first.logs) < 4 * KEPT_BYTES
    assert first.error["errorType"] == "ValueError"
    assert is_truncated(first.error["errorMessage"]) and "yyyy" in first.error["errorMessage"]


def test_a_record_that_leaves_the_history_is_freed():
    with lw.ContainerManager(seed=4, virtual_clock=True, max_history=2) as mgr:
        mgr.register("echo", ECHO)
        gone = weakref.ref(mgr.invoke("echo", {"data": "x" * 100_000}))
        for _ in range(2):
            mgr.invoke("echo", {"n": 1})
        gc.collect()
        assert gone() is None, "the budget must not keep records the history dropped"
        mgr.reset()
        mgr.register("echo", ECHO)
        assert not is_truncated(mgr.invoke("echo", {"data": "x" * 100_000}).event)


def test_a_destination_gets_the_whole_event_after_the_history_truncated_it(small):
    failures: list[dict] = []
    small.register("fails", "def lambda_handler(event, context):\n    raise ValueError('no')\n",
                   on_failure=failures)
    small.register("echo", ECHO)
    event = {"data": "q" * 20_000}
    attempt = small.submit("fails", event, invocation_type="Event")
    first = attempt.invocation
    attempt.result(timeout=60)  # the first attempt ran and failed: its record is counted
    for _ in range(4):
        small.invoke("echo", {"data": "w" * 30_000})
    assert is_truncated(first.event)
    small.advance(61)
    small.advance(121)
    assert [r["requestContext"]["condition"] for r in failures] == ["RetriesExhausted"]
    assert failures[0]["requestPayload"] == event


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "64"])
def test_max_history_bytes_is_checked(bad):
    with pytest.raises(lw.InvalidParameterValueException, match="max_history_bytes"):
        lw.ContainerManager(max_history_bytes=bad)
