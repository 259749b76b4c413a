"""A view shows the moment of its cell: snapshots stay put, live views say so, late steps say when."""

from __future__ import annotations

import re

import pytest
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.magics.output import _settle
from lambda_widget.views import BurstView, FunctionCard, HistoryView, InvocationView, PoolView

SLEEPER = "import time\n\ndef lambda_handler(event, context):\n    time.sleep(0.2)\n    return 1\n"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def mgr():
    with lw.ContainerManager(seed=3, virtual_clock=True) as manager:
        yield manager


def test_a_pool_view_keeps_the_moment_it_was_made(mgr):
    mgr.register("double", SEED, idle_timeout=600)
    mgr.invoke("double", {"value": 1})
    snap, live = PoolView(mgr), PoolView(mgr, live=True)
    before = snap.body.value
    assert "as the pool stood when this cell ran" in before and "live view" not in before
    assert re.findall(r'lw-pool-card lw-state-(\w+)', before) == ["idle"]
    mgr.advance(600)  # a later cell: the environment is reaped
    mgr.invoke("double", {"value": 2})
    live.flush()
    snap.flush()
    assert snap.body.value == before and snap.static_html() == snap.static_html()
    assert "1 live environment" in snap.plain_text()
    assert re.findall(r'lw-pool-card lw-state-(\w+)', live.body.value) == ["terminated", "idle"]
    assert "live view" in live.body.value and "updates as the pool changes" in live.body.value
    live.freeze()  # from now on it keeps this moment, and says so
    assert "as the pool stood" in live.body.value
    mgr.advance(600)
    live.flush()
    assert re.findall(r'lw-pool-card lw-state-(\w+)', live.body.value) == ["terminated", "idle"]
    for view in (snap, live):
        view.close()


def test_a_burst_keeps_the_pool_as_it_stood_when_the_burst_ended(mgr):
    mgr.register("nap", SLEEPER)
    futures = [mgr.submit("nap", {}) for _ in range(3)]
    view = BurstView(futures, mgr)
    assert view.live  # while it runs, it follows the pool
    for f in futures:
        f.result()
    view.flush()
    assert not view.live and not view.pool.live
    ended = view.static_html()
    assert ended.count('lw-state-idle"') == 3
    mgr.advance(3600)  # Run All goes on: later cells reap everything
    view.flush()
    view.pool.flush()
    assert view.static_html() == ended and "lw-state-terminated\"" not in view.pool.body.value
    view.close()


def test_a_live_burst_keeps_following(mgr):
    mgr.register("nap", SLEEPER)
    futures = [mgr.submit("nap", {}) for _ in range(2)]
    view = BurstView(futures, mgr, live=True)
    for f in futures:
        f.result()
    view.flush()
    mgr.advance(3600)
    view.pool.flush()
    assert view.pool.live and view.pool.body.value.count('lw-state-terminated"') == 2
    view.close()


def test_function_card_and_history_are_snapshots_unless_live(mgr):
    fn = mgr.register("double", SEED)
    card, history = FunctionCard(fn, mgr), HistoryView(mgr)
    mgr.invoke("double", {"value": 1})
    card.flush()
    history.flush()
    assert "When this cell ran: 0 live environment(s), 0 busy · 0 invocation(s)" in card.body.value
    assert "No invocations yet" in history.body.value
    for view in (card, history):
        view.close()


def test_an_invocation_view_marks_the_step_a_later_cell_added(mgr):
    mgr.register("double", SEED, idle_timeout=600)
    view = InvocationView(mgr.invoke("double", {"value": 5}), mgr)
    view._repr_mimebundle_()  # displayed when its cell ran: 7 steps
    assert view.slider.max == 7 and "later cell" not in view.stage.value
    mgr.advance(600)  # a later cell moves the clock: the environment is reaped, step 8 appears
    view.flush()
    assert view.slider.max == 8
    row = re.search(r'<tr class="[^"]*" data-step="8">.*?</tr>', view.stage.value).group(0)
    assert "step 8 added at clock 10 min by a later cell" in row  # when the reaper ended it
    assert "(step 8 added at clock 10 min by a later cell)" in view.stage.value  # the caption, at step 8
    # A view first shown after the reap shows the same invocation as it is then: nothing is "late".
    fresh = InvocationView(view.inv, mgr)
    assert "later cell" not in fresh.static_html() and "No new event arrives" in fresh.static_html()
    for v in (view, fresh):
        v.close()


class _Handle:
    def __init__(self) -> None:
        self.updates: list[tuple[object, dict]] = []

    def update(self, obj, **kwargs) -> None:
        self.updates.append((obj, kwargs))


def test_settling_replaces_the_output_instead_of_updating_the_widget_in_place(mgr):
    """Two views of one Play stop each other (ipywidgets 3967): the output is rendered afresh."""
    mgr.register("double", SEED)
    view = InvocationView(mgr.invoke("double", {"value": 5}), mgr)
    view._repr_mimebundle_()
    handle = _Handle()
    _settle(view, handle)
    (first, first_kw), (second, second_kw) = handle.updates
    assert first_kw == {"raw": True} and WIDGET not in first and "lw-step-table" in first["text/html"]
    assert second is view and second_kw == {}
    view.close()


def test_monitor_and_live_magics_make_live_views(monkeypatch):
    from IPython.testing.globalipapp import get_ipython

    view = lw.monitor()
    try:
        assert isinstance(view, PoolView) and view.live and "live view" in view.body.value
    finally:
        view.close()
    shown: list = []
    monkeypatch.setattr("lambda_widget.magics.output.display", lambda obj, **kw: shown.append(obj))
    ip = get_ipython()
    ip.run_line_magic("load_ext", "lambda_widget")
    magics = ip.magics_manager.registry["LambdaMagics"]
    monkeypatch.setattr(magics, "display", "widget")
    ip.run_line_magic("lambda", "containers --live")
    ip.run_line_magic("lambda", "containers")
    ip.run_line_magic("lambda", "history --live")
    live_pool, snapshot, live_history = shown
    assert live_pool.live and not snapshot.live and live_history.live
    assert "as the pool stood when this cell ran" in snapshot.body.value
    for v in shown:
        v.close()
