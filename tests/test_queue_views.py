"""The queue panel: a snapshot by default, live when asked, static HTML that survives sanitisers, short text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import boto3
import pytest

import lambda_widget as lw
from lambda_widget import traffic
from lambda_widget.views.queue import QueueView, simulation_html

FAIL_ONCE = """def lambda_handler(event, context):
    if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
        raise RuntimeError("first delivery fails")
    return "ok"
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[lw.ContainerManager]:
    yield lw.get_manager()
    lw.get_manager().shutdown()


@pytest.fixture
def mgr(kernel):
    kernel.reset(seed=12, virtual_clock=True)
    return kernel


@pytest.fixture
def orders(mgr):
    sqs = boto3.client("sqs", endpoint_url=lw.sqs_url(), region_name=mgr.region, aws_access_key_id="local",
                       aws_secret_access_key="local")
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": json.dumps({"n": i})}
                                                  for i in range(10)])
    mgr.register("worker", FAIL_ONCE, timeout=10)
    return sqs, url


def test_the_panel_is_a_snapshot_unless_live(mgr, orders):
    panel = lw.event_source("orders", "worker", batch_size=4)
    live = lw.queue("orders", live=True)
    before = panel.plain_text()
    assert "3 invocations in 3 batches" in before and "back to the queue 10" in before
    mgr.advance(11)  # the failed batches come back and succeed
    assert panel.plain_text() == before            # the moment of its cell
    live.flush()
    assert "deleted 10" in live.plain_text()
    assert "live view" in live.static_html()
    assert isinstance(panel, QueueView) and panel.uuid == live.uuid  # attributes fall through to the mapping
    assert panel.counters["deleted"] == 10                          # ... and read the mapping as it is now
    assert json.loads(json.dumps(panel.mapping.to_dict()))["counters"]["deleted"] == 10  # plain data


def test_static_html_draws_charts_as_images_and_keeps_words_apart(mgr, orders):
    lw.event_source("orders", "worker", batch_size=4)
    mgr.advance(11)
    page = lw.queue("orders").static_html()
    assert "<svg" not in page and page.count('src="data:image/svg+xml;base64,') == 2
    assert "Messages over time" in page and "Pollers over time" in page
    text = re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", page, flags=re.S))
    assert "Queue orders · Function worker · Batch size 4" in text
    assert "Batches (the last 6; sizes: 4 × 4, 2 × 2)" in text
    live = lw.queue("orders", live=True)
    assert "<svg" in live.body.value  # the widget inlines its charts: the theme's colours reach them


def test_text_is_short_and_deterministic(mgr, orders):
    lw.event_source("orders", "worker", batch_size=5)
    text = lw.queue("orders").plain_text()
    assert text.splitlines()[0] == "SQS orders -> worker: batch size 5, window 0 s, enabled"
    assert len(text.splitlines()) == 4


def test_an_unknown_queue_names_the_mapped_ones(mgr, orders):
    lw.event_source("orders", "worker")
    with pytest.raises(ValueError, match=r"no event source mapping polls 'invoices' \(mapped queues: orders\)"):
        lw.queue("invoices")


def test_a_simulated_queue_renders_with_the_same_charts():
    r = traffic.simulate_queue(traffic.bursts(2000, "1d"), duration=60, warm_ms=2000, cold_ms=2000, seed=1)
    page = simulation_html(r, static=True)
    assert "<svg" not in page and page.count('src="data:image/svg+xml;base64,') == 2
    assert "Queue simulation" in page and "2,000" in page
    bundle = r._repr_mimebundle_()
    assert "<svg" in bundle["text/html"] and bundle["text/plain"].startswith("2,000 messages: 2,000 deleted")
