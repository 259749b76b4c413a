"""Failures as Lambda reports them: crashes, timeouts, handler and init errors, API errors."""

from __future__ import annotations

import psutil
import pytest
from conftest import env_of, report_line

import lambda_widget as lw

# Counts invocations per process, then fails the way event["action"] asks.
FAULTY_SOURCE = """import ctypes
import os
import sys

count = 0


def lambda_handler(event, context):
    global count
    count += 1
    action = event.get('action')
    if action == 'os_exit':
        os._exit(1)
    if action == 'sys_exit0':
        sys.exit(0)
    if action == 'sys_exit1':
        sys.exit(1)
    if action == 'segfault':
        ctypes.string_at(0)
    if action == 'loop':
        while True:
            pass
    if action == 'raise':
        raise ValueError('boom')
    if action == 'set':
        return {1, 2}
    return count
"""

HANDLER = "def lambda_handler(event, context):\n    return 1\n"

CRASHES = {
    "os_exit": "Runtime exited with error: exit status 1",
    "sys_exit0": "Runtime exited without providing a reason",
    "sys_exit1": "Runtime exited with error: exit status 1",
    "segfault": "Runtime exited with error: signal: segmentation fault",
}


@pytest.mark.parametrize("action", sorted(CRASHES))
def test_manager_survives_a_process_exit_and_resets_the_environment(module_mgr, action):
    name = f"crash-{action.replace('_', '-')}"
    module_mgr.register(name, FAULTY_SOURCE, timeout=1)
    warm = [module_mgr.invoke(name, {}) for _ in range(2)]
    old = psutil.Process(env_of(module_mgr, warm[0]).pid)

    inv = module_mgr.invoke(name, {"action": action})

    rid = inv.request_id
    message = f"RequestId: {rid} Error: {CRASHES[action]}"
    assert inv.status == "crashed"
    assert inv.error == {"errorMessage": message, "errorType": "Runtime.ExitError"}
    assert inv.result is None
    assert report_line(inv).endswith("\tStatus: error\tError Type: Runtime.ExitError\t")
    assert inv.logs[-4:-2] == [message, "Runtime.ExitError"]
    assert inv.steps[-1].kind == "stop"
    assert not old.is_running()

    after = module_mgr.invoke(name, {})
    assert after.status == "succeeded"
    assert after.result == 1  # init ran again: globals reset
    assert (after.cold, after.cold_reason) == (True, "reset-after-crash")
    assert after.container_id == warm[0].container_id  # the same environment, re-initialised
    assert after.steps[1].action == "Re-initialise container (init)"


def test_infinite_loop_times_out_and_resets_the_environment(module_mgr):
    module_mgr.register("looper", FAULTY_SOURCE, timeout=1)
    warm = [module_mgr.invoke("looper", {}) for _ in range(2)]
    old = psutil.Process(env_of(module_mgr, warm[0]).pid)

    inv = module_mgr.invoke("looper", {"action": "loop"})

    assert inv.status == "timed-out"
    assert inv.error == {
        "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout"}
    assert report_line(inv).endswith("\tStatus: timeout\t")
    assert inv.duration_ms == 1000.0
    assert inv.steps[-1].kind == "stop"
    assert not old.is_running()

    after = module_mgr.invoke("looper", {})
    assert (after.status, after.result) == ("succeeded", 1)
    assert (after.cold, after.cold_reason) == (True, "reset-after-timeout")
    assert after.container_id == warm[0].container_id


