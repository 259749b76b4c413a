"""The simulator against published AWS measurements, the closed form, and the real engine."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from conftest import SLEEPER_SOURCE

import lambda_widget as lw
from lambda_widget import traffic

SIMFAAS = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "simfaas-aws-exp.csv"


def _rows() -> list[dict[str, float]]:
    with SIMFAAS.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if k} for row in csv.DictReader(f)]


def test_simfaas_aws_measurements_are_reproduced():
    """SimFaaS's 20 AWS experiments: P(cold) within 3 SE (or 20 %), mean instances within 15 %."""
    rows = _rows()
    assert len(rows) == 20
    agree = []
    for row in rows:
        rate = row["ArrivalRate"]
        r = lw.simulate(traffic.poisson(rate), duration=max(86_400.0, 3_000 / rate),
                        warm_ms=row["ServiceTimeWarm"], cold_ms=row["ServiceTimeCold"],
                        idle_timeout=row["IdleMinutesBeforeKill"] * 60, seed=1)
        p, se = row["ColdStartProbability"], row["ColdStartProbabilitySE"]
        cold_ok = abs(r.cold_start_ratio - p) <= max(3 * se, 0.2 * p)
        count_ok = abs(r.mean_environments - row["AverageInstanceCount"]) <= 0.15 * row["AverageInstanceCount"]
        busy_ok = abs(r.mean_busy - row["AverageRunningInstances"]) <= 0.15 * row["AverageRunningInstances"] + 0.01
        agree.append(cold_ok and count_ok)
        assert busy_ok, (rate, r.mean_busy, row["AverageRunningInstances"])
    assert sum(agree) >= 8, agree
    assert sum(agree) >= 15  # what the model achieves today: 17 of 20 with seed 1


@pytest.mark.parametrize("rate", [0.0005, 0.001, 0.002, 0.004])
def test_low_rates_follow_the_closed_form(rate):
    """With service times far shorter than the gaps, an event is cold iff the gap exceeds the timeout."""
    timeout = 600.0
    n = 20_000
    r = lw.simulate(traffic.poisson(rate), duration=n / rate, warm_ms=1.0, cold_ms=1.0,
                    idle_timeout=timeout, seed=7)
    expected = math.exp(-rate * timeout)
    se = math.sqrt(expected * (1 - expected) / r.invocations)
    assert abs(r.cold_start_ratio - expected) <= 3 * se + 1 / r.invocations, (r.cold_start_ratio, expected)
    assert r.cold_reasons.get("all-busy", 0) == 0


def test_a_steady_low_rate_is_colder_than_a_busy_one():
    low = lw.simulate(traffic.poisson(0.002), "10d", warm_ms=100, cold_ms=300, seed=2)
    busy = lw.simulate(traffic.poisson(2), "1d", warm_ms=100, cold_ms=300, seed=2)
    assert low.cold_start_ratio > 50 * busy.cold_start_ratio


# Bursts of concurrent events (time, how many), with gaps either side of a 600 s idle timeout.
SCENARIO = [(0, 3), (100, 2), (650, 4), (1500, 1), (1600, 3), (1700, 1)]


def _real_engine(scenario):
    """Run the scenario on real environments; the virtual clock moves only between bursts."""
    with lw.ContainerManager(seed=5, virtual_clock=True) as mgr:
        mgr.register("burst", SLEEPER_SOURCE, idle_timeout=600)
        peak, now, invs = 0, 0.0, []
        for at, n in scenario:
            mgr.advance(at - now)
            now = at
            futures = [mgr.submit("burst", {"sleep": 0.5}) for _ in range(n)]  # all overlap
            invs += [f.result() for f in futures]
            peak = max(peak, len(mgr.containers))
        assert all(i.status == "succeeded" for i in invs)
        return {"cold": sum(bool(i.cold) for i in invs), "created": len(mgr.all_containers), "peak": peak,
                "reasons": sorted(i.cold_reason for i in invs if i.cold)}


def test_the_simulator_and_the_real_engine_agree():
    real = _real_engine(SCENARIO)
    times = [float(at) for at, n in SCENARIO for _ in range(n)]
    sim = lw.simulate(traffic.replay(times), duration=2400, warm_ms=500, cold_ms=500, idle_timeout=600, seed=1)
    assert (sim.cold_starts, sim.environments_created, sim.peak_environments) == \
        (real["cold"], real["created"], real["peak"])
    expected = {}
    for reason in real["reasons"]:
        expected[reason] = expected.get(reason, 0) + 1
    assert sim.cold_reasons == expected
    assert sim.cold_starts == 8 and sim.peak_environments == 4  # 3 + 0 + 2 + 1 + 2 + 0


def test_the_simulator_routes_like_the_engine_to_the_newest_environment():
    """Three at once, then one at a time: the engine and the simulator both keep reusing the newest."""
    with lw.ContainerManager(seed=6, virtual_clock=True) as mgr:
        mgr.register("newest", SLEEPER_SOURCE, idle_timeout=600)
        first = [f.result() for f in [mgr.submit("newest", {"sleep": 0.5}) for _ in range(3)]]
        mgr.advance(300)
        later = [mgr.invoke("newest", {}) for _ in range(3)]
        newest = max((i.container_id for i in first), key=lambda c: int(c.split("-")[1]))
        assert {i.container_id for i in later} == {newest}
        mgr.advance(301)  # the two older environments were idle 601 s: reaped; the newest was used at 300
        assert [e.id for e in mgr.containers] == [newest]
    sim = lw.simulate(traffic.replay([0, 0, 0, 300, 300.5, 301, 601]), duration=700, warm_ms=0.1,
                      cold_ms=500, idle_timeout=600, seed=1)
    assert (sim.cold_starts, sim.environments_created) == (3, 3)
    assert sim.series["environments"][-1] == pytest.approx(1.0)
