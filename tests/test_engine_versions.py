"""Versions: registering a name again publishes a new version and retires the old environments."""

from __future__ import annotations

import psutil
from conftest import env_of, frozen, status_of, wait_for

V1_SOURCE = """import time

VERSION = 1


def lambda_handler(event, context):
    time.sleep(event.get('sleep', 0))
    return VERSION
"""
V2_SOURCE = V1_SOURCE.replace("VERSION = 1", "VERSION = 2")


def test_register_again_publishes_a_new_version(mgr):
    first = mgr.register("fn", V1_SOURCE, timeout=5)
    second = mgr.register("fn", V2_SOURCE, timeout=5)

    assert (first.version, second.version) == (1, 2)
    assert mgr.function("fn") is second
    assert mgr.functions["fn"].version == 2
    assert [f.source for f in mgr.versions("fn")] == [V1_SOURCE, V2_SOURCE]
    assert mgr.register("fn", V1_SOURCE).version == 3


def test_idle_environments_of_the_old_version_are_terminated(mgr):
    mgr.register("fn", V1_SOURCE, timeout=5)
    old = mgr.invoke("fn", {})
    env = env_of(mgr, old)
    process = psutil.Process(env.pid)

    mgr.register("fn", V2_SOURCE, timeout=5)

    assert (env.state, env.end_reason) == ("terminated", "new-version")
    assert env not in mgr.containers
    assert not process.is_running()
    assert (old.steps[-1].kind, old.steps[-1].action) == ("end", "New version published")

    new = mgr.invoke("fn", {})
    assert (new.result, new.version) == (2, 2)
    assert (new.cold, new.cold_reason) == (True, "new-version")
    assert new.container_id != old.container_id
    assert f"START RequestId: {new.request_id} Version: $LATEST" in new.logs


def test_busy_environment_of_the_old_version_finishes_then_terminates(mgr):
    mgr.register("fn", V1_SOURCE, timeout=10)
    future = mgr.submit("fn", {"sleep": 1.5})
    running = future.invocation
    assert wait_for(lambda: running.container_id is not None
                    and env_of(mgr, running).state == "busy"
                    and status_of(env_of(mgr, running).pid) is not None
                    and not frozen(env_of(mgr, running).pid))
    env = env_of(mgr, running)

    mgr.register("fn", V2_SOURCE, timeout=10)
    assert env.state == "busy"  # not cut short

    done = future.result()
    assert (done.status, done.result, done.version) == ("succeeded", 1, 1)
    assert (env.state, env.end_reason) == ("terminated", "new-version")
    assert env not in mgr.containers
    assert wait_for(lambda: status_of(env.pid) is None)

    new = mgr.invoke("fn", {})
    assert (new.result, new.version, new.cold, new.cold_reason) == (2, 2, True, "new-version")


def test_an_invocation_during_the_old_ones_run_goes_to_the_new_version(mgr):
    mgr.register("fn", V1_SOURCE, timeout=10)
    slow = mgr.submit("fn", {"sleep": 1.5})
    assert wait_for(lambda: slow.invocation.container_id is not None)
    mgr.register("fn", V2_SOURCE, timeout=10)

    meanwhile = mgr.invoke("fn", {})
    assert (meanwhile.result, meanwhile.cold_reason) == (2, "new-version")
    assert slow.result().result == 1
    assert [e.version for e in mgr.containers] == [2]
