"""Hostile handlers: each is contained with the error Lambda would give, the kernel stays
responsive, and nothing leaks (no process after shutdown, descriptors and threads back).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from conftest import env_of, host_pid, report_fields, wait_for
from test_fidelity_helpers import Containment, group_members

import lambda_widget as lw

# Every test here runs in both isolation modes: the sandbox (namespaces and cgroups)
# and the portable fallback.
pytestmark = pytest.mark.usefixtures("isolation")

HOSTILE_SOURCE = """
import ctypes
import decimal
import math
import os
import signal
import subprocess
import sys
import time


def lambda_handler(event, context):
    action = event.get("action")
    print("action:", action)
    if action == "loop":
        while True:
            pass
    if action == "sys-exit-0":
        sys.exit(0)
    if action == "sys-exit-1":
        sys.exit(1)
    if action == "os-exit":
        os._exit(7)
    if action == "segfault":
        ctypes.string_at(0)
    if action == "kill-self":
        os.kill(os.getpid(), 9)
    if action == "fork-bomb":
        forked = 0
        for _ in range(2000):  # bounded, so the machine survives even if the cap fails
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
        return forked
    if action == "leave-child":
        return subprocess.Popen(["sleep", "300"]).pid
    if action == "flood":
        block = ("x" * 1023 + "\\n") * 1024  # 1 MiB
        for _ in range(100):
            sys.stdout.write(block)
        return "flooded"
    if action == "recurse":
        def down(n):
            return down(n + 1)
        return down(0)
    if action == "close-fd-1":
        os.close(1)
        print("into a closed descriptor")
        return "closed"
    if action == "close-sys-stdout":
        sys.stdout.close()
        print("into a closed stream")
        return "closed"
    if action == "ignore-sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.05)
    if action == "nan":
        return {"nan": math.nan, "inf": math.inf}
    if action == "decimal":
        return {"price": decimal.Decimal("19.99")}
    if action == "bytes":
        return b"\\x00raw\\xff"
    if action == "fail":
        raise ValueError("plain failure")
    return "ok"
