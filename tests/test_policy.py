"""The placement policy on its own: plain decisions over plain environment descriptions."""

from __future__ import annotations

import math

import pytest

from lambda_widget.placement import (
    EnvView,
    FixedKeepAlive,
    HybridHistogramKeepAlive,
    IdleSet,
    Limits,
    NoKeepAlive,
    Placement,
    ScalingBucket,
    keep_alive,
)
from lambda_widget.placement.limits import ACCOUNT, RESERVED, SCALING


def idle(seq, **kw):
    return EnvView(seq, kw.pop("function", "f"), kw.pop("version", 1), "idle", **kw)


def busy(seq, function="f", version=1):
    return EnvView(seq, function, version, "busy")


def test_the_most_recently_created_idle_environment_serves():
    decision = Placement().place([idle(1), idle(3), busy(4), idle(2)], "f", 1, 0.0)
    assert (decision.kind, decision.env, decision.reason) == ("warm", 3, None)


def test_provisioned_then_live_environments_come_first():
    p = Placement()
    assert p.place([idle(1, provisioned=True), idle(5)], "f", 1, 0.0).env == 1
    dead = idle(9, alive=False, reset_reason="reset-after-timeout")
    assert p.place([idle(2), dead], "f", 1, 0.0).env == 2
    assert p.place([dead], "f", 1, 0.0) == p.place([dead], "f", 1, 0.0)
    d = p.place([dead], "f", 1, 0.0)
    assert (d.kind, d.env, d.reason) == ("cold", 9, "reset-after-timeout")


def test_oldest_first_is_a_choice():
    assert Placement(newest_first=False).place([idle(1), idle(3)], "f", 1, 0.0).env == 1


def test_other_versions_and_retiring_environments_do_not_serve():
    envs = [idle(1, version=1), idle(2, retiring=True, version=2)]
    d = Placement().place(envs, "f", 2, 0.0, had_env=True)
    assert (d.kind, d.env, d.reason) == ("cold", None, "all-busy")


@pytest.mark.parametrize("live, last_end, had_env, first, reason", [
    (False, None, False, "first-invocation", "first-invocation"),
    (True, None, True, "first-invocation", "all-busy"),
    (False, "idle-timeout", True, "first-invocation", "idle-expired"),
    (False, "function-updated", False, "function-updated", "function-updated"),
    (False, None, False, "new-version", "new-version"),
    (False, "shutdown", True, "new-version", "all-busy"),
])
def test_cold_reasons(live, last_end, had_env, first, reason):
    envs = [busy(1)] if live else []
    d = Placement().place(envs, "f", 1, 0.0, last_end=last_end, had_env=had_env, first=first)
    assert (d.kind, d.reason) == ("cold", reason)


def test_versions_of_a_function_have_environments_of_their_own():
    envs = [idle(1, version="1"), idle(2, version="2"), idle(3, version="$LATEST")]
    assert [Placement().place(envs, "f", v, 0.0).env for v in ("1", "2", "$LATEST")] == [1, 2, 3]
    d = Placement().place(envs, "f", "3", 0.0, first="new-version")
    assert (d.kind, d.env, d.reason) == ("cold", None, "new-version")


def test_idle_set_takes_the_policy_s_first_without_scanning():
    p = Placement()
    s = IdleSet()
    for seq in (3, 1, 7, 5):
        s.add(seq, p.rank_key(False, True, seq))
    s.add(2, p.rank_key(True, True, 2))  # provisioned: first whatever its age
    assert len(s) == 5 and 7 in s
    assert s.take() == 2
    s.discard(7)
    assert s.take() == 5
    # a process that died while idle ranks after the live ones: the top is re-checked, not trusted
    dead = {3}
    assert s.take(lambda seq: p.rank_key(False, seq not in dead, seq)) == 1
    assert s.take(lambda seq: p.rank_key(False, seq not in dead, seq)) == 3
    assert s.take() is None and len(s) == 0


def test_idle_set_drops_members_that_can_no_longer_serve_and_stays_small():
    p = Placement()
    s = IdleSet()
    for seq in range(1, 101):
        s.add(seq, p.rank_key(False, True, seq))
    assert s.take(lambda seq: None if seq > 50 else p.rank_key(False, True, seq)) == 50
    for seq in range(1, 50):
        s.discard(seq)
    assert len(s) == 0 and len(s._heap) <= 32  # lazy deletion compacts what it left
    for _ in range(10_000):  # one environment reused over and over: the heap does not grow
        s.add(1, p.rank_key(False, True, 1))
        assert s.take() == 1
    assert len(s._heap) == 0


