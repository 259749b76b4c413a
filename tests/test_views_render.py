"""The pure renderers (text, HTML, key moments, flow, timeline) over real engine records."""

from __future__ import annotations

import difflib
import itertools
import re
import subprocess
import sys

import pytest
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.views import html, text
from lambda_widget.views.flow import current_node, path, render_flow
from lambda_widget.views.moments import key_moments
from lambda_widget.views.snapshot import history_rows, pool_snapshot
from lambda_widget.views.timeline import render_timeline

COUNTER = "count = 0\n\ndef lambda_handler(event, context):\n    global count\n    count += 1\n    return count\n"
SLEEPY = "import time\n\ndef lambda_handler(event, context):\n    time.sleep(5)\n    return 'late'\n"
RAISES = "def lambda_handler(event, context):\n    x = 1\n    raise ValueError('bad <input>')\n"


@pytest.fixture
def mgr():
    with lw.ContainerManager(seed=7) as manager:
        yield manager


def seed_run(seed: int) -> tuple[str, str, str, str]:
    """The seed lesson on a fresh manager: two invocations, then the idle timeout."""
    with lw.ContainerManager(seed=seed) as m:
        m.register("double", SEED, track=["event['value']"])
        first = m.invoke("double", {"value": 5})
        second = m.invoke("double", {"value": 6})
        m.advance(600)
        full = text.render_invocation(first, logs=False, facts=False, history=m.history,
                                      function=m.function("double"))
        return (full + "\n" + text.plain_invocation(second), text.render_pool(m, times=False),
                text.render_history(m), "\n".join(key_moments(second.to_dict(), [first.to_dict()])))


def test_seed_step_table_as_text(mgr):
    mgr.register("double", SEED, track=["event['value']"])
    inv = mgr.invoke("double", {"value": 5})
    out = text.plain_invocation(inv)
    assert out.splitlines()[0] == ("double $LATEST #1: succeeded, cold start (first invocation: no execution "
                                   "environment existed for this function yet)")
    assert "Result: 10" in out
    rows = [line for line in out.splitlines() if re.match(r"^\|\s+\d+ \|", line)]
    assert [r.split("|")[2].strip() for r in rows] == [
        "Event triggers Lambda", "Create new container (init)", "Run handler code", "Run handler code",
        "Run handler code", "Return result", "Container kept warm"]
    assert "| print('Start')" in rows[2] and "| Start" in rows[2]
    assert "| return result" in rows[5] and "| 10" in rows[5]
    assert inv.request_id not in out and "ms" not in out


def test_text_is_byte_identical_across_runs_with_the_same_seed():
    a, b = seed_run(3), seed_run(3)
    for x, y in zip(a, b, strict=True):
        assert x == y, "\n".join(difflib.unified_diff(x.splitlines(), y.splitlines(), lineterm=""))
    invocation, pool, history, _ = a
    assert "| 8 | No new event arrives" in invocation.replace("|    8 |", "| 8 |")
    assert "Variable tracker:" in invocation and "Key moments:" in invocation
    assert "terminated (idle timeout)" in pool and "2 invocations" in pool
    assert "cold (first invocation)" in history and "| warm" in history


def test_tracker_text_has_a_row_per_variable_and_a_column_per_step(mgr):
    mgr.register("double", SEED, track=["event['value']"])
    inv = mgr.invoke("double", {"value": 5})
    tracker = text.tracker_text(inv.to_dict())
    assert tracker.startswith("Handler frame: locals, new on every invocation.\n")
    lines = tracker.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("| Variable / step "))
    assert [c.strip() for c in lines[top].split("|")[2:-1]] == [str(n) for n in range(1, 8)]
    assert len(lines) == top + 8, "the seed's steps in one block"
    result_row = next(line for line in lines if line.startswith("| result "))
    assert [c.strip() for c in result_row.split("|")[2:-1]] == ["undefined"] * 3 + ["10"] * 4
    names = [line.split("|")[1].strip() for line in lines[top + 2:top + 8]]
    assert names == ["[handler frame]", "event", "result", "event['value']", "[environment]", "container_state"]


GUESTBOOK = """import os
import tempfile

served = 0
BOOK = os.path.join(tempfile.gettempdir(), "guestbook.txt")


def lambda_handler(event, context):
    global served
    served += 1
    with open(BOOK, "a") as book:
        book.write(event["name"] + "\\n")
    return served
"""