"""

CRASHES = {
    "sys-exit-0": "Runtime exited without providing a reason",
    "sys-exit-1": "Runtime exited with error: exit status 1",
    "os-exit": "Runtime exited with error: exit status 7",
    "segfault": "Runtime exited with error: signal: segmentation fault",
    "kill-self": "Runtime exited with error: signal: killed",
}


def register(mgr: lw.ContainerManager, runtime: str = "bundled", **config) -> str:
    config.setdefault("timeout", 10)
    mgr.register("hostile", HOSTILE_SOURCE, runtime=runtime, **config)
    return "hostile"


def test_infinite_loop_times_out_while_the_kernel_stays_responsive():
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, timeout=2)
        mgr.register("calm", "def lambda_handler(event, context):\n    return 'calm'\n")
        looping = mgr.submit("hostile", {"action": "loop"})
        assert wait_for(lambda: looping.invocation.status == "running" and mgr.containers, timeout=10)

        calm = mgr.invoke("calm", {})  # served while the loop spins
        assert calm.result == "calm"
        assert not looping.done()

        inv = looping.result(timeout=30)
        rid = inv.request_id
        assert inv.status == "timed-out"
        assert inv.error == {"errorMessage": f"RequestId: {rid} Error: Task timed out after 2.00 seconds",
                             "errorType": "Sandbox.Timedout"}
        fields = report_fields(inv)
        assert (fields["Duration"], fields["Status"]) == ("2000.00 ms", "timeout")
        looped = env_of(mgr, inv).pid
        assert wait_for(lambda: not psutil.pid_exists(looped)
                        or psutil.Process(looped).status() == psutil.STATUS_ZOMBIE, timeout=5)


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
@pytest.mark.parametrize("action", sorted(CRASHES))
def test_process_exits_are_contained_as_runtime_exit_errors(runtime, action):
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, runtime)
        warm = mgr.invoke("hostile", {})
        process = psutil.Process(env_of(mgr, warm).pid)

        inv = mgr.invoke("hostile", {"action": action})

        message = f"RequestId: {inv.request_id} Error: {CRASHES[action]}"
        assert inv.status == "crashed"
        assert inv.error == {"errorMessage": message, "errorType": "Runtime.ExitError"}
        assert report_fields(inv)["Error Type"] == "Runtime.ExitError"
        assert wait_for(lambda: not process.is_running(), timeout=5)
        after = mgr.invoke("hostile", {})
        assert (after.status, after.cold, after.cold_reason) == ("succeeded", True, "reset-after-crash")


def test_fork_bomb_is_capped_and_every_process_of_it_dies():
    with Containment(seed=1) as box:
        mgr = box.mgr
        # Full CPU: at 128 MB's share (7 % of a vCPU for the whole tree) a thousand forks on a busy
        # machine can outlast any timeout, and this test is about the cap, not the speed.
        register(mgr, trace=False, timeout=120, cpu_scaling=False)
        warm = mgr.invoke("hostile", {})
        pgid = env_of(mgr, warm).pid

        inv = mgr.invoke("hostile", {"action": "fork-bomb"})

        # Stopped by the 1,024-process cap, or first by the memory the children add up to
        # (the sandbox's memory counts every process in it), depending on how fast they fork.
        assert inv.status in ("crashed", "out-of-memory"), \
            f"the handler forked {inv.result} processes unchecked"
        assert inv.error["errorType"] in ("Runtime.ExitError", "Runtime.OutOfMemory")
        assert "signal: killed" in inv.error["errorMessage"]
        assert wait_for(lambda: not group_members(pgid), timeout=20), \
            f"{len(group_members(pgid))} processes of the bomb still run"
        assert mgr.invoke("hostile", {}).status == "succeeded"


def test_child_process_left_running_dies_with_its_environment():
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, idle_timeout=30)
        inv = mgr.invoke("hostile", {"action": "leave-child"})
        child = psutil.Process(host_pid(env_of(mgr, inv), inv.result))
        box.pids.add(child.pid)
        assert child.is_running()

        reaped = mgr.advance(30)

        assert [e.id for e in reaped] == [inv.container_id]
        assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE,
                        timeout=5)


def test_100_mb_of_output_is_capped_and_kernel_memory_stays_bounded():
    me = psutil.Process()
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, timeout=120)
        mgr.invoke("hostile", {})
        before = me.memory_info().rss

        inv = mgr.invoke("hostile", {"action": "flood"})

        grown_mb = (me.memory_info().rss - before) / 2**20
        assert inv.status == "succeeded" and inv.result == "flooded"
        summary = [line for line in inv.logs if line.startswith("[lambda_widget] ")]
        assert len(summary) == 1 and summary[0].endswith(
            "more bytes of output were not kept (each invocation keeps its first 1 MiB)")
        printed = 100 * 2**20 + len("action: flood\n")
        assert int(summary[0].split()[1]) == printed - 2**20  # the first MiB is kept
        assert sum(len(line) + 1 for line in inv.logs if line.startswith("x")) <= 2**20
        assert grown_mb < 50, f"the kernel grew by {grown_mb:.0f} MB"
        assert sum(len(json.dumps(step.to_dict())) for step in inv.steps) < 2**20


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
def test_deep_recursion_gives_a_recursion_error_payload(runtime):
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, runtime)
        inv = mgr.invoke("hostile", {"action": "recurse"})

        assert inv.status == "failed", inv.error
        assert inv.error["errorType"] == "RecursionError"
        assert inv.error["errorMessage"] == "maximum recursion depth exceeded"
        assert inv.error["requestId"] == inv.request_id
        assert "in lambda_handler" in inv.error["stackTrace"][0]
        assert any("in down" in frame for frame in inv.error["stackTrace"][-3:])
        assert mgr.invoke("hostile", {}).cold is False  # a handler error does not reset


@pytest.mark.parametrize("runtime", ["bundled", "awslambdaric"])
@pytest.mark.parametrize("action", ["close-fd-1", "close-sys-stdout"])
def test_closed_stdout_is_contained_and_later_invocations_still_log(runtime, action):
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, runtime)
        inv = mgr.invoke("hostile", {"action": action})
        assert inv.done
        if inv.status != "succeeded":
            assert inv.error["errorType"] in ("Runtime.ExitError", "OSError", "ValueError")
            assert inv.error["errorMessage"]

        later = mgr.invoke("hostile", {"action": "fail"})

        assert later.status == "failed"
        assert "action: fail" in later.logs
        assert any(line.startswith("[ERROR] ValueError: plain failure") for line in later.logs), later.logs


def test_ignored_sigterm_does_not_survive_a_timeout():
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, timeout=1)
        warm = mgr.invoke("hostile", {})
        process = psutil.Process(env_of(mgr, warm).pid)

        inv = mgr.invoke("hostile", {"action": "ignore-sigterm"})

        assert inv.status == "timed-out"
        assert inv.error["errorType"] == "Sandbox.Timedout"
        assert wait_for(lambda: not process.is_running(), timeout=5)
        after = mgr.invoke("hostile", {})
        assert (after.cold, after.cold_reason) == (True, "reset-after-timeout")


def test_nan_decimal_and_bytes_results():
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr)
        nan = mgr.invoke("hostile", {"action": "nan"})
        assert nan.status == "succeeded"
        assert math.isnan(nan.result["nan"]) and nan.result["inf"] == math.inf
        assert mgr.invoke("hostile", {"action": "decimal"}).result == {"price": 19.99}
        raw = mgr.invoke("hostile", {"action": "bytes"})
        assert (raw.status, raw.result) == ("succeeded", b"\x00raw\xff")
        json.dumps(raw.to_dict())  # records stay serialisable


@pytest.mark.parametrize("event", [b"not json", b"{'single': 'quotes'}", {1, 2}, float("nan"), object()],
                         ids=["bytes", "python-literal", "set", "nan", "object"])
def test_events_that_are_not_json_are_rejected_before_anything_runs(mgr, event):
    register(mgr)
    with pytest.raises(lw.InvalidRequestContentException) as caught:
        mgr.invoke("hostile", event)
    assert caught.value.code == "InvalidRequestContentException"
    assert "Could not parse request body into json" in str(caught.value)
    assert mgr.history == [] and mgr.all_containers == []


def test_cancel_stops_a_running_invocation_and_resets_its_environment():
    with Containment(seed=1) as box:
        mgr = box.mgr
        register(mgr, timeout=60)
        future = mgr.submit("hostile", {"action": "loop"})
        assert wait_for(lambda: future.invocation.status == "running" and mgr.containers
                        and mgr.containers[0].state == "busy", timeout=10)
        process = psutil.Process(mgr.containers[0].pid)

        mgr.cancel(future.invocation)

        inv = future.result(timeout=10)
        assert inv.status == "cancelled"
        assert inv.error["errorType"] == "Client.Cancelled"
        assert wait_for(lambda: not process.is_running(), timeout=5)
        after = mgr.invoke("hostile", {})
        assert (after.status, after.cold, after.cold_reason) == ("succeeded", True, "reset-after-crash")
        assert after.container_id == inv.container_id


KEYBOARD_INTERRUPT_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import lambda_widget as lw

    SOURCE = "import time\\ndef lambda_handler(event, context):\\n    time.sleep(event.get('sleep', 0))\\n    return 'done'\\n"
    mgr = lw.ContainerManager(seed=1)
    mgr.register("slow", SOURCE, timeout=120)

    def announce():
        while not (mgr.containers and mgr.containers[0].state == "busy"):
            time.sleep(0.01)
        print("RUNNING", mgr.containers[0].pid, flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        mgr.invoke("slow", {"sleep": 100})
        report = {"interrupted": False}
    except KeyboardInterrupt:
        inv = mgr.history[-1]
        report = {"interrupted": True, "status": inv.status, "done": inv.done,
                  "error_type": (inv.error or {}).get("errorType"),
                  "env_states": [e.state for e in mgr.containers]}
        after = mgr.invoke("slow", {})
        report["after"] = [after.status, after.result, after.cold_reason, after.container_id]
        report["cancelled_container"] = inv.container_id
    mgr.shutdown()
    print(json.dumps(report), flush=True)
""")


def test_keyboard_interrupt_during_a_blocking_invoke_cancels_it_cleanly(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(KEYBOARD_INTERRUPT_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=str(tmp_path))
    try:
        line = child.stdout.readline()
        assert line.startswith("RUNNING"), line
        env_pid = int(line.split()[1])
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupted"] is True
    # When Ctrl-C reaches the notebook, the invocation is over and its environment reset.
    assert (report["status"], report["done"], report["error_type"]) == ("cancelled", True, "Client.Cancelled")
    assert report["env_states"] == ["idle"]
    assert report["after"][:3] == ["succeeded", "done", "reset-after-crash"]
    assert report["after"][3] == report["cancelled_container"]
    assert wait_for(lambda: not psutil.pid_exists(env_pid)
                    or psutil.Process(env_pid).status() == psutil.STATUS_ZOMBIE, timeout=5)
