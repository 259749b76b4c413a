"""The view widgets over a real manager and real processes: content, stepper, comm traffic, coalescing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import comm
import pytest
from comm.base_comm import BaseComm
from conftest import GATED_SOURCE
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.views import BurstView, FunctionCard, HistoryView, InvocationView, PoolView

CURRENT_ROW = re.compile(r'<tr class="[^"]*lw-current[^"]*" data-step="(\d+)"')
CURRENT_LINE = re.compile(r'<div class="lw-line[^"]*lw-current" data-line="(\d+)"')
CURRENT_COLUMN = re.compile(r'<th class="lw-current">(\d+)</th>')
CURRENT_NODE = re.compile(r'lw-flow-current" data-node="(\w+)"')


class RecordingComm(BaseComm):
    """A comm that keeps every message a widget sends instead of sending it."""

    def __init__(self, *args, **kwargs) -> None:
        self.sent: list[dict] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        self.sent.append({"type": msg_type, "data": data or {}})


@pytest.fixture
def comms(monkeypatch) -> list[RecordingComm]:
    """Every widget created in the test gets a recording comm; the list holds them all."""
    made: list[RecordingComm] = []

    def create(*args, **kwargs) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        made.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return made


@pytest.fixture
def mgr():
    with lw.ContainerManager(seed=11) as manager:
        yield manager


def updates(comms: list[RecordingComm]) -> list[tuple[str, list[str]]]:
    """(comm id, state keys) of every state update sent so far."""
    return [(c.comm_id, sorted(m["data"].get("state", {}))) for c in comms for m in c.sent
            if m["type"] == "comm_msg" and m["data"].get("method") == "update"]


def clear(comms: list[RecordingComm]) -> None:
    for c in comms:
        c.sent.clear()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def seed_view(mgr, **kwargs) -> InvocationView:
    mgr.register("double", SEED, track=["event['value']"], **kwargs)
    return InvocationView(mgr.invoke("double", {"value": 5}), mgr)


def highlights(view: InvocationView) -> tuple[list[str], list[str], list[str], list[str]]:
    stage = view.stage.get_state()["value"]
    return (CURRENT_ROW.findall(stage), CURRENT_LINE.findall(stage), CURRENT_COLUMN.findall(stage),
            CURRENT_NODE.findall(stage))


def test_invocation_view_content(mgr, comms):
    view = seed_view(mgr)
    assert {"lw-root", "lw-invocation"} <= set(view.get_state()["_dom_classes"])
    head = view.head.get_state()["value"]
    assert "lw-badge lw-badge-cold" in head and "first invocation" in head and "<style>" in head
    stage = view.stage.get_state()["value"]
    for cls in ("lw-flow", "lw-step-table", "lw-tracker", "lw-code"):
        assert cls in stage, cls
    assert len(re.findall(r"<tr class=\"lw-kind", stage)) == 7
    details = view.details.get_state()["value"]
    assert "lw-logs" in details and "lw-result" in details and "lw-key-moments" in details
    assert "START RequestId: " + view.inv.request_id in details
    stepper = view.stepper.get_state()
    assert "lw-stepper" in stepper["_dom_classes"]
    assert [b.description for b in view.buttons.values()] == ["First", "Prev", "Next", "Last"]
    assert [b.get_state()["_dom_classes"] for b in view.buttons.values()] == [
        ("lw-first",), ("lw-prev",), ("lw-next",), ("lw-last",)]
    assert (view.slider.min, view.slider.max, view.slider.value) == (1, 7, 7)
    link = view.link.get_state()
    assert link["source"] == [f"IPY_MODEL_{view.play.model_id}", "value"]
    assert link["target"] == [f"IPY_MODEL_{view.slider.model_id}", "value"]
    assert highlights(view) == (["7"], [], ["7"], ["warm"])


def test_stepper_moves_row_line_column_and_node_together(mgr, comms):
    view = seed_view(mgr)
    view.slider.value = 3
    assert highlights(view) == (["3"], ["2"], ["3"], ["run"])
    view.buttons["Next"].click()
    assert highlights(view) == (["4"], ["3"], ["4"], ["run"])
    view.buttons["First"].click()
    assert highlights(view) == (["1"], [], ["1"], ["event"])
    view.buttons["Prev"].click()
    assert view.slider.value == 1
    view.buttons["Last"].click()
    assert highlights(view) == (["7"], [], ["7"], ["warm"])
    assert "Step 7 of 7: Container kept warm" in view.stage.value


def test_a_step_change_from_the_browser_is_one_comm_message(mgr, comms):
    view = seed_view(mgr)
    view._repr_mimebundle_()  # displayed, as the browser would see it
    clear(comms)
    # What the frontend sends when the slider (or Play, through the jslink) moves.
    view.slider.comm.handle_msg({"content": {"comm_id": view.slider.model_id, "data": {
        "method": "update", "state": {"value": 2}, "buffer_paths": []}}, "buffers": []})
    assert updates(comms) == [(view.stage.model_id, ["value"])]
    assert highlights(view)[0] == ["2"]
    clear(comms)
    view.buttons["Next"].click()  # kernel-side: the slider's own sync plus one re-render
    assert sorted(updates(comms)) == sorted([(view.slider.model_id, ["value"]), (view.stage.model_id, ["value"])])


def test_view_updates_live_and_keeps_observing_after_the_end(mgr, comms, gate):
    mgr.register("nap", GATED_SOURCE, idle_timeout=30)
    held = gate()  # the invocation runs until the test has seen it running
    future = mgr.submit("nap", {"gate": held.port})
    view = InvocationView(future.invocation, mgr)
    wait_until(lambda: 'lw-badge lw-status-running"' in view.head.value)
    assert view.slider.disabled and "Running" in view.stage.value
    assert CURRENT_NODE.findall(view.stage.value) in (["create"], ["reuse"], ["check"])
    held.open()
    future.result()
    wait_until(lambda: 'lw-badge lw-status-succeeded"' in view.head.value)
    n = view.slider.max
    assert not view.slider.disabled and view.slider.value == n and n >= 5
    mgr.advance(30)  # reaped: the engine appends a step to the finished invocation
    wait_until(lambda: view.slider.max == n + 1)
    assert view.slider.value == n + 1  # the stepper was at the end, so it follows
    assert "Container terminated after idle timeout" in view.stage.value
    assert "no event arrived within the idle timeout (30.0 s)" in view.details.value


def test_stepper_stays_where_the_user_put_it(mgr, comms):
    view = seed_view(mgr, idle_timeout=30)
    view.slider.value = 3
    mgr.advance(30)
    wait_until(lambda: view.slider.max == 8)
    assert view.slider.value == 3 and highlights(view)[0] == ["3"]


def test_mime_bundle_and_deterministic_text(comms):
    plains = []
    for _ in range(2):
        with lw.ContainerManager(seed=5) as m:
            view = seed_view(m)
            m.invoke("double", {"value": 6})
            view.flush()
            bundle = view._repr_mimebundle_()
            assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
            page = bundle["text/html"]
            assert page.count("<style>") == 1
            for cls in ("lw-invocation", "lw-flow", "lw-step-table", "lw-tracker", "lw-key-moments"):
                assert cls in page
            pool, history, card = PoolView(m), HistoryView(m), FunctionCard(m.function("double"), m)
            plains.append([v._repr_mimebundle_()["text/plain"] for v in (view, pool, history, card)])
            assert "lw-pool-card" in pool._repr_mimebundle_()["text/html"]
            assert "lw-function-card" in card._repr_mimebundle_()["text/html"]
            for v in (view, pool, history, card):
                v.close()
    assert plains[0] == plains[1]
    text = plains[0][0]
    assert text.startswith("double $LATEST #1: succeeded, cold start (first invocation")
    assert "| 8 | Next event arrives" in text.replace("|    8 |", "| 8 |")
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text) and " ms" not in text


def test_pool_view_shows_a_card_per_environment_and_reaping(mgr, comms, gate):
    mgr.register("nap", GATED_SOURCE, idle_timeout=120)
    view = PoolView(mgr, live=True)
    assert "No execution environments yet" in view.body.value
    together = gate(4)  # each waits until all four run: they overlap for certain
    futures = [mgr.submit("nap", {"gate": together.port}) for _ in range(4)]
    invs = [f.result() for f in futures]
    assert len({i.container_id for i in invs}) == 4  # they overlapped: four environments
    view.flush()
    cards = re.findall(r'class="lw-pool-card lw-state-(\w+)" data-env="(env-\d)"', view.body.value)
    assert sorted(cards) == [("idle", f"env-{i}") for i in range(1, 5)]
    assert "reaped in" in view.body.value and 'class="lw-timeline"' in view.body.value
    mgr.advance(120)
    view.flush()
    cards = re.findall(r'class="lw-pool-card lw-state-(\w+)"', view.body.value)
    assert cards == ["terminated"] * 4
    assert view.plain_text().startswith("Pool: 0 live environments (0 busy, 0 idle, 0 initialising), 4 terminated")


def test_pool_view_coalesces_a_burst_of_changes(mgr, comms):
    mgr.register("double", SEED, trace=False)
    changes = []
    mgr.observe(lambda change: changes.append(1), "revision")
    view = PoolView(mgr, interval=0.3, live=True)
    start = view.renders
    for i in range(200):
        mgr.invoke("double", {"value": i})
    view.flush()
    renders = view.renders - start
    assert 1 <= renders < 50 and renders * 20 < len(changes), (renders, len(changes))
    assert "200 invocations served" in view.body.value  # the last render saw the end state


def test_burst_view(mgr, comms, gate):
    mgr.register("nap", GATED_SOURCE)
    together = gate(3)  # each waits until all three run: one cold for the first, two because all are busy
    futures = [mgr.submit("nap", {"gate": together.port}) for _ in range(3)]
    view = BurstView(futures, mgr)
    assert re.search(r"\d of 3 done", view.summary.value)
    for f in futures:
        f.result()
    view.flush()
    view.pool.flush()
    assert "3 of 3 done" in view.summary.value and view.progress.value == 3
    assert view.summary.value.count("lw-burst-summary") == 1
    assert "cold: first invocation</td><td class='lw-num'>1" in view.summary.value
    assert "cold: all busy</td><td class='lw-num'>2" in view.summary.value
    assert view.pool.body.value.count('class="lw-pool-card') == 3
    assert view.plain_text().splitlines()[:3] == ["Burst: 3 of 3 done", "  cold: all busy: 2",
                                                  "  cold: first invocation: 1"]


def test_function_card_and_history(mgr, comms):
    fn = mgr.register("double", SEED, track=["event['value']"], timeout=5, memory_mb=256,
                      reserved_concurrency=3)
    card, history = FunctionCard(fn, mgr, live=True), HistoryView(mgr, live=True)
    mgr.invoke("double", {"value": 1})
    mgr.invoke("double", {"value": 2})
    card.flush()
    history.flush()
    body = card.body.value
    for fact in ("lw-function-card", "lambda_function.lambda_handler", "5 s", "256 MB", "10 min",
                 "<code>event[&#x27;value&#x27;]</code>", "Reserved concurrency", ">3<",
                 "1 invocation(s)".replace("1", "2")):
        assert fact in body, fact
    rows = re.findall(r'<td class="lw-num">(\d+)</td>', history.body.value)
    assert rows == ["1", "2"]
    assert "lw-badge lw-badge-cold" in history.body.value and "lw-badge lw-badge-warm" in history.body.value


def test_closed_view_stops_observing(mgr, comms):
    view = seed_view(mgr)
    view._repr_mimebundle_()  # displayed: built and observing
    pool = PoolView(mgr, live=True)
    pool.close()
    view.close()
    before = pool.renders
    mgr.invoke("double", {"value": 2})
    time.sleep(0.4)  # longer than the coalescing interval: a live view would have rendered
    assert pool.renders == before
    assert view.comm is None and view.stage.comm is None


def test_an_invocation_view_creates_its_widgets_when_first_displayed(mgr, comms):
    view = seed_view(mgr)
    assert comms == []  # not displayed yet: no widget model exists
    assert "succeeded, cold start" in view.plain_text() and "lw-step-table" in view.static_html()
    assert view.step == 7 and not view.built
    mgr.invoke("double", {"value": 1})  # reuses the environment: step 8 is appended meanwhile
    bundle = view._repr_mimebundle_()
    assert view.built and 0 < len(comms) <= 20  # layouts and styles are shared among the parts
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.comm.comm_id
    assert (view.slider.max, view.slider.value) == (8, 8)
    assert "Next event arrives" in view.stage.value
    made = len(comms)
    view._repr_mimebundle_()  # displayed again: the same models
    assert len(comms) == made


def test_a_view_placed_in_a_container_is_built(mgr, comms):
    import ipywidgets as widgets

    view = seed_view(mgr)
    box = widgets.VBox([view])
    assert view.built and box.get_state()["children"] == [f"IPY_MODEL_{view.model_id}"]
    box.close()
    view.close()


def test_a_view_closed_before_display_never_creates_widgets(mgr, comms):
    view = seed_view(mgr)
    view.close()
    assert comms == []
    with pytest.raises(RuntimeError, match="closed before it was displayed"):
        view.slider  # noqa: B018
    bundle = view._repr_mimebundle_()  # displayed after all: its static renderings, no widget
    assert set(bundle) == {"text/html", "text/plain"} and "succeeded" in bundle["text/plain"]
    assert comms == []
