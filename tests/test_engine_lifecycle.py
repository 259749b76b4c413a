"""Lifecycle: the seed's step table, warm reuse, idle reaping, freezing, and globals per process."""

from __future__ import annotations

import psutil
from conftest import COUNTER_SOURCE, SEED_SOURCE, env_of, frozen, wait_for

import lambda_widget as lw

SEED_TABLE = [
    (1, "Event triggers Lambda", "No container", "Not started", ""),
    (2, "Create new container (init)", "Container created", "Not started", ""),
    (3, "Run handler code", "Container active", "print('Start')", "Start"),
    (4, "Run handler code", "Container active", "result = event['value'] * 2", ""),
    (5, "Run handler code", "Container active", "print('End')", "End"),
    (6, "Return result", "Container active", "return result", "10"),
    (7, "Container kept warm", "Container ready for next event", "Idle", ""),
]
REAPED_STEP = (8, "No new event arrives", "Container terminated after idle timeout", "Stopped", "")

# Busy-waits for event["seconds"]; untraced so the process really spins.
SPIN_SOURCE = """import time


def lambda_handler(event, context):
    end = time.monotonic() + event['seconds']
    while time.monotonic() < end:
        pass
    return 'spun'
"""


def rows(inv: lw.Invocation) -> list[tuple]:
    return [(s.number, s.action, s.container_state, s.handler_execution, s.output) for s in inv.steps]


def test_seed_handler_reproduces_the_seed_table(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30, track=["event['value']"])
    inv = mgr.invoke("seed", {"value": 5})

    assert inv.status == "succeeded"
    assert inv.result == 10
    assert (inv.cold, inv.cold_reason) == (True, "first-invocation")
    assert rows(inv) == SEED_TABLE
    assert inv.steps[2].line == 2  # step 3 is the handler's first line
    assert [s.variables["result"] for s in inv.steps] == ["undefined"] * 3 + ["10"] * 4
    assert [s.variables["event['value']"] for s in inv.steps] == ["5"] * 7
    assert all(s.variables["container_state"] == s.container_state for s in inv.steps)
    assert inv.variable_names() == ["event", "result", "event['value']", "container_state"]


def test_reaping_appends_step_8_to_the_last_invocation(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30, track=["event['value']"])
    inv = mgr.invoke("seed", {"value": 5})
    env = env_of(mgr, inv)
    process = psutil.Process(env.pid)

    reaped = mgr.advance(30)

    assert reaped == [env]
    assert rows(inv) == SEED_TABLE + [REAPED_STEP]
    assert inv.steps[7].variables["container_state"] == "Container terminated after idle timeout"
    assert inv.steps[7].variables["result"] == "10"
    assert (env.state, env.end_reason) == ("terminated", "idle-timeout")
    assert mgr.containers == []
    assert not process.is_running()


def test_advance_short_of_idle_timeout_keeps_the_environment(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30)
    inv = mgr.invoke("seed", {"value": 5})

    assert mgr.advance(10) == []

    assert env_of(mgr, inv).state == "idle"
    assert len(inv.steps) == 7


def test_second_invocation_is_warm_and_says_so(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30, track=["event['value']"])
    first = mgr.invoke("seed", {"value": 5})
    second = mgr.invoke("seed", {"value": 5})

    assert (second.cold, second.cold_reason) == (False, None)
    assert second.container_id == first.container_id
    assert second.steps[0].container_state == "Container warm (frozen)"
    assert (second.steps[1].action, second.steps[1].container_state) == \
        ("Reuse warm container", "Container active")
    assert [r[1:] for r in rows(second)[2:]] == [r[1:] for r in SEED_TABLE[2:]]
    assert second.result == 10
    assert second.init_duration_ms is None
    # The first invocation's environment was reused: its table says so at step 8.
    assert (first.steps[7].action, first.steps[7].kind) == ("Next event arrives", "end")


def test_lifecycle_events_follow_the_environment(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30)
    inv = mgr.invoke("seed", {"value": 5})
    mgr.invoke("seed", {"value": 6})
    mgr.advance(30)

    mine = [e for e in mgr.events if e.container_id == inv.container_id]
    assert [e.kind for e in mine] == ["create", "init-start", "init-done", "invoke", "idle",
                                      "thaw", "invoke", "idle", "terminate"]
    assert mine[0].reason == "first-invocation"
    assert mine[-1].reason == "idle-timeout"
    assert mine[3].request_id == inv.request_id
    times = [e.time for e in mine]
    assert times == sorted(times)
    assert mine[-1].time >= 30


def test_globals_persist_across_warm_invocations(mgr):
    mgr.register("counter", COUNTER_SOURCE, idle_timeout=30)
    invs = [mgr.invoke("counter", {}) for _ in range(3)]

    assert [i.result for i in invs] == [1, 2, 3]
    assert len({i.container_id for i in invs}) == 1
    assert [i.cold for i in invs] == [True, False, False]
    assert (invs[2].globals_before["count"], invs[2].globals_after["count"]) == ("2", "3")


def test_globals_reset_after_idle_expiry(mgr):
    mgr.register("counter", COUNTER_SOURCE, idle_timeout=30)
    first = [mgr.invoke("counter", {}) for _ in range(2)]
    mgr.advance(30)
    after = mgr.invoke("counter", {})

    assert [i.result for i in first] == [1, 2]
    assert after.result == 1
    assert (after.cold, after.cold_reason) == (True, "idle-expired")
    assert after.steps[1].action == "Create new container (init)"
    assert after.container_id != first[0].container_id
    assert env_of(mgr, first[0]).state == "terminated"


def test_idle_environment_is_frozen_and_runs_while_busy(mgr):
    # Unscaled: the fallback's CPU throttle stops a spinning process too, between its slices.
    mgr.register("spin", SPIN_SOURCE, trace=False, timeout=10, idle_timeout=60, cpu_scaling=False)
    inv = mgr.invoke("spin", {"seconds": 0})
    env = env_of(mgr, inv)

    assert wait_for(lambda: frozen(env.pid))
    assert (env.state, env.frozen) == ("idle", True)

    future = mgr.submit("spin", {"seconds": 2.5})
    assert wait_for(lambda: not frozen(env.pid))
    seen = []
    while env.state == "busy" and len(seen) < 20:
        seen.append(frozen(env.pid))
    busy = future.result()
    assert busy.container_id == env.id and busy.cold is False
    assert seen and True not in seen[:-1]  # the last sample may follow the return

    assert wait_for(lambda: frozen(env.pid))
    assert env.frozen


def test_environment_states_and_records(mgr):
    mgr.register("seed", SEED_SOURCE, idle_timeout=30)
    inv = mgr.invoke("seed", {"value": 5})
    env = env_of(mgr, inv)

    assert mgr.containers == [env]
    assert (env.state, env.function_name, env.version) == ("idle", "seed", "$LATEST")
    assert (env.invocations, env.inits, env.create_reason) == (1, 1, "first-invocation")
    assert (env.provisioned, env.init_type) == (False, "on-demand")
    assert env.pid == psutil.Process(env.pid).pid
    assert mgr.history == [inv]
    assert inv.number == 1 and inv.done


def test_get_manager_is_one_per_kernel_and_constructor_makes_independent_ones():
    kernel = lw.get_manager()
    try:
        assert lw.get_manager() is kernel
        with lw.ContainerManager() as other:
            assert other is not kernel
            other.register("mine", SEED_SOURCE)
            assert "mine" not in kernel.functions
    finally:
        kernel.shutdown()
    fresh = lw.get_manager()
    try:
        assert fresh is not kernel
    finally:
        fresh.shutdown()
