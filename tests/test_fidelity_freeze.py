"""Freeze: between invocations the whole environment is stopped (reference §1.4).

A background thread the handler started makes no progress while the environment is
idle, and resumes only when the environment is reused; every process of the
environment (its process group) is stopped, including children the handler started.
"""

from __future__ import annotations

import time

import psutil
import pytest
from conftest import env_of, frozen, host_pid, wait_for

# Every test here runs in both isolation modes: the sandbox (namespaces and cgroups)
# and the portable fallback.
pytestmark = pytest.mark.usefixtures("isolation")

# The first call starts a sampler thread (time.monotonic() every 10 ms) and a child
# process; every call sleeps event["work"] seconds and returns the samples so far.
SAMPLER_SOURCE = """
import subprocess
import threading
import time

samples = []
child = None


def sample():
    while True:
        samples.append(time.monotonic())
        time.sleep(0.01)


def lambda_handler(event, context):
    global child
    if child is None:
        threading.Thread(target=sample, daemon=True).start()
        child = subprocess.Popen(["sleep", "300"])
    time.sleep(event.get("work", 0))
    return {"samples": list(samples), "child": child.pid}
"""

IDLE = 1.0


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_background_thread_makes_no_progress_while_idle_and_resumes_on_reuse(mgr, runtime):
    # Unscaled: at 128 MB's share of a CPU the sampler thread would take fewer samples.
    mgr.register("sampler", SAMPLER_SOURCE, runtime=runtime, trace=False, timeout=10, cpu_scaling=False)
    first = mgr.invoke("sampler", {"work": 0.2})
    env = env_of(mgr, first)
    child = host_pid(env, first.result["child"])
    assert len(first.result["samples"]) >= 5  # the thread ran while the handler did

    # Idle: the runtime process and the handler's child are both stopped.
    assert wait_for(lambda: frozen(env.pid), timeout=5)
    assert wait_for(lambda: frozen(child), timeout=5)
    assert env.state == "idle" and env.frozen
    idle_from = time.monotonic()
    time.sleep(IDLE)
    idle_to = time.monotonic()

    second = mgr.invoke("sampler", {"work": 0.3})

    assert second.cold is False and second.container_id == first.container_id
    samples = second.result["samples"]
    during_idle = [t for t in samples if idle_from < t < idle_to]
    assert during_idle == [], f"{len(during_idle)} samples while the environment was idle"
    gaps = [b - a for a, b in zip(samples, samples[1:], strict=False)]
    assert max(gaps) >= 0.9 * IDLE
    resumed = [t for t in samples if t >= idle_to]
    assert len(resumed) >= 5  # it resumed once the environment was reused
    assert wait_for(lambda: frozen(env.pid), timeout=5)
    # killpg(SIGSTOP) returns before every process of the group has stopped: wait, as above.
    assert wait_for(lambda: frozen(child), timeout=5)


def test_children_of_a_reaped_environment_die_with_it(mgr):
    mgr.register("sampler-reaped", SAMPLER_SOURCE, trace=False, idle_timeout=60)
    inv = mgr.invoke("sampler-reaped", {})
    runtime = psutil.Process(env_of(mgr, inv).pid)
    child = psutil.Process(host_pid(env_of(mgr, inv), inv.result["child"]))

    reaped = mgr.advance(60)

    assert [e.id for e in reaped] == [inv.container_id]
    assert wait_for(lambda: not runtime.is_running(), timeout=5)
    assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=5)
