"""Routing and concurrency: separate environments for concurrent events, throttling, provisioned ones."""

from __future__ import annotations

import psutil
from conftest import SLEEPER_SOURCE, env_of, report_fields

# Long enough that every concurrent submit is routed while the others still run.
BUSY_SECONDS = 1.0


def test_concurrent_submits_get_distinct_environments(module_mgr):
    module_mgr.register("parallel", SLEEPER_SOURCE, idle_timeout=600)
    futures = [module_mgr.submit("parallel", {"sleep": BUSY_SECONDS}) for _ in range(4)]
    invs = [f.result() for f in futures]

    assert [i.status for i in invs] == ["succeeded"] * 4
    assert [i.result for i in invs] == [i.request_id for i in invs]
    assert len({i.container_id for i in invs}) == 4
    assert all(i.cold for i in invs)
    assert sorted(i.cold_reason for i in invs) == ["all-busy"] * 3 + ["first-invocation"]
    envs = [env_of(module_mgr, i) for i in invs]
    assert len({e.pid for e in envs}) == 4
    assert all(psutil.pid_exists(e.pid) for e in envs)

    # All four are idle now: the next event reuses one of them.
    again = module_mgr.invoke("parallel", {})
    assert again.cold is False
    assert again.container_id in {i.container_id for i in invs}


def test_submit_returns_a_future_with_the_record_at_once(module_mgr):
    module_mgr.register("future", SLEEPER_SOURCE)
    future = module_mgr.submit("future", {"sleep": 0.2})

    record = future.invocation
    assert record.function_name == "future"
    assert record in module_mgr.history
    assert future.result() is record
    assert record.status == "succeeded" and record.done


def test_reserved_concurrency_throttles_the_excess(module_mgr):
    module_mgr.register("capped", SLEEPER_SOURCE, reserved_concurrency=1)
    futures = [module_mgr.submit("capped", {"sleep": BUSY_SECONDS}) for _ in range(3)]
    invs = [f.result() for f in futures]

    served = [i for i in invs if i.status == "succeeded"]
    throttled = [i for i in invs if i.status == "throttled"]
    assert (len(served), len(throttled)) == (1, 2)
    for inv in throttled:
        assert inv.error["errorType"] == "TooManyRequestsException"
        assert inv.error["errorMessage"] == "Rate Exceeded."
        assert inv.container_id is None
        assert inv.result is None
        assert inv.steps and inv.steps[-1].container_state == "No container created"
    mine = [e for e in module_mgr.all_containers if e.function_name == "capped"]
    assert len(mine) == 1
    creates = [e for e in module_mgr.events if e.function_name == "capped" and e.kind == "create"]
    assert len(creates) == 1

    # The one environment is idle now: the cap leaves room for the next event.
    after = module_mgr.invoke("capped", {})
    assert (after.status, after.cold, after.container_id) == ("succeeded", False, served[0].container_id)


def test_reserved_concurrency_zero_throttles_everything(module_mgr):
    module_mgr.register("off", SLEEPER_SOURCE, reserved_concurrency=0)
    inv = module_mgr.invoke("off", {})

    assert inv.status == "throttled"
    assert inv.error["errorType"] == "TooManyRequestsException"
    assert not [e for e in module_mgr.all_containers if e.function_name == "off"]


def test_provisioned_environments_start_at_register_serve_first_and_stay(mgr):
    mgr.register("warm", SLEEPER_SOURCE, provisioned_concurrency=2, idle_timeout=30)

    provisioned = list(mgr.containers)
    assert len(provisioned) == 2
    for env in provisioned:
        assert (env.state, env.provisioned, env.init_type) == ("idle", True, "provisioned-concurrency")
        assert env.inits == 1 and env.invocations == 0
        assert psutil.pid_exists(env.pid)
    ids = {e.id for e in provisioned}
    assert not mgr.history

    futures = [mgr.submit("warm", {"sleep": BUSY_SECONDS}) for _ in range(3)]
    invs = [f.result() for f in futures]
    assert [i.status for i in invs] == ["succeeded"] * 3
    warm = [i for i in invs if i.container_id in ids]
    spill = [i for i in invs if i.container_id not in ids]
    assert len(warm) == 2 and len({i.container_id for i in warm}) == 2
    assert all(i.cold is False for i in warm)
    assert all("Init Duration" not in report_fields(i) for i in warm)
    assert [(i.cold, i.cold_reason) for i in spill] == [(True, "all-busy")]

    # Provisioned environments serve before the on-demand one, which is idle too.
    nxt = mgr.invoke("warm", {})
    assert nxt.container_id in ids and nxt.cold is False

    reaped = mgr.advance(300)
    assert [e.id for e in reaped] == [spill[0].container_id]
    assert {e.id for e in mgr.containers} == ids
    assert all(e.state == "idle" and psutil.pid_exists(e.pid) for e in provisioned)
    assert mgr.invoke("warm", {}).cold is False


def test_provisioned_environment_sees_its_initialization_type(mgr):
    source = "import os\n\n\ndef lambda_handler(event, context):\n" \
             "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
    mgr.register("pc", source, provisioned_concurrency=1)

    assert mgr.invoke("pc", {}).result == "provisioned-concurrency"