def test_tracker_shows_the_global_frame_marked_as_kept(mgr):
    mgr.register("guestbook", GUESTBOOK)
    cold, warm = mgr.invoke("guestbook", {"name": "Ana"}), mgr.invoke("guestbook", {"name": "Ben"})
    data = warm.to_dict()
    assert [s["globals"]["served"] for s in data["steps"]][:3] == ["1", "1", "2"]
    frames = html.tracker_frames(data)
    assert [(key, names) for key, _title, _note, names in frames] == \
        [("global", ["served", "BOOK"]), ("handler", ["event", "book"]), ("env", ["container_state"])]
    page = html.tracker_html(data, 1)
    assert page.index("Global frame") < page.index("<code>served</code>") < page.index("Handler frame") \
        < page.index("<code>book</code>")
    assert "they live as long as the environment" in page and "↻ marks the values this invocation found" in page
    assert page.count('lw-kept') == 2, "served and BOOK at step 1: left by the cold invocation"
    assert "&lt;file guestbook.txt, mode &#x27;a&#x27;&gt;" in page
    assert "lw-kept" not in html.tracker_html(cold.to_dict(), 1), "a cold start's globals come from its init"
    tracker = text.tracker_text(data)
    assert "| [global frame] " in tracker and "'/tmp/guestbook.txt'" in tracker
    assert "<file guestbook.txt, mode 'a', closed>" in [s["variables"].get("book") for s in data["steps"]]
    leave = [s for s in data["steps"] if s["action"] == "Leave the with block"]
    assert [s["handler_execution"] for s in leave] == ['with open(BOOK, "a") as book → __exit__()']


def test_key_moments_for_the_seed(mgr):
    mgr.register("double", SEED)
    inv = mgr.invoke("double", {"value": 5})
    said = key_moments(inv.to_dict(), None, mgr.function("double").to_dict())
    assert said[0].startswith("Cold start (step 2): first invocation")
    assert any("`result` was undefined at step 1 and got its value at step 4 (10)" in s for s in said)
    assert any("kept warm (step 7)" in s and "idle timeout (10 min)" in s for s in said)
    mgr.advance(600)
    said = key_moments(inv.to_dict(), None, mgr.function("double").to_dict())
    assert any(s.startswith("Step 8: no event arrived within the idle timeout (10 min)") for s in said)


def test_key_moments_name_the_invocation_that_set_a_global(mgr):
    mgr.register("counter", COUNTER)
    first, second = mgr.invoke("counter", {}), mgr.invoke("counter", {})
    history = [first.to_dict()]
    said = key_moments(second.to_dict(), history)
    assert said[0].startswith("Warm start (step 2)")
    assert any("`count` started at 1, the value invocation #1 left" in s for s in said)
    assert any("changed the global `count` from 1 to 2" in s for s in said)
    cold = key_moments(first.to_dict(), [])
    assert any("set by init in the fresh environment: count = 0" in s for s in cold)


def test_timeout_resets_the_environment_and_text_has_no_request_id(mgr):
    mgr.register("sleepy", SLEEPY, timeout=1)
    inv = mgr.invoke("sleepy", {})
    out = text.plain_invocation(inv)
    assert inv.status == "timed-out" and inv.request_id not in out
    assert "Error: Sandbox.Timedout: Error: Task timed out after 1.00 seconds" in out
    said = key_moments(inv.to_dict())
    assert any("timed out after 1 s" in s and "re-runs init" in s for s in said)
    again = mgr.invoke("sleepy", {})
    assert again.cold_reason == "reset-after-timeout"
    assert "cold start (the environment was reset after a timeout, so init runs again)" in \
        text.plain_invocation(again)
    nodes, _ = path(inv.to_dict())
    assert nodes[-2:] == ["error", "terminated"]


def test_handler_error_keeps_the_environment_warm_and_is_escaped(mgr):
    mgr.register("raises", RAISES)
    inv = mgr.invoke("raises", {})
    data = inv.to_dict()
    said = key_moments(data)
    assert any("raised ValueError" in s and "does not reset" in s for s in said)
    page = html.invocation_page(data)
    assert "bad &lt;input&gt;" in page and "bad <input>" not in page
    assert 'class="lw-result lw-error"' in page
    # the runtime's [ERROR] entry holds \r line breaks: they become real lines
    entry = next(e for e in inv.logs if e.startswith("[ERROR]"))
    assert "\r" in entry
    assert "\r" not in text.logs_text(data) and "Traceback (most recent call last):" in text.logs_text(data)
    assert "\nTraceback (most recent call last):" in html.logs_html(data)
    assert "/lambda-widget-" not in text.plain_invocation(inv)


