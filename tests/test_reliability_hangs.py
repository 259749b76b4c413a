"""Issue 11, items 1-4: nothing hangs, nothing stays busy, no work is lost or misattributed.

1. a large event into a frozen (warm or provisioned) environment;
2. ``reset()`` during a burst;
3. an internal error, a handler posting ``/runtime/init/error``, a tampered trace file;
4. a late cancel, a handler that posts its own response.
"""

from __future__ import annotations

import time

import psutil
import pytest
from conftest import wait_for

import lambda_widget as lw


@pytest.fixture
def mgr():
    """The fallback isolation mode: where handler code can reach the Runtime API and its own
    trace file, so these attacks are possible at all (namespaces close them off)."""
    with lw.ContainerManager(seed=1, isolation="process") as manager:
        yield manager


LENGTH_SOURCE = "def lambda_handler(event, context):\n    return len(event)\n"
BIG = 5_000_000  # past the loopback socket buffers




# ---------------------------------------------------------------- 1. large events into frozen environments
@pytest.mark.timeout(60)
def test_a_large_event_reaches_a_frozen_warm_environment(mgr):
    mgr.register("big-warm", LENGTH_SOURCE, trace=False, timeout=30)
    assert mgr.invoke("big-warm", "x").cold is True
    env = mgr.containers[0]
    assert wait_for(lambda: env.frozen, timeout=5)

    inv = mgr.invoke("big-warm", "x" * BIG)

    assert (inv.status, inv.result, inv.cold) == ("succeeded", BIG, False), inv.error
    assert mgr.invoke("big-warm", "y").result == 1


@pytest.mark.timeout(60)
def test_a_large_event_reaches_a_provisioned_environment_on_its_first_invocation(mgr):
    mgr.register("big-provisioned", LENGTH_SOURCE, trace=False, timeout=30, provisioned_concurrency=1)
    env = mgr.containers[0]
    assert wait_for(lambda: env.frozen, timeout=5)

    inv = mgr.invoke("big-provisioned", "x" * BIG)

    assert (inv.status, inv.result, inv.container_id) == ("succeeded", BIG, env.id), inv.error


@pytest.mark.timeout(60)
def test_a_large_event_into_a_frozen_environment_is_bounded_by_the_timeout(mgr):
    """A handler that never returns: the large event is delivered and the timeout applies."""
    mgr.register("big-stuck", "import time\n\ndef lambda_handler(event, context):\n"
                 "    if len(event) > 1:\n        time.sleep(60)\n", trace=False, timeout=1)
    mgr.invoke("big-stuck", "x")
    assert wait_for(lambda: mgr.containers[0].frozen, timeout=5)
    inv = mgr.submit("big-stuck", "x" * BIG).result(timeout=30)
    assert inv.status == "timed-out"


# ---------------------------------------------------------------- 2. reset() during a burst
OLD_SOURCE = "import time\n\ndef lambda_handler(event, context):\n    time.sleep(0.2)\n    return 'OLD'\n"
NEW_SOURCE = "def lambda_handler(event, context):\n    return 'NEW'\n"


@pytest.mark.timeout(120)
def test_reset_during_a_burst_leaves_no_old_code_running():
    with lw.ContainerManager(seed=3, max_concurrency=4) as mgr:
        mgr.register("slow", OLD_SOURCE, trace=False)
        futures = [mgr.submit("slow", {}) for _ in range(40)]
        assert wait_for(lambda: sum(f.invocation.status == "running" for f in futures) >= 2, timeout=20)

        mgr.reset()
        mgr.register("slow", NEW_SOURCE, trace=False)
        fresh = [mgr.invoke("slow", {}) for _ in range(3)]

        assert [i.result for i in fresh] == ["NEW", "NEW", "NEW"]
        old = [f.result(timeout=30) for f in futures]  # every old future settles
        # Running ones ran to their end or were killed by the reset; none failed in the engine.
        assert {i.status for i in old} <= {"succeeded", "crashed", "failed", "cancelled"}
        assert not any(i.error and i.error["errorType"] == "ServiceException" for i in old), \
            [i.error for i in old if i.error]
        assert sum(i.status == "cancelled" for i in old) >= 30  # queued ones never ran

        time.sleep(0.5)  # anything the old burst could still start would have started by now
        later = [mgr.invoke("slow", {}).result for _ in range(3)]
        assert later == ["NEW", "NEW", "NEW"]
        assert [i.result for i in mgr.history] == ["NEW"] * 6
        assert {e.function.source for e in mgr.containers} == {NEW_SOURCE}
        live = {e.pid for e in mgr.containers}
        running = [p for p in psutil.Process().children(recursive=True)
                   if p.pid not in live and str(mgr._root) in " ".join(_cwd(p))]  # noqa: SLF001
        assert not running, running


def _cwd(proc: psutil.Process) -> list[str]:
    try:
        return [proc.cwd()]
    except (psutil.Error, OSError):
        return []


def test_reset_cancels_async_retries_of_before():
    with lw.ContainerManager(seed=4, virtual_clock=True) as mgr:
        mgr.register("fails", "def lambda_handler(event, context):\n    raise ValueError('x')\n")
        mgr.invoke("fails", {}, invocation_type="Event")
        assert wait_for(lambda: any(i.status == "failed" for i in mgr.history), timeout=10)
        mgr.reset()
        mgr.register("fails", NEW_SOURCE)
        mgr.advance(600)
        assert mgr.history == []


