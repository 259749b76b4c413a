"""The real engine routes by the placement policy: newest idle environment first, policy throttles."""

from __future__ import annotations

import threading

from conftest import SLEEPER_SOURCE

import lambda_widget as lw
from lambda_widget.placement import Limits, Placement


def test_the_engine_reuses_the_most_recently_created_idle_environment(mgr):
    mgr.register("newest", SLEEPER_SOURCE, idle_timeout=600)
    futures = [mgr.submit("newest", {"sleep": 1.0}) for _ in range(3)]
    ids = sorted({f.result().container_id for f in futures}, key=lambda i: int(i.split("-")[1]))
    assert len(ids) == 3

    assert [mgr.invoke("newest", {}).container_id for _ in range(3)] == [ids[-1]] * 3


def test_the_account_pool_throttles_with_its_own_reason():
    with lw.ContainerManager(seed=3, virtual_clock=True) as mgr:
        mgr.__dict__["_placement"] = (Placement(Limits(account_concurrency=1, unreserved_minimum=0)),
                                      mgr.clock)
        mgr.register("pool", SLEEPER_SOURCE)
        first = mgr.submit("pool", {"sleep": 1.0})
        second = mgr.submit("pool", {"sleep": 1.0})
        statuses = sorted((first.result().status, second.result().status))
        assert statuses == ["succeeded", "throttled"]
        throttled = next(f.result() for f in (first, second) if f.result().status == "throttled")
        assert throttled.error["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert mgr.placement is mgr.placement
        mgr.reset()
        assert mgr.placement.limits.account_concurrency == 1000  # a reset starts a fresh policy


def test_views_say_which_limit_throttled():
    from lambda_widget.views.moments import key_moments
    from lambda_widget.views.words import throttle_reason

    def throttled(reason):
        return {"status": "throttled", "error": {"Reason": reason}, "steps": []}

    assert "reserved concurrency" in throttle_reason(throttled("ReservedFunctionConcurrentInvocationLimitExceeded"))
    assert "account's concurrency" in throttle_reason(throttled("ConcurrentInvocationLimitExceeded"))
    assert "1,000 new environments" in throttle_reason(throttled("FunctionInvocationRateLimitExceeded"))
    assert key_moments(throttled("ConcurrentInvocationLimitExceeded"))[0].startswith(
        "Throttled: the account's concurrency")


def test_routing_an_event_reads_the_placement_index_not_the_pool(mgr):
    """Placement is O(1) per event: routing never walks the list of live environments (at 1,000
    alive a scan cost ~2 ms under the engine's lock). Each version's idle environments are a heap
    ordered as the policy ranks them, and running counts are kept as environments change."""
    mgr.register("many", SLEEPER_SOURCE, trace=False)
    [f.result() for f in [mgr.submit("many", {"sleep": 0.2}) for _ in range(8)]]
    mgr.publish("many")
    routing = threading.local()
    scans: list[str] = []

    class Watched(list):
        def __iter__(self):
            if getattr(routing, "on", False):
                scans.append("scan")
            return super().__iter__()

    original = mgr._acquire

    def acquire(inv):
        routing.on = True
        try:
            return original(inv)
        finally:
            routing.on = False

    with mgr._lock:
        mgr._envs = Watched(mgr._envs)
    mgr._acquire = acquire
    newest = max(mgr.containers, key=lambda e: int(e.id.split("-")[1]))
    assert [mgr.invoke("many", {}).container_id for _ in range(3)] == [newest.id] * 3  # warm, newest first
    assert mgr.invoke("many", {}, qualifier="1").cold_reason == "new-version"  # a new environment
    assert mgr.invoke("many", {}, qualifier="1").cold is False
    assert scans == []
