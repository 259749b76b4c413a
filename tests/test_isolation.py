"""Containment of an environment's process tree (issue 11, items 5-7, and the isolation modes).

Every test runs in both modes where the machine allows: the sandbox (user, mount and PID
namespaces, cgroups) and the portable fallback (subreaper, fresh code copy, fork server
respawn). A few tests check what only the sandbox can promise.
"""

from __future__ import annotations

import json
import os
import time

import psutil
import pytest
from conftest import env_of, frozen, host_pid, wait_for
from test_fidelity_helpers import Containment

import lambda_widget as lw
from lambda_widget.engine.isolation import namespaces_unavailable

# A child that leaves the process group and session (start_new_session=True), and writes
# the time every 10 ms into the environment's /tmp; optionally it holds memory first.
ESCAPER_SOURCE = """
import os
import subprocess
import sys
import tempfile

CODE = '''
import sys, time
hold = b"x" * (int(sys.argv[2]) << 20)
while True:
    with open(sys.argv[1], "a") as f:
        f.write("%r\\\\n" % time.monotonic())
    time.sleep(0.01)
'''


def lambda_handler(event, context):
    path = os.path.join(tempfile.gettempdir(), "ticks")
    child = subprocess.Popen([sys.executable, "-c", CODE, path, str(event.get("mb", 0))],
                             start_new_session=True)
    if event.get("wait"):
        child.wait()
    return {"child": child.pid, "pgid": os.getpgid(child.pid), "mine": os.getpgid(0)}
"""

# Rewrites every handler module it can find from its task root up, then deletes its own code.
TAMPER_SOURCE = """
import glob
import os
import shutil


def lambda_handler(event, context):
    root = os.environ["LAMBDA_TASK_ROOT"]
    written = []
    # event["root"]: the manager's directory on the machine, where every function's code is.
    for path in glob.glob(os.path.join(event.get("root", root), "**", "lambda_function.py"),
                          recursive=True) + \\
            [os.path.join(root, "lambda_function.py")]:
        try:
            os.chmod(path, 0o644)
            with open(path, "w") as f:
                f.write("def lambda_handler(event, context):\\n    return 'PWNED'\\n")
            written.append(path)
        except OSError:
            pass
    if event.get("delete"):
        shutil.rmtree(root, ignore_errors=True)
        os._exit(1)
    return written
"""

VICTIM_SOURCE = "def lambda_handler(event, context):\n    return 'genuine'\n"

# Kills its runtime's parent: the fork server, in the fallback (in a sandbox, the parent is
# the namespace's init, which it cannot signal).
ZYGOTE_KILLER_SOURCE = """
import os
import signal


def lambda_handler(event, context):
    try:
        os.kill(os.getppid(), signal.SIGKILL)
        return "killed"
    except OSError as exc:
        return type(exc).__name__
"""

SLEEPER_SOURCE = "import time\n\ndef lambda_handler(event, context):\n    time.sleep(event['s'])\n    return 'slept'\n"

pytestmark = pytest.mark.usefixtures("isolation")


def ticks(env) -> int:
    try:
        with open(env.tmp / "ticks") as f:
            return len(f.read().splitlines())
    except OSError:
        return 0


def test_a_child_in_a_new_session_is_frozen_with_its_environment_and_dies_with_it():
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("escaper", ESCAPER_SOURCE, idle_timeout=30)
        inv = mgr.invoke("escaper", {})
        assert inv.status == "succeeded", inv.error
        assert inv.result["pgid"] != inv.result["mine"]  # it did leave the process group
        env = env_of(mgr, inv)
        child = psutil.Process(host_pid(env, inv.result["child"]))
        box.pids.add(child.pid)

        assert wait_for(lambda: frozen(child.pid), timeout=5)  # frozen with the environment
        before = ticks(env)
        time.sleep(0.5)
        assert ticks(env) == before, "the child ran while its environment was frozen"

        mgr.invoke("escaper", {})  # thawed: it runs again (and a second child starts)
        reaped = mgr.advance(30)

        assert [e.id for e in reaped] == [inv.container_id]
        assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=5)


def test_a_child_in_a_new_session_does_not_survive_shutdown():
    with Containment(seed=1) as box:
        box.mgr.register("escaper", ESCAPER_SOURCE)
        inv = box.mgr.invoke("escaper", {})
        box.pids.add(host_pid(env_of(box.mgr, inv), inv.result["child"]))
    # Containment asserts at exit that no process of the manager is left.


def test_memory_of_a_child_in_a_new_session_counts_against_the_function():
    with Containment(seed=1) as box:
        box.mgr.register("escaper", ESCAPER_SOURCE, memory_mb=128, timeout=20, trace=False)
        inv = box.mgr.invoke("escaper", {"mb": 400, "wait": True})
        assert inv.status == "out-of-memory", (inv.status, inv.result)
        assert inv.error["errorType"] == "Runtime.OutOfMemory"
        assert inv.max_memory_used_mb == 128


def test_a_handler_cannot_change_the_code_of_any_environment():
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("victim", VICTIM_SOURCE)
        mgr.register("tamper", TAMPER_SOURCE)
        assert mgr.invoke("victim", {}).result == "genuine"

        tampered = mgr.invoke("tamper", {"root": box.root})
        assert tampered.status == "succeeded", tampered.error
        if mgr.isolation == "namespaces":
            assert tampered.result == []  # /var/task is read-only, and nothing else is in reach

        # Whatever it reached, no environment runs it: not the warm one, not a new one.
        assert mgr.invoke("victim", {}).result == "genuine"
        busy = mgr.submit("victim", {})
        fresh = [mgr.submit("victim", {}) for _ in range(2)]
        assert {f.result(timeout=30).result for f in [busy, *fresh]} == {"genuine"}
        again = mgr.invoke("tamper", {"root": box.root})  # its own next invocation: its own code still
        assert again.status == "succeeded" and isinstance(again.result, list)