# ---------------------------------------------------------------- 3. internal errors settle everything
def test_an_internal_error_frees_the_environment_and_the_concurrency(mgr, monkeypatch):
    from lambda_widget.engine import steps

    mgr.register("fragile", NEW_SOURCE, reserved_concurrency=1)
    assert mgr.invoke("fragile", {}).result == "NEW"
    pid = mgr.containers[0].pid
    real = steps.number_and_fill
    calls = []

    def broken(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise RuntimeError("a bug in the engine")
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "number_and_fill", broken)
    failed = mgr.invoke("fragile", {})

    assert failed.status == "failed"
    assert failed.error["errorType"] == "ServiceException"
    assert "a bug in the engine" in failed.error["errorMessage"]
    assert all(e.state != "busy" for e in mgr.containers)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    after = mgr.invoke("fragile", {})  # reserved concurrency 1 is free again
    assert (after.status, after.result, after.cold) == ("succeeded", "NEW", True)


def test_a_client_context_that_is_not_json_is_refused_before_anything_runs(mgr):
    mgr.register("ctx", NEW_SOURCE, reserved_concurrency=1)
    with pytest.raises(lw.InvalidRequestContentException):
        mgr.invoke("ctx", {}, client_context={1, 2})
    with pytest.raises(lw.InvalidRequestContentException):
        mgr.submit("ctx", {}, client_context={"custom": {1, 2}})
    assert mgr.history == []
    assert mgr.invoke("ctx", {}, client_context={"custom": {"a": 1}}).result == "NEW"


INIT_ERROR_SOURCE = """import http.client
import os


def lambda_handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/2018-06-01/runtime/init/error",
                 body=b'{"errorMessage": "fake", "errorType": "Fake.Error"}',
                 headers={"Lambda-Runtime-Function-Error-Type": "Fake.Error"})
    answer = conn.getresponse()
    return [answer.status, answer.read().decode()]
"""


def test_init_error_posted_during_an_invoke_gets_403_and_changes_nothing(mgr):
    mgr.register("late-init-error", INIT_ERROR_SOURCE, reserved_concurrency=1, trace=False)
    inv = mgr.invoke("late-init-error", {})
    assert inv.status == "succeeded", inv.error
    status, body = inv.result
    assert status == 403 and "InvalidStateTransition" in body
    again = mgr.invoke("late-init-error", {})
    assert (again.status, again.cold) == ("succeeded", False)
    assert [e.state for e in mgr.containers] == ["idle"]


TAMPER_SOURCE = """import os


def lambda_handler(event, context):
    trace = os.path.join(os.path.dirname(os.environ["TMPDIR"]), "trace.jsonl")
    with open(trace, "a") as f:
        f.write(event["garbage"] + "\\n")
    return "tampered"
"""


@pytest.mark.parametrize("garbage", ["[1]", '{"kind": 5, "line": "x"}', "null", "\\u0000{"])
def test_a_handler_that_writes_into_its_trace_file_still_gets_its_result(mgr, garbage):
    mgr.register("tamper", TAMPER_SOURCE, reserved_concurrency=1)
    inv = mgr.invoke("tamper", {"garbage": garbage})
    assert (inv.status, inv.result) == ("succeeded", "tampered"), inv.error
    assert inv.steps
    again = mgr.invoke("tamper", {"garbage": "[]"})
    assert (again.status, again.cold) == ("succeeded", False), again.error


# ---------------------------------------------------------------- 4. outcomes belong to one request
ECHO_SOURCE = "def lambda_handler(event, context):\n    return event\n"


def test_a_cancel_that_lands_after_the_response_hits_nobody(mgr):
    mgr.register("echo", ECHO_SOURCE, trace=False)
    mgr.invoke("echo", 0)
    server = mgr._server  # noqa: SLF001 - the race is only reachable between two callbacks
    forward = server.on_outcome
    late: list = []

    def cancel_right_after(env, item):
        forward(env, item)
        if item[0] == "response" and not late:
            late.append(env.current)
            mgr.cancel(env.current)  # still current: the engine has not taken the response yet

    server.on_outcome = cancel_right_after
    first = mgr.invoke("echo", 1)
    server.on_outcome = forward
    assert late and late[0] is first
    assert (first.status, first.result) == ("succeeded", 1)

    second = mgr.invoke("echo", 2)
    assert (second.status, second.result, second.cold) == ("succeeded", 2, False), second.error


SELF_POST_SOURCE = """import http.client
import os


def lambda_handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", f"/2018-06-01/runtime/invocation/{context.aws_request_id}/response",
                 body=b'"posted by the handler"')
    conn.getresponse().read()
    return event
"""


def test_a_response_the_handler_posts_itself_is_not_the_next_invocations(mgr):
    mgr.register("self-post", SELF_POST_SOURCE, trace=False)
    results = [mgr.invoke("self-post", i) for i in range(5)]
    # The first response for a request wins (the handler's); the runtime's own comes second
    # and must not be taken by the next invocation.
    assert [i.result for i in results] == ["posted by the handler"] * 5
    for inv in results:
        assert inv.status == "succeeded", inv.error