def test_the_simulator_ranks_environments_as_the_engine_does():
    p = Placement()
    ranked = sorted([(False, 3), (True, 1), (False, 9), (True, 4)], key=lambda e: p.rank_key(e[0], True, e[1]))
    assert ranked == sorted([(False, 3), (True, 1), (False, 9), (True, 4)], key=lambda e: p.rank(e[0], True, e[1]))
    assert p.rank_key(False, True, 5) > p.rank_key(False, False, 9)  # a live one before a reset one


def test_reserved_concurrency_caps_the_function():
    p = Placement()
    assert p.place([busy(1)], "f", 1, 0.0, reserved=1).reason == RESERVED
    assert p.place([busy(1)], "f", 1, 0.0, reserved=2).kind == "cold"
    assert p.place([], "f", 1, 0.0, reserved=0).reason == RESERVED


def test_the_account_pool_is_shared_by_functions_without_reservations():
    p = Placement(Limits(account_concurrency=3, unreserved_minimum=1))
    others = [busy(1, "g"), busy(2, "g")]
    assert p.place(others, "f", 1, 0.0).kind == "cold"
    assert p.place(others + [busy(3)], "f", 1, 0.0).reason == ACCOUNT
    # g's reservation carves its share out of the pool, and its executions do not count against it.
    d = p.place(others, "f", 1, 0.0, reserved_by={"g": 2})
    assert d.kind == "cold"
    assert p.place(others + [busy(3)], "f", 1, 0.0, reserved_by={"g": 2}).reason == ACCOUNT


def test_limits_check_the_unreserved_minimum():
    limits = Limits()
    limits.check_reserved(900)
    with pytest.raises(ValueError, match="minimum value of \\[100\\]"):
        limits.check_reserved(901)
    with pytest.raises(ValueError, match="account_concurrency"):
        Limits(account_concurrency=0)


def test_scaling_rate_is_1000_environments_every_10_seconds():
    bucket = ScalingBucket(now=0.0)
    assert sum(bucket.take(0.0) for _ in range(1500)) == 1000
    assert not bucket.take(0.0)
    assert sum(bucket.take(1.0) for _ in range(200)) == 100   # refills continuously: 100 a second
    assert sum(bucket.take(100.0) for _ in range(2000)) == 1000  # and does not accumulate beyond 1,000
    bucket.take(0.0)  # a clock that restarted does not freeze the bucket: it refills from then on
    assert sum(bucket.take(1.0) for _ in range(200)) == 100


def test_placement_throttles_past_the_scaling_rate():
    p = Placement()
    kinds = [p.place([], "f", 1, 0.0).kind for _ in range(1001)]
    assert kinds.count("cold") == 1000 and kinds[-1] == "throttle"
    assert p.place([], "f", 1, 0.0).reason == SCALING
    assert p.place([], "g", 1, 0.0).kind == "cold"  # per function


def test_fixed_keep_alive_and_none():
    fixed = FixedKeepAlive(600)
    assert fixed.windows() == (0.0, 600.0)
    assert fixed.reaps_at("idle", False, 10.0) == 610.0
    assert fixed.reaps_at("idle", True, 10.0) is None
    assert fixed.reaps_at("busy", False, 10.0) is None
    assert NoKeepAlive().reaps_at("idle", False, 10.0) == 10.0
    assert keep_alive(60).windows() == (0.0, 60.0)
    assert isinstance(keep_alive(None), NoKeepAlive)
    with pytest.raises(ValueError, match="keep-alive"):
        keep_alive("sometimes")
    with pytest.raises(ValueError, match="idle timeout"):
        FixedKeepAlive(-1)


def test_hybrid_histogram_learns_a_periodic_function():
    policy = HybridHistogramKeepAlive()
    assert policy.windows() == (0.0, 4 * 3600.0)  # nothing learned: keep loaded for the whole range
    for _ in range(9):
        policy.observe(30 * 60 + 5)
    assert policy.windows() == (0.0, 4 * 3600.0)  # too few idle times yet
    policy.observe(30 * 60 + 5)
    prewarm, keep = policy.windows()
    assert prewarm == pytest.approx(30 * 60 * 0.9)
    assert prewarm + keep == pytest.approx(31 * 60 * 1.1)
    assert policy.fresh().windows() == (0.0, 4 * 3600.0)


def test_hybrid_histogram_stays_conservative_when_idle_times_are_spread():
    policy = HybridHistogramKeepAlive()
    for minute in range(240):
        policy.observe(minute * 60 + 1)
    assert policy.windows() == (0.0, 4 * 3600.0)
    assert math.isinf(FixedKeepAlive(math.inf).windows()[1])


def test_reap_due_counts_exactly_the_timeout_as_expired():
    from lambda_widget.placement import reap_due

    assert reap_due(610.0, 610.0) and reap_due(610.0, 609.9999999999)
    assert not reap_due(610.0, 609.99) and not reap_due(None, 1e9)