def test_flow_marks_the_path_and_the_current_node(mgr):
    mgr.register("double", SEED)
    inv = mgr.invoke("double", {"value": 5})
    warm = mgr.invoke("double", {"value": 1})
    mgr.advance(600)
    data = inv.to_dict()
    nodes, _ = path(data)
    assert nodes == ["event", "service", "check", "create", "run", "return", "warm"]
    assert [current_node(data, n) for n in range(1, 9)] == [
        "event", "create", "run", "run", "run", "return", "warm", "warm"]  # step 8: reused by the next event
    svg = render_flow(data, 4)
    assert svg.count("lw-flow-current") == 1
    assert re.search(r'class="lw-flow-node lw-flow-taken lw-flow-current" data-node="run"', svg)
    assert 'class="lw-flow-node" data-node="reuse"' in svg  # not taken
    warm_path, _ = path(warm.to_dict())
    assert warm_path == ["event", "service", "check", "reuse", "run", "return", "warm", "terminated"]
    assert current_node(warm.to_dict(), 8) == "terminated"  # reaped after the idle timeout


def test_throttled_invocation(mgr):
    mgr.register("capped", SEED, reserved_concurrency=0)
    inv = mgr.invoke("capped", {"value": 1})
    data = inv.to_dict()
    assert inv.status == "throttled"
    assert "no start (throttled" in text.plain_invocation(inv)
    assert 'data-node="throttle"' in render_flow(data, 2)
    assert key_moments(data)[0].startswith("Throttled:")


def test_static_invocation_page(mgr):
    mgr.register("double", SEED, track=["event['value']"])
    data = mgr.invoke("double", {"value": 5}).to_dict()
    page = html.invocation_page(data, moments=key_moments(data))
    assert page.count("<style>") == 1 and page.startswith('<div class="lw-root lw-invocation mathjax_ignore tex2jax_ignore">')
    for cls in ("lw-header", "lw-badge lw-badge-cold", "lw-flow", "lw-step-table", "lw-tracker", "lw-code",
                "lw-logs", "lw-result", "lw-key-moments"):
        assert cls in page, cls
    assert re.findall(r'<tr class="[^"]*lw-current[^"]*" data-step="(\d+)"', page) == ["7"]
    assert re.findall(r'<th class="lw-current">(\d+)</th>', page) == ["7"]
    page3 = html.invocation_page(data, step=3)
    assert re.findall(r'<div class="lw-line[^"]*lw-current" data-line="(\d+)"', page3) == ["2"]


def test_pool_timeline_and_history():
    # The virtual clock: the idle gap is the minute advanced, however long the invocations took.
    with lw.ContainerManager(seed=1, virtual_clock=True) as mgr:
        _pool_timeline_and_history(mgr)


def _pool_timeline_and_history(mgr):
    mgr.register("double", SEED, idle_timeout=60)
    mgr.invoke("double", {"value": 1})
    mgr.advance(60)
    mgr.invoke("double", {"value": 2})
    snap = pool_snapshot(mgr)
    svg = render_timeline(snap)
    assert svg.startswith('<svg class="lw-timeline"')
    assert svg.count('font-weight="600"') == 2  # one labelled row per environment, terminated one too
    assert "lw-tl-init" in svg and "lw-tl-invoke" in svg and "lw-tl-idle" in svg
    # the minute of idling is drawn squashed, and marked as not to scale
    assert "// 60.0 s //" in svg and "not drawn to scale" in svg and 'class="lw-tl-break"' in svg
    page = html.pool_page(snap)
    assert page.count('class="lw-pool-card') == 2
    assert 'lw-pool-card lw-state-terminated" data-env="env-1"' in page
    assert 'lw-pool-card lw-state-idle" data-env="env-2"' in page
    rows = history_rows(mgr)
    assert [r["cold_reason"] for r in rows] == ["first-invocation", "idle-expired"]
    assert "cold (idle expired)" in text.history_text(rows)
    assert text.render_function(mgr.function("double")).splitlines()[0] == "Function double $LATEST"


def test_timeline_gap_labels_never_overlap():
    env = {"id": "env-1", "state": "idle", "created_at": 0.0, "ended_at": None, "end_reason": None,
           "function_name": "f", "version": 1, "invocations": 4, "inits": 1, "provisioned": False}
    events = [{"time": 0.0, "kind": "create", "container_id": "env-1"},
              {"time": 0.0, "kind": "init-start", "container_id": "env-1"},
              {"time": 0.1, "kind": "init-done", "container_id": "env-1"}]
    t = 0.1
    for n in range(4):  # four invocations, each after an hour of idling
        rid = f"r{n}"
        events += [{"time": t, "kind": "invoke", "container_id": "env-1", "request_id": rid},
                   {"time": t + 0.5, "kind": "idle", "container_id": "env-1"}]
        t += 3600.5
    svg = render_timeline({"function_name": None, "now": t, "containers": [env], "events": events,
                           "outcomes": {f"r{n}": "succeeded" for n in range(4)}})
    assert svg.count('class="lw-tl-break"') == 4, "every compressed gap is cut and titled"
    spans = [(float(x) - 3.2 * len(label) - 4, float(x) + 3.2 * len(label) + 4)
             for x, label in re.findall(r'<text (?:class="[^"]*" )?x="([\d.]+)"[^>]*>(// [^<]+ //)<', svg)]
    assert spans and all(a[1] < b[0] for a, b in itertools.pairwise(sorted(spans))), spans


