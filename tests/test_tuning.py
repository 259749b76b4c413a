"""Power tuning: Power Tuning's arithmetic on a hand-computed table, its strategies, the run through the
real engine (the function is left as it was), the view, and the architecture setting."""

from __future__ import annotations

import base64
import json
import re

import pytest
from conftest import COUNTER_SOURCE, SLEEPER_SOURCE, report_fields

import lambda_widget as lw
from lambda_widget import pricing
from lambda_widget.api import tuning_view
from lambda_widget.tuning import (
    PowerTuneResult,
    TuningError,
    TuningFailed,
    TuningRow,
    check_options,
    choose,
    score,
    trimmed_mean,
)
from lambda_widget.views.tuning import tuning_text


# ---------------------------------------------------------------------- the arithmetic, by hand
@pytest.mark.parametrize(("values", "discard", "expected"), [
    # 10 values: int(10 * 0.2) = 2 dropped at each end -> mean of 3..8
    ([10, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.2, (3 + 4 + 5 + 6 + 7 + 8) / 6),
    ([5, 1, 4, 2, 3], 0.2, 3.0),                       # 5 values: 1 dropped at each end
    ([7, 1, 6, 2, 5, 3, 4], 0.2, (2 + 3 + 4 + 5 + 6) / 5),  # 7 * 0.2 = 1.4 -> 1 (truncated, not rounded)
    ([9, 1, 8, 2, 7, 3, 6, 4, 5], 0.2, (2 + 3 + 4 + 5 + 6 + 7 + 8) / 7),  # 9 * 0.2 = 1.8 -> 1
    ([100, 1, 2, 3], 0.2, 106 / 4),                    # 4 * 0.2 = 0.8 -> nothing dropped
    (list(range(1, 16)), 0.2, sum(range(4, 13)) / 9),  # 15 * 0.2 = 3.0000000000000004 -> 3
    ([50, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.0, 95 / 10),   # discard 0: the plain mean
    ([10, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.4, (5 + 6) / 2),  # discard 0.4: only the middle 20 %
])
def test_trimmed_mean_is_power_tunings(values, discard, expected) -> None:
    assert trimmed_mean(values, discard) == pytest.approx(expected)


# Two sizes, five runs each, the first run cold (init counted). Worked by hand:
#  128 MB: durations sorted 98.20 99.00 100.50 101.30 350.90 -> drop 1 each end -> (99.00+100.50+101.30)/3
#          billed sorted 99 99 101 102 351 -> (99+101+102)/3 = 100.67 -> ceil 101 -> 101 x 2.1e-9 x 1
# 1024 MB: durations sorted 12.40 12.60 12.90 13.10 40.20 -> (12.60+12.90+13.10)/3 = 12.8667
#          billed sorted 13 13 13 14 41 -> (13+13+14)/3 = 13.33 -> ceil 14 -> 14 x 2.1e-9 x 8
HAND = [
    (128, [350.90, 100.50, 98.20, 99.00, 101.30], [351, 101, 99, 99, 102], 100.2667, 100.6667, 2.121e-7),
    (1024, [40.20, 13.10, 12.40, 12.90, 12.60], [41, 14, 13, 13, 13], 12.8667, 13.3333, 2.352e-7),
]


def hand_result(strategy: str = "cost", weight: float = 0.5, arch: str = "x86_64") -> PowerTuneResult:
    rows = [TuningRow(m, d, b, [True, False, False, False, False], architecture=arch) for m, d, b, *_ in HAND]
    return PowerTuneResult("fn", "$LATEST", arch, strategy, weight, 5, rows)


def test_rows_reproduce_the_hand_computed_table() -> None:
    result = hand_result()
    for row, (memory, _, billed, duration, billed_mean, cost) in zip(result.rows, HAND, strict=True):
        assert row.memory_mb == memory
        assert row.duration_ms == pytest.approx(duration, abs=1e-4)
        assert row.billed_ms == pytest.approx(billed_mean, abs=1e-4)
        assert row.cost_usd == pytest.approx(cost, rel=1e-12)
        assert row.total_cost_usd == pytest.approx(sum(b * 2.1e-9 * memory / 128 for b in billed))
    assert result.best.memory_mb == 128  # 2.121e-7 < 2.352e-7
    data = json.loads(json.dumps(result.to_dict()))
    assert data["best"] == 128 and data["rows"][1]["cost_usd"] == pytest.approx(2.352e-7)
    assert data["base_cost_per_ms"] == pricing.POWER_TUNING_BASE_COST_PER_MS["x86_64"]


def test_arm64_prices_the_same_runs_lower() -> None:
    arm = hand_result(arch="arm64")
    assert [r.cost_usd for r in arm.rows] == pytest.approx([101 * 1.7e-9, 14 * 1.7e-9 * 8], rel=1e-12)


def test_strategies_pick_as_power_tunings_analyzer() -> None:
    assert hand_result("cost").best.memory_mb == 128
    assert hand_result("speed").best.memory_mb == 1024
    # balanced, weight w: w x cost / max cost + (1 - w) x duration / max duration, lowest wins
    #   128 MB: 0.5 x 2.121/2.352 + 0.5 x 1          = 0.95089
    #  1024 MB: 0.5 x 1           + 0.5 x 12.8667/100.2667 = 0.56416
    assert score(2.121e-7, 100.2667, 2.352e-7, 100.2667, 0.5) == pytest.approx(0.95089, abs=1e-5)
    assert score(2.352e-7, 12.8667, 2.352e-7, 100.2667, 0.5) == pytest.approx(0.56416, abs=1e-5)
    assert hand_result("balanced", 0.5).best.memory_mb == 1024
    assert hand_result("balanced", 1.0).best.memory_mb == 128    # weight 1 is "cost"
    assert hand_result("balanced", 0.0).best.memory_mb == 1024   # weight 0 is "speed"


def test_ties_break_as_power_tunings_sorts() -> None:
    def row(memory, duration, billed):
        return TuningRow(memory, [duration] * 5, [billed] * 5, [False] * 5)

    # Same cost (128 MB x 200 ms = 256 MB x 100 ms): "cost" takes the faster one.
    assert choose([row(128, 199.5, 200), row(256, 99.5, 100)], "cost").memory_mb == 256
    # Same duration: "speed" takes the cheaper one.
    assert choose([row(512, 20.0, 20), row(256, 20.0, 20)], "speed").memory_mb == 256
    # Same balanced value: the first listed, as a stable sort leaves it.
    assert choose([row(512, 20.0, 20), row(1024, 20.0, 20)], "balanced", 0.0).memory_mb == 512


@pytest.mark.parametrize(("options", "message"), [
    ({"memory_sizes": (64, 128)}, "Invalid memory size 64: each must be a whole number of MB from 128 to 10240"),
    ({"memory_sizes": (128, 10241)}, "from 128 to 10240"),
    ({"memory_sizes": (128.5,)}, "whole number"),
    ({"memory_sizes": ()}, "memory_sizes is empty"),
    ({"memory_sizes": "128"}, "must be a list"),
    ({"memory_sizes": (256, 256)}, "256 MB is listed more than once"),
    ({"num": 4}, "num must be a whole number from 5 to 1000 (Power Tuning needs at least 5"),
    ({"num": 2.5}, "num must be a whole number"),
    ({"strategy": "fastest"}, "Unknown strategy 'fastest': use 'cost', 'speed' or 'balanced'"),
    ({"balanced_weight": 1.5}, "balanced_weight must be a number from 0 (fastest) to 1 (cheapest)"),
    ({"balanced_weight": -0.1}, "balanced_weight must be"),
    ({"discard": 0.5}, "discard must be a fraction from 0 to 0.4"),
])
def test_bad_options_are_named(options, message) -> None:
    settings = {"memory_sizes": (128, 256), "num": 5, "strategy": "cost", "balanced_weight": 0.5} | options
    with pytest.raises(TuningError) as info:
        check_options(**settings)
    assert message in str(info.value)


# ---------------------------------------------------------------------- through the real engine
def test_power_tune_leaves_the_function_as_it_was(mgr) -> None:
    mgr.register("counter", COUNTER_SOURCE)
    mgr.register("counter", COUNTER_SOURCE, idle_timeout=900)   # $LATEST updated
    warm = mgr.invoke("counter", {})
    before = (mgr.function("counter"), [e.id for e in mgr.containers], len(mgr.versions("counter")))
    done: list[tuple[int, int]] = []
    result = mgr.power_tune("counter", {"a": 1}, memory_sizes=(256, 128), num=5,
                            on_progress=lambda d, t: done.append((d, t)))
    assert (mgr.function("counter"), [e.id for e in mgr.containers], len(mgr.versions("counter"))) == before
    assert set(mgr.functions) == {"counter"}                        # the copies are gone
    assert mgr.invoke("counter", {}).cold is False and mgr.history[-1].result == warm.result + 1
    assert done[-1] == (10, 10) and len(done) == 10
    assert [r.memory_mb for r in result.rows] == [256, 128]         # in the order asked
    assert result.function_name == "counter" and result.version == "$LATEST" and result.architecture == "x86_64"
    tuned = [i for i in mgr.history if i.function_name.startswith("counter-RAM")]
    assert [i.function_name for i in tuned] == ["counter-RAM256", "counter-RAM128"] * 5   # in rounds
    for row in result.rows:
        assert row.cold == [True, False, False, False, False]      # a fresh copy: the first run is cold
        runs = [i for i in tuned if i.request_id in row.request_ids]
        assert [i.result for i in runs] == [1, 2, 3, 4, 5]          # one environment, reused
        assert all(report_fields(i)["Memory Size"] == f"{row.memory_mb} MB" for i in runs)
        assert row.durations[0] == pytest.approx(runs[0].duration_ms + runs[0].init_duration_ms, abs=0.011)
        assert row.billed_durations == [i.billed_duration_ms for i in runs]
        assert all(i.traced is False and i.event == {"a": 1} for i in runs)
    ended = {e.function_name: e.end_reason for e in mgr.all_containers if e.function_name != "counter"}
    assert ended == {"counter-RAM256": "function-deleted", "counter-RAM128": "function-deleted"}


def test_waiting_costs_more_with_more_memory(mgr) -> None:
    mgr.register("waits", SLEEPER_SOURCE)
    result = mgr.power_tune("waits", {"sleep": 0.02}, memory_sizes=(128, 512, 1024), num=5)
    assert all(d >= 20 for r in result.rows for d in r.durations)  # a wait is a wait at any size
    costs = [r.cost_usd for r in result.rows]
    assert costs == sorted(costs) and costs[-1] > 4 * costs[0]      # ~8x the memory, ~the same time
    assert result.best.memory_mb == 128


def test_a_failing_function_stops_the_run_and_cleans_up(mgr) -> None:
    mgr.register("boom", "def lambda_handler(event, context):\n    raise KeyError('missing')\n")
    with pytest.raises(TuningFailed, match=r"run 1 of boom at 128 MB failed: KeyError: 'missing'"):
        mgr.power_tune("boom", {}, memory_sizes=(128, 256), num=5)
    assert set(mgr.functions) == {"boom"} and mgr.containers == []


def test_a_timeout_says_to_raise_the_timeout(mgr) -> None:
    mgr.register("slow", SLEEPER_SOURCE, timeout=1)
    with pytest.raises(TuningFailed, match=r"timed out: Sandbox.Timedout.*more than the function's 1 s timeout"):
        mgr.power_tune("slow", {"sleep": 2}, memory_sizes=(128,), num=5)
    assert set(mgr.functions) == {"slow"}


def test_unknown_function_and_bad_event_are_refused_before_anything_runs(mgr) -> None:
    mgr.register("counter", COUNTER_SOURCE)
    with pytest.raises(lw.ResourceNotFoundException, match=r"function:nope \(registered: counter\)"):
        mgr.power_tune("nope", {})
    with pytest.raises(lw.InvalidRequestContentException):
        mgr.power_tune("counter", {"x": float("nan")}, num=5)
    with pytest.raises(TuningError, match="num must be"):
        mgr.power_tune("counter", {}, num=3)
    assert mgr.history == [] and set(mgr.functions) == {"counter"}


def test_copy_names_avoid_the_users_functions(mgr) -> None:
    long = "f" * 64
    mgr.register(long, COUNTER_SOURCE)
    mgr.register("g-RAM128", COUNTER_SOURCE)
    mgr.register("g", COUNTER_SOURCE)
    mgr.power_tune(long, {}, memory_sizes=(128,), num=5)
    mgr.power_tune("g", {}, memory_sizes=(128,), num=5)
    names = {i.function_name for i in mgr.history}
    assert names == {"f" * 57 + "-RAM128", "g-RAM128-2"}
    assert mgr.function("g-RAM128").revision == 1 and mgr.versions("g-RAM128")[0].source == COUNTER_SOURCE


def test_a_code_directory_function_is_tuned_from_its_directory(mgr, tmp_path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text("from app.words import WORD\n\n\n"
                                              "def handler(event, context):\n    return WORD\n")
    (tmp_path / "app" / "words.py").write_text("WORD = 'from the directory'\n")
    mgr.register("pkg", path=str(tmp_path), handler="app.main.handler", architecture="arm64")
    result = mgr.power_tune("pkg", {}, memory_sizes=(128, 256), num=5)
    assert {i.result for i in mgr.history} == {"from the directory"} and len(mgr.history) == 10
    assert result.architecture == "arm64" and set(mgr.functions) == {"pkg"}


def test_delete_function(mgr) -> None:
    mgr.register("gone", COUNTER_SOURCE)
    mgr.invoke("gone", {})
    mgr.delete_function("gone")
    assert mgr.functions == {} and mgr.containers == [] and len(mgr.history) == 1
    with pytest.raises(lw.ResourceNotFoundException):
        mgr.delete_function("gone")


# ---------------------------------------------------------------------- the view
def test_view_chart_table_and_text() -> None:
    view = tuning_view(hand_result())
    assert view.best.memory_mb == 128 and view.result.function_name == "fn"   # falls through to the result
    bundle = view._repr_mimebundle_()
    static, plain = bundle["text/html"], bundle["text/plain"]
    assert plain == tuning_text(hand_result().to_dict()) == (
        "Power tuning fn $LATEST (x86_64, 5 runs per size, strategy cost): best 128 MB\n"
        "    128 MB      100.3 ms  $   0.2121 per 1M  <- best\n"
        "   1024 MB       12.9 ms  $   0.2352 per 1M")
    assert '<img src="data:image/svg+xml;base64,' in static and "var(--jp" not in static.split("<style>")[0]
    svg = base64.b64decode(static.split("base64,")[1].split('"')[0]).decode()
    assert "memory (MB)</text>" in svg
    assert re.search(r'fill: #388e3c"[^>]*>128</text>', svg) and re.search(r'fill: #388e3c"[^>]*>cheapest</text>', svg)
    assert "1024 MB" in static and "the 1 fastest and 1 slowest dropped" in static
    assert "changes only the price here" in static
    live = view.body.value
    assert "<svg" in live and "var(--jp-brand-color1" in live      # the widget's chart follows the theme
    view.close()


def test_lw_power_tune_uses_the_kernels_manager() -> None:
    mgr = lw.get_manager()
    mgr.reset()
    try:
        lw.register("double", "def lambda_handler(event, context):\n    return event['value'] * 2\n")
        res = lw.power_tune("double", {"value": 2}, memory_sizes=(128, 256), num=5, strategy="speed")
        assert [r.memory_mb for r in res.rows] == [128, 256] and res.strategy == "speed"
        assert res.best in res.rows and res.to_dict()["strategy"] == "speed"
        assert all(i.result == 4 for i in mgr.history)
    finally:
        mgr.reset()


# ---------------------------------------------------------------------- architecture
def test_architecture_is_recorded_and_shown(mgr) -> None:
    from lambda_widget.views import html, text

    fn = mgr.register("arm", COUNTER_SOURCE, architecture="arm64")
    assert fn.architecture == "arm64" and fn.to_dict()["architecture"] == "arm64"
    assert mgr.register("x86", COUNTER_SOURCE).architecture == "x86_64"
    assert "arm64 (price only)" in text.render_function(fn)
    assert "Architecture" in html.function_html(fn.to_dict()) and "sets the price only" in html.function_html(fn.to_dict())
    result = mgr.power_tune("arm", {}, memory_sizes=(128,), num=5)
    assert result.architecture == "arm64"
    assert result.rows[0].cost_usd == pytest.approx(pricing.power_tuning_cost(result.rows[0].billed_ms, 128, "arm64"))
    assert mgr.power_tune("arm", {}, memory_sizes=(128,), num=5, architecture="x86_64").architecture == "x86_64"


@pytest.mark.parametrize("bad", ["sparc", "ARM64", None, ["arm64"]])
def test_bad_architecture_is_refused(mgr, bad) -> None:
    with pytest.raises(lw.InvalidParameterValueException, match=r"use 'x86_64' or 'arm64'"):
        mgr.register("f", COUNTER_SOURCE, architecture=bad)
    assert mgr.functions == {}


def test_cpu_share_column_when_the_engine_scales_cpu() -> None:
    result = hand_result()
    result.rows[0].cpu_share, result.rows[1].cpu_share = 128 / 1769, 1024 / 1769
    text = tuning_text(result.to_dict())
    assert "    128 MB  0.07 vCPU      100.3 ms" in text and "1024 MB  0.58 vCPU" in text
    static = tuning_view(result).static_html()
    assert "<th>CPU (vCPU)</th>" in static and "<td>0.58</td>" in static
    assert "CPU (vCPU)" not in tuning_view(hand_result()).static_html()   # not scaled: no column


def test_copies_keep_the_functions_cpu_scaling(mgr) -> None:
    mgr.register("scaled", COUNTER_SOURCE)
    mgr.register("flat", COUNTER_SOURCE, cpu_scaling=False)
    scaled = mgr.power_tune("scaled", {}, memory_sizes=(128, 1769), num=5)
    assert [r.cpu_share for r in scaled.rows] == pytest.approx([128 / 1769, 1.0], abs=1e-3)
    flat = mgr.power_tune("flat", {}, memory_sizes=(128, 1769), num=5)
    assert [r.cpu_share for r in flat.rows] == [None, None]