def test_handler_exception_is_reported_and_the_environment_stays_warm(module_mgr):
    module_mgr.register("raiser", FAULTY_SOURCE)
    first = module_mgr.invoke("raiser", {})
    pid = env_of(module_mgr, first).pid

    inv = module_mgr.invoke("raiser", {"action": "raise"})

    assert inv.status == "failed"
    assert set(inv.error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (inv.error["errorMessage"], inv.error["errorType"]) == ("boom", "ValueError")
    assert inv.error["requestId"] == inv.request_id
    trace = inv.error["stackTrace"]
    assert trace and all(isinstance(frame, str) for frame in trace)
    assert any("lambda_handler" in frame and "raise ValueError('boom')" in frame for frame in trace)
    assert not any("lambda_widget/runtime" in frame for frame in trace)
    assert any(line.startswith("[ERROR] ValueError: boom") for line in inv.logs)
    assert inv.steps[-2].kind == "error" and inv.steps[-1].kind == "warm"

    after = module_mgr.invoke("raiser", {})
    assert (after.cold, after.container_id) == (False, first.container_id)
    assert after.result == 3  # the globals survived the exception
    assert env_of(module_mgr, after).pid == pid


def test_unserialisable_result_is_a_marshal_error(module_mgr):
    module_mgr.register("marshal", FAULTY_SOURCE)
    inv = module_mgr.invoke("marshal", {"action": "set"})

    assert inv.status == "failed"
    assert inv.error["errorType"] == "Runtime.MarshalError"
    assert inv.error["errorMessage"] == \
        "Unable to marshal response: Object of type set is not JSON serializable"
    assert inv.error["requestId"] == inv.request_id
    assert module_mgr.invoke("marshal", {}).cold is False


INIT_FAILURES = {
    "syntax": ("def lambda_handler(event, context)\n    return 1\n", "lambda_handler",
               "Runtime.UserCodeSyntaxError", "Syntax error in module 'lambda_function': "),
    "import": ("import nope\n\n\n" + HANDLER, "lambda_handler", "Runtime.ImportModuleError",
               "Unable to import module 'lambda_function': No module named 'nope'"),
    "missing": (HANDLER, "nope", "Runtime.HandlerNotFound",
                "Handler 'nope' missing on module 'lambda_function'"),
    "raises": ("raise RuntimeError('bad init')\n\n\n" + HANDLER, "lambda_handler", "RuntimeError",
               "bad init"),
}


@pytest.mark.parametrize("kind", sorted(INIT_FAILURES))
def test_init_failures_are_reported_with_lambdas_messages(module_mgr, kind):
    source, handler, error_type, message = INIT_FAILURES[kind]
    name = f"init-{kind}"
    module_mgr.register(name, source, handler=handler)

    inv = module_mgr.invoke(name, {})

    assert inv.status == "failed"
    assert inv.cold is True
    assert inv.error["errorType"] == error_type
    if kind == "syntax":
        assert inv.error["errorMessage"].startswith(message)
    else:
        assert inv.error["errorMessage"] == message
    assert inv.result is None
    assert inv.logs[0].startswith("INIT_START ")
    assert [line.split("\t")[1] for line in inv.logs if line.startswith("INIT_REPORT ")] == \
        ["Phase: init", "Phase: invoke"]
    assert report_line(inv).endswith(f"\tStatus: error\tError Type: {error_type}\t")
    assert inv.steps[1].container_state == "Init failed"

    again = module_mgr.invoke(name, {})
    assert (again.status, again.cold, again.cold_reason) == ("failed", True, "reset-after-init-error")
    assert again.error["errorType"] == error_type


def test_unknown_function_names_the_registered_ones(mgr):
    mgr.register("alpha", HANDLER)
    mgr.register("beta", HANDLER)

    with pytest.raises(lw.ResourceNotFoundException) as caught:
        mgr.invoke("gamma", {})

    text = str(caught.value)
    assert "gamma" in text and "alpha" in text and "beta" in text
    with pytest.raises(lw.ResourceNotFoundException):
        mgr.function("gamma")
    assert mgr.history == []


@pytest.mark.parametrize("event", [{"a": {1, 2}}, object(), float("nan"), b"{not json"])
def test_event_that_is_not_json_is_rejected_before_any_environment(mgr, event):
    mgr.register("alpha", HANDLER)

    with pytest.raises(lw.InvalidRequestContentException):
        mgr.invoke("alpha", event)

    assert mgr.history == [] and mgr.all_containers == []


@pytest.mark.parametrize("settings", [{"timeout": 0.5}, {"timeout": 901}, {"memory_mb": 64},
                                      {"memory_mb": 10241}, {"idle_timeout": 0}])
def test_invalid_configuration_is_rejected(mgr, settings):
    with pytest.raises(lw.InvalidParameterValueException):
        mgr.register("alpha", HANDLER, **settings)

    assert mgr.functions == {}


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "a/b"])
def test_invalid_function_names_are_rejected(mgr, name):
    with pytest.raises(lw.InvalidParameterValueException):
        mgr.register(name, HANDLER)