def test_timeline_merges_bars_closer_than_a_pixel():
    events = [{"time": 0.0, "container_id": "env-1", "kind": "create", "reason": "first-invocation"},
              {"time": 0.0, "container_id": "env-1", "kind": "init-start"},
              {"time": 0.1, "container_id": "env-1", "kind": "init-done"}]
    for i in range(1000):  # a thousand 0.9 ms invocations, back to back
        t = 0.1 + i * 0.001
        events += [{"time": t, "container_id": "env-1", "kind": "invoke", "request_id": f"r{i}"},
                   {"time": t + 0.0009, "container_id": "env-1", "kind": "idle"}]
    env = {"id": "env-1", "state": "idle", "function_name": "f", "version": 1, "created_at": 0.0,
           "last_used_at": 1.1, "invocations": 1000, "idle_timeout": 600.0}
    svg = render_timeline({"function_name": None, "now": 1.2, "containers": [env], "events": events,
                           "outcomes": {f"r{i}": "succeeded" for i in range(1000)}})
    bars = svg.count('class="lw-tl-invoke"')
    assert 1 <= bars < 50 and "invocations over" in svg


def test_renderers_load_without_ipywidgets():
    code = ("import sys, lambda_widget.views.text, lambda_widget.views as v; "
            "assert 'ipywidgets' not in sys.modules; v.InvocationView; assert 'ipywidgets' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pool_snapshot_keeps_a_window_of_recent_events(mgr, monkeypatch):
    from lambda_widget.views import snapshot

    mgr.register("early", SEED, trace=False)
    mgr.register("busy", SEED, trace=False)
    mgr.invoke("early", {"value": 1})  # env-1 goes idle before the window
    full = pool_snapshot(mgr)
    assert full["since"] is None and "lifecycle events, from" not in html.pool_html(full)
    for _ in range(8):
        mgr.invoke("busy", {"value": 1})
    monkeypatch.setattr(snapshot, "MAX_TIMELINE_EVENTS", 10)
    snap = pool_snapshot(mgr)
    assert snap["since"] is not None
    assert [e["kind"] for e in snap["events"] if e["container_id"] == "env-1"] == ["idle"]  # carried in
    assert [e["time"] for e in snap["events"] if e["container_id"] == "env-1"] == [snap["since"]]
    recent = [e for e in snap["events"] if e["container_id"] == "env-2"]
    # the ten most recent events, after the bar that was open at the cut (carried in)
    assert len(recent) == 11 and recent[-1]["kind"] == "idle"
    assert recent[0]["kind"] in ("init-start", "invoke", "idle") and recent[0]["time"] == snap["since"]
    assert set(snap["outcomes"]) == {e["request_id"] for e in snap["events"] if e["request_id"]}
    page = html.pool_html(snap)
    assert "lifecycle events, from" in page
    assert page.count('class="lw-tl-idle"') >= 2  # env-1's idle bar starts where the window does


def test_history_views_build_only_the_rows_they_show(mgr, monkeypatch):
    from lambda_widget.views import snapshot

    mgr.register("double", SEED)
    mgr.register("other", SEED)
    for i in range(5):
        mgr.invoke("double", {"value": i})
    mgr.invoke("other", {"value": 1})
    rows, total = snapshot.history_window(mgr, "double", 3)
    assert [r["number"] for r in rows] == [3, 4, 5] and total == 5
    assert "Showing the last 3 of 5." in html.history_html(rows, total)
    monkeypatch.setattr(text, "MAX_HISTORY_ROWS", 3)
    assert text.render_history(mgr).endswith("(the last 3 of 6)")


def test_an_environment_counts_every_request_it_served():
    from lambda_widget.views.words import served_words

    assert served_words({"invocations": 2, "requests": 2, "inits": 1}) == ("2 invocations", "1 init")
    assert served_words({"invocations": 0, "requests": 3, "inits": 4}) == \
        ("3 requests (0 reached the handler)", "4 inits"), "init failures are requests too"
    assert served_words({"invocations": 1, "inits": 1}) == ("1 invocation", "1 init")
