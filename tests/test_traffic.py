"""The traffic simulator: workloads, service times, limits, keep-alive, results, views and the magic."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import lambda_widget as lw
from lambda_widget import pricing, traffic
from lambda_widget.placement import HybridHistogramKeepAlive

SERVICE = {"warm_ms": 1972.6, "cold_ms": 2310.1}


def test_the_documented_call():
    r = lw.simulate(traffic.poisson(rate=0.1), duration=86_400, warm_ms=1972.6, cold_ms=2310.1,
                    idle_timeout=600, memory_mb=128, reserved_concurrency=None,
                    provisioned_concurrency=0, account_concurrency=1000, seed=1)
    assert 8_000 < r.invocations < 9_300
    assert r.cold_starts == round(r.cold_start_ratio * r.invocations)
    assert 0.004 < r.cold_start_ratio < 0.012  # AWS measured 0.0057-0.0059 at this rate
    assert r.throttled == 0
    assert r.mean_environments == pytest.approx(r.mean_busy + r.mean_idle)
    assert 2.0 < r.mean_environments < 3.5 and r.peak_environments >= 3
    assert r.mean_busy == pytest.approx(0.1 * 1.9726, rel=0.05)
    # GB-seconds: billed milliseconds (rounded up, init included) at 128 MB.
    assert r.gb_seconds == pytest.approx((r.invocations * 1973 + r.cold_starts * (2311 - 1973)) / 1000 / 8,
                                         rel=1e-9)
    assert r.cost_usd == pytest.approx(r.invocations * pricing.PER_REQUEST
                                       + r.gb_seconds * pricing.price_per_gb_second())
    data = json.loads(json.dumps(r.to_dict()))
    assert data["invocations"] == r.invocations and data["config"]["seed"] == 1
    assert len(data["series"]["environments"]) == len(data["series"]["t"]) == 288
    assert sum(data["series"]["cold_starts"]) == r.cold_starts
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p99.9", "mean", "max"}
    assert data["latency_ms"]["max"] == pytest.approx(2310.1)


def test_a_seed_makes_a_run_reproducible():
    a = lw.simulate(traffic.poisson(2), 3600, seed=4, **SERVICE).to_dict()
    b = lw.simulate(traffic.poisson(2), 3600, seed=4, **SERVICE).to_dict()
    assert a == b


def test_workloads():
    rng = np.random.default_rng(0)
    assert traffic.constant("2/s").arrivals(10, rng).tolist() == [x / 2 for x in range(20)]
    assert traffic.poisson("30/min").rate == 0.5
    poisson = traffic.poisson(5).arrivals(10_000, rng)
    assert abs(poisson.size - 50_000) < 1_000 and np.all(np.diff(poisson) >= 0)
    b = traffic.bursts(10, every="10m").arrivals(3600, rng)
    assert b.size == 60 and np.unique(b).tolist() == [0, 600, 1200, 1800, 2400, 3000]
    d = traffic.diurnal(1.0, amplitude=0.9)
    day = d.arrivals(86_400, rng)
    night = np.sum((day > 0) & (day < 4 * 3600)) + np.sum(day > 22 * 3600)  # around 02:00, the trough
    afternoon = np.sum((day > 12 * 3600) & (day < 18 * 3600))
    assert abs(day.size - 86_400) < 3_000 and afternoon > 3 * night
    both = traffic.poisson(1) + traffic.bursts(5, 100)
    assert both.mean_rate() == pytest.approx(1.05)


def test_per_minute_reads_the_azure_2019_format(tmp_path):
    counts = [3, 0, 5, 1]
    rng = np.random.default_rng(1)
    w = traffic.per_minute(counts)
    times = w.arrivals(240, rng)
    assert np.histogram(times, [0, 60, 120, 180, 240])[0].tolist() == counts
    header = ["HashOwner", "HashApp", "HashFunction", "Trigger"] + [str(m) for m in range(1, 1441)]
    rows = [["o", "a", "f1", "http"] + ["1"] * 1440, ["o", "a", "f2", "timer"] + ["0"] * 1439 + ["7"]]
    path = tmp_path / "invocations_per_function_md.anon.d01.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    f2 = traffic.per_minute(path, function="f2")
    assert f2.natural_duration() == 86_400 and int(f2.counts.sum()) == 7 and f2.name == "f2"
    assert int(traffic.per_minute(path).counts.sum()) == 1440
    r = lw.simulate(traffic.per_minute(dict(zip(header, rows[0], strict=True))), **SERVICE, seed=1)
    assert r.duration == 86_400 and r.invocations == 1440
    with pytest.raises(ValueError, match="no HashFunction 'nope'"):
        traffic.per_minute(path, function="nope")
    with pytest.raises(ValueError, match="whole numbers"):
        traffic.per_minute([1, -2])
    with pytest.raises(ValueError, match="per-minute columns"):
        traffic.per_minute({"HashFunction": "x"})


@pytest.mark.parametrize("call, message", [
    (lambda: traffic.poisson(0), "rate must be a number > 0"),
    (lambda: traffic.poisson("fast"), "cannot read the rate"),
    (lambda: traffic.parse_duration("1 fortnight"), "cannot read the duration"),
    (lambda: lw.simulate(traffic.poisson(1), 60, warm_ms=5), "service times are missing"),
    (lambda: lw.simulate(traffic.poisson(1), warm_ms=5, cold_ms=9), "say how long"),
    (lambda: lw.simulate("poisson", 60, **SERVICE), "must be a traffic workload"),
    (lambda: lw.simulate(traffic.poisson(1), 60, memory_mb=64, **SERVICE), "memory_mb"),
    (lambda: lw.simulate(traffic.poisson(1), 60, warm_ms=-1, cold_ms=1), "warm_ms must be"),
    (lambda: lw.simulate(traffic.poisson(1), 60, reserved_concurrency=950, **SERVICE), "minimum value"),
    (lambda: lw.simulate(traffic.poisson(1), 60, reserved_concurrency=2, provisioned_concurrency=3,
                         **SERVICE), "cannot exceed reserved"),
    (lambda: lw.simulate(traffic.poisson(1), 60, keep_alive="sometimes", **SERVICE), "unknown keep-alive"),
    (lambda: lw.simulate(traffic.poisson(1e6), "1d", **SERVICE), "too many"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_reserved_concurrency_throttles_bursts():
    r = lw.simulate(traffic.bursts(10, every=60), 600, warm_ms=1000, cold_ms=1000, reserved_concurrency=3,
                    seed=1)
    assert (r.invocations, r.throttled, r.cold_starts) == (30, 70, 3)
    assert r.peak_environments == 3
    assert r.to_dict()["series"]["throttled"] and sum(r.series["throttled"]) == 70


def test_account_concurrency_and_scaling_rate():
    r = lw.simulate(traffic.bursts(1500, every=3600), 60, warm_ms=30_000, cold_ms=30_000, seed=1)
    assert (r.cold_starts, r.throttled) == (1000, 500)  # the account's 1,000 (and the scaling bucket's)
    wide = lw.simulate(traffic.bursts(1500, every=3600), 60, warm_ms=30_000, cold_ms=30_000,
                       account_concurrency=5000, seed=1)
    assert (wide.cold_starts, wide.throttled) == (1000, 500)  # 1,000 new environments per 10 s
    later = lw.simulate(traffic.bursts(1500, every=3600, spread=20.0), 60, warm_ms=30_000, cold_ms=30_000,
                        account_concurrency=5000, seed=1)
    assert later.throttled < 500  # spread over 20 s, the bucket refills at 100 a second


def test_provisioned_concurrency_serves_warm_and_is_billed_all_day():
    r = lw.simulate(traffic.poisson(0.001), "1d", warm_ms=100, cold_ms=900, provisioned_concurrency=2, seed=3)
    assert r.cold_starts == 0
    assert r.peak_environments == 2 and r.mean_environments == pytest.approx(2.0)
    configured = 2 * 86_400 * 128 / 1024 * pricing.PROVISIONED_GB_SECOND["x86_64"]
    used = r.gb_seconds * pricing.PROVISIONED_DURATION_GB_SECOND["x86_64"]
    assert r.bill.provisioned_cost == pytest.approx(configured + used, rel=1e-6)
    assert r.bill.duration_cost == pytest.approx(0.0, abs=1e-12)
    assert r.cost_usd == pytest.approx(configured + used + r.invocations * pricing.PER_REQUEST, rel=1e-6)


def test_keep_alive_policies():
    steady = traffic.constant(1 / 1800)  # one event every 30 minutes
    fixed = lw.simulate(steady, "5d", warm_ms=100, cold_ms=500, idle_timeout=600, seed=1)
    assert fixed.cold_start_ratio == 1.0  # a 10-minute keep-alive never survives a 30-minute gap
    none = lw.simulate(steady, "5d", warm_ms=100, cold_ms=500, keep_alive="none", seed=1)
    assert none.cold_start_ratio == 1.0 and none.mean_idle == pytest.approx(0.0)
    long = lw.simulate(steady, "5d", warm_ms=100, cold_ms=500, idle_timeout="1h", seed=1)
    assert long.cold_starts == 1
    hybrid = lw.simulate(steady, "5d", warm_ms=100, cold_ms=500, keep_alive="hybrid", seed=1)
    # It learns the 30-minute rhythm: unloads after each event and pre-warms just before the next.
    assert hybrid.cold_starts <= 2
    assert hybrid.idle_gb_seconds < 0.25 * long.idle_gb_seconds
    assert hybrid.keep_alive["policy"] == "hybrid-histogram" and hybrid.keep_alive["prewarm"] > 0
    learned = HybridHistogramKeepAlive()
    assert lw.simulate(steady, "1d", warm_ms=1, cold_ms=1, keep_alive=learned, seed=1).invocations == 48
    assert learned.windows() == (0.0, 4 * 3600.0)  # the policy given is copied, not trained in place


def test_measured_service_times(mgr):
    mgr.register("double", "def lambda_handler(event, context):\n    return event['value'] * 2\n")
    r = mgr.simulate(traffic.poisson(1), duration=3600, function="double", event={"value": 5}, seed=1)
    measured = r.config["measured"]
    assert len(measured["cold_ms"]) == 3 and len(measured["warm_ms"]) == 10 and measured["failed"] == 0
    assert min(measured["cold_ms"]) > max(min(measured["warm_ms"]), 0)
    assert r.latency_ms["max"] <= max(measured["cold_ms"] + measured["warm_ms"]) + 1e-6
    assert not [e for e in mgr.containers if e.function_name == "double"]  # measured elsewhere
    with pytest.raises(ValueError, match="not both"):
        mgr.simulate(traffic.poisson(1), 60, function="double", warm_ms=1)


def test_sweep_and_its_pareto_front():
    s = lw.keep_alive_sweep(traffic.poisson(0.005), "2d", timeouts=[0, "5m", "10m", "1h"], provisioned=[1],
                            **SERVICE)
    labels = [p["label"] for p in s.points]
    assert labels == ["none", "5 min", "10 min", "1 h", "hybrid", "10 min + 1 PC"]
    colds = [s.point(x)["cold_start_pct"] for x in ["none", "5 min", "10 min", "1 h"]]
    idles = [s.point(x)["idle_gb_seconds"] for x in ["none", "5 min", "10 min", "1 h"]]
    assert colds == sorted(colds, reverse=True) and idles == sorted(idles)
    assert colds[0] == 100.0 and idles[0] == 0.0
    front = [p["label"] for p in s.pareto()]
    assert front[0] == "none"
    along = [p["cold_start_pct"] for p in s.pareto()]  # more idle memory buys fewer cold starts
    assert along == sorted(along, reverse=True) and len(set(along)) == len(along)
    assert s.point("10 min + 1 PC")["cost_usd"] > s.point("10 min")["cost_usd"]
    data = json.loads(s.to_json())
    assert data["pareto"] == front
    with pytest.raises(ValueError, match="sweep sets"):
        traffic.sweep(traffic.poisson(1), 60, idle_timeout=5, **SERVICE)


def test_result_renders_live_static_and_as_text():
    r = lw.simulate(traffic.poisson(0.5), "2h", seed=1, **SERVICE)
    bundle = r._repr_mimebundle_()
    html = bundle["text/html"]
    assert html.count("<svg") == 2 and "var(--jp-ui-font-color1" in html
    assert "Environments over time" in html and "Cold starts over time" in html
    static = r._repr_html_()
    assert static.count('<img src="data:image/svg+xml;base64,') == 2 and "<svg" not in static
    text = bundle["text/plain"]
    assert text.splitlines()[0].startswith(f"{r.invocations:,} invocations in 2 h") and len(text) < 400
    view = r.widget()
    try:
        assert view.plain_text() == text
        assert "<svg" in view.panel.value and '<img src="data:' in view.static_html()
        assert view._repr_mimebundle_()["text/plain"] == text
    finally:
        view.close()
    sweep = traffic.sweep(traffic.poisson(0.5), "1h", timeouts=[60, 600], hybrid=False, **SERVICE)
    assert sweep._repr_mimebundle_()["text/html"].count("<svg") == 1
    assert "Pareto" in sweep._repr_html_()


def test_the_command_line(capsys):
    from lambda_widget.cli import main

    assert main(["traffic", "--rate", "1/s", "--for", "1h", "--warm-ms", "2000", "--cold-ms", "2200",
                 "--idle-timeout", "10m"]) == 0
    out = capsys.readouterr().out
    assert re.match(r"3,[0-9]{3} invocations in 1 h: [0-9]+ cold", out), out
    assert main(["traffic", "--rate", "1/s", "--for", "10m", "--warm-ms", "2", "--cold-ms", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["keep_alive"] == {"policy": "fixed", "idle_timeout": 600.0}
    assert main(["traffic", "--rate", "1/s", "--warm-ms", "2", "--cold-ms", "5", "--idle-timeout", "soon"]) == 2
    assert "unknown keep-alive 'soon'" in capsys.readouterr().err