def test_a_handler_that_deletes_its_task_root_breaks_nothing_after_it():
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("tamper", TAMPER_SOURCE)
        crashed = mgr.invoke("tamper", {"delete": True})
        assert crashed.status == "crashed"

        after = mgr.invoke("tamper", {})  # a suppressed init, in the same environment
        assert (after.status, after.cold, after.cold_reason) == ("succeeded", True, "reset-after-crash")
        other = [mgr.submit("tamper", {}) for _ in range(2)]  # new environments
        assert all(f.result(timeout=30).status == "succeeded" for f in other)


def test_killing_the_fork_server_does_not_crash_other_functions_invocations():
    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("sleeper", SLEEPER_SOURCE, timeout=10)
        mgr.register("killer", ZYGOTE_KILLER_SOURCE)
        mgr.register("victim", VICTIM_SOURCE)
        assert mgr.invoke("victim", {}).result == "genuine"  # a warm, frozen environment
        in_flight = mgr.submit("sleeper", {"s": 1.5})
        assert wait_for(lambda: in_flight.invocation.status == "running", timeout=10)

        killed = mgr.invoke("killer", {})

        assert killed.status == "succeeded"
        if mgr.isolation == "process":
            assert killed.result == "killed"
            assert wait_for(lambda: mgr._zygote.dead, timeout=5)  # noqa: SLF001
        else:
            assert killed.result != "killed"  # the sandbox's parent is its own init, out of reach
        done = in_flight.result(timeout=30)
        assert (done.status, done.result) == ("succeeded", "slept")
        assert mgr.invoke("victim", {}).result == "genuine"
        assert mgr.invoke("sleeper", {"s": 0}).result == "slept"
        if mgr.isolation == "process":
            assert mgr._zygote.restarts == 1  # noqa: SLF001 - a new fork server took over


def test_the_active_mode_is_reported(isolation):
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("victim", VICTIM_SOURCE)
        inv = mgr.invoke("victim", {})
        state = mgr.to_dict()
        json.dumps(state)
        assert mgr.isolation == state["isolation"]["mode"] == isolation
        env = env_of(mgr, inv).to_dict()
        assert env["isolation"] == isolation
        assert env["cpu"]["mode"] == ("cgroup" if isolation == "namespaces" else "throttle")
        from lambda_widget.views.html import pool_head_html
        from lambda_widget.views.snapshot import pool_snapshot

        assert f"isolation: {isolation}" in pool_head_html(pool_snapshot(mgr))


# ---------------------------------------------------------------------------- sandbox only
INSIDE_SOURCE = """
import os
import signal

count = 0


def on_cont(signum, frame):
    global count
    count += 1


signal.signal(signal.SIGCONT, on_cont)


def lambda_handler(event, context):
    try:
        with open("/var/task/lambda_function.py", "a") as f:
            f.write("# changed")
        task_root = "writable"
    except OSError as exc:
        task_root = type(exc).__name__
    try:
        os.kill(event["kernel"], 0)
        kernel = "visible"
    except ProcessLookupError:
        kernel = "invisible"
    except PermissionError:
        kernel = "not permitted"
    return {"uid": os.getuid(), "pid": os.getpid(), "task_root": task_root, "kernel": kernel,
            "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "tmp": os.environ["TMPDIR"], "root": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(),
            "sigcont": count}
"""


@pytest.mark.skipif(namespaces_unavailable() is not None, reason=f"no sandbox here: {namespaces_unavailable()}")
def test_inside_the_sandbox_the_handler_sees_only_its_environment(monkeypatch):
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", "namespaces")
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("inside", INSIDE_SOURCE)
        seen = [mgr.invoke("inside", {"kernel": os.getpid()}).result for _ in range(3)]
    first = seen[0]
    assert first["uid"] == 993  # sbx_user1051, as on Lambda
    assert first["pid"] == 2 and first["procs"] == [1, 2]  # its own PID namespace
    assert first["kernel"] == "invisible"
    assert first["task_root"] in ("OSError", "PermissionError")  # read-only /var/task
    assert (first["root"], first["cwd"], first["tmp"]) == ("/var/task", "/var/task", "/tmp")
    assert seen[-1]["sigcont"] == 0  # frozen and thawed twice, and it never noticed


# A child in a new session that forks three more: all of them belong to the environment.
SPAWNER_SOURCE = """
import subprocess
import sys
import time

CODE = "import os, time\\nfor _ in range(3):\\n    if os.fork() == 0:\\n        break\\ntime.sleep(60)\\n"


def lambda_handler(event, context):
    pid = subprocess.Popen([sys.executable, "-c", CODE], start_new_session=True).pid
    while True:  # return once the three exist (the environment is frozen right after)
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            if len(f.read().split()) == 3:
                return pid
        time.sleep(0.01)
"""


def test_descendants_in_a_new_session_count_toward_the_process_cap():
    from lambda_widget.engine.watchdog import tree_usage

    with Containment(seed=1) as box:
        mgr = box.mgr
        mgr.register("spawner", SPAWNER_SOURCE, memory_mb=1769, timeout=20)
        inv = mgr.invoke("spawner", {})
        env = env_of(mgr, inv)
        child = host_pid(env, inv.result)
        box.pids.add(child)
        assert len(psutil.Process(child).children()) == 3
        members = env.group_pids()  # what the watchdog counts (and, in a sandbox, the pids cgroup)
        assert child in members and set(c.pid for c in psutil.Process(child).children()) <= set(members)
        assert tree_usage(members)[0] >= 5  # the runtime, the child and its three
