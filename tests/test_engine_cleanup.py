"""Cleanup: no process outlives its manager, its environment, or the kernel that started it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
from conftest import SLEEPER_SOURCE, env_of, frozen, host_pid, is_dead, is_reaped, status_of, wait_for

import lambda_widget as lw

CHILD_SOURCE = """import subprocess


def lambda_handler(event, context):
    return subprocess.Popen(['sleep', '60']).pid
"""

TMP_SOURCE = "import tempfile\n\n\ndef lambda_handler(event, context):\n    return tempfile.gettempdir()\n"

# A stand-in for a kernel: makes a manager, leaves one environment idle (and with "busy" one
# running), prints every process the manager started, then waits to be killed ("wait") or
# exits without shutting the manager down ("exit").
KERNEL_SCRIPT = textwrap.dedent("""
    import sys
    import time

    import psutil

    import lambda_widget as lw

    mode, busy = sys.argv[1], sys.argv[2] == "busy"
    mgr = lw.ContainerManager()
    mgr.register("idle", "def lambda_handler(event, context):\\n    return 1\\n")
    mgr.invoke("idle", {})
    if busy:
        mgr.register("busy", "import time\\n\\n\\ndef lambda_handler(event, context):\\n    time.sleep(60)\\n",
                     timeout=120)
        mgr.submit("busy", {})
        while not any(e.function_name == "busy" and e.state == "busy" for e in mgr.containers):
            time.sleep(0.02)
    pids = [p.pid for p in psutil.Process().children(recursive=True)]
    pids += [e.pid for e in mgr.containers if e.pid not in pids]
    print(" ".join(map(str, pids)), flush=True)
    if mode == "exit":
        sys.exit(0)
    time.sleep(120)
""")


def _descendants() -> dict[int, psutil.Process]:
    return {p.pid: p for p in psutil.Process().children(recursive=True)}


def _run_kernel(mode: str, busy: str) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """Start the stand-in kernel; returns it and the processes its manager started."""
    proc = subprocess.Popen([sys.executable, "-c", KERNEL_SCRIPT, mode, busy], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.strip():
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the stand-in kernel printed no pids: {err.decode()[-2000:]}")
    processes = []
    for pid in map(int, line.split()):
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return proc, processes


def test_shutdown_kills_and_reaps_every_process():
    before = set(_descendants())
    mgr = lw.ContainerManager()
    try:
        mgr.register("idle", SLEEPER_SOURCE)
        mgr.register("busy", SLEEPER_SOURCE, timeout=30)
        mgr.register("crashed", "import os\n\n\ndef lambda_handler(event, context):\n    os._exit(1)\n")
        mgr.invoke("idle", {})
        mgr.invoke("crashed", {})
        future = mgr.submit("busy", {"sleep": 25})
        assert wait_for(lambda: future.invocation.container_id is not None
                        and env_of(mgr, future.invocation).state == "busy")
        envs = list(mgr.containers)
        started = {pid: p for pid, p in _descendants().items() if pid not in before}
        live_env_pids = {e.pid for e in envs if e.alive}
        assert live_env_pids and live_env_pids <= set(started)
    finally:
        mgr.shutdown()

    assert wait_for(lambda: all(is_reaped(p) for p in started.values())), \
        {pid: status_of(pid) for pid, p in started.items() if not is_reaped(p)}
    assert mgr.containers == []
    assert all(e.state == "terminated" and e.end_reason == "shutdown" for e in envs)


def test_shutdown_ends_a_running_invocation():
    mgr = lw.ContainerManager()
    try:
        mgr.register("busy", SLEEPER_SOURCE, timeout=60)
        future = mgr.submit("busy", {"sleep": 50})
        assert wait_for(lambda: future.invocation.container_id is not None
                        and env_of(mgr, future.invocation).state == "busy")
        env = env_of(mgr, future.invocation)
    finally:
        mgr.shutdown()

    inv = future.result(timeout=10)  # not left waiting for the function's 60 s timeout
    assert inv.done and inv.status not in ("succeeded", "timed-out")
    assert env.state == "terminated"
    assert env.end_reason == "shutdown"


def test_shutdown_is_idempotent_and_final():
    mgr = lw.ContainerManager()
    mgr.register("fn", TMP_SOURCE)
    inv = mgr.invoke("fn", {})
    tmp = env_of(mgr, inv).tmp  # on this machine (in a sandbox the handler sees it as /tmp)
    assert os.path.isdir(tmp) and (inv.result == "/tmp" or os.path.samefile(inv.result, tmp))

    mgr.shutdown()
    mgr.shutdown()

    assert not os.path.exists(tmp)
    with pytest.raises(RuntimeError):
        mgr.invoke("fn", {})
    with pytest.raises(RuntimeError):
        mgr.register("other", TMP_SOURCE)


def test_reset_kills_every_environment_and_forgets(mgr):
    mgr.register("fn", SLEEPER_SOURCE)
    inv = mgr.invoke("fn", {})
    process = psutil.Process(env_of(mgr, inv).pid)

    mgr.reset()

    assert wait_for(lambda: is_reaped(process))
    assert (mgr.containers, mgr.history, mgr.functions) == ([], [], {})
    mgr.register("fn", SLEEPER_SOURCE)
    again = mgr.invoke("fn", {})
    assert (again.status, again.cold_reason) == ("succeeded", "first-invocation")


def test_a_process_the_handler_started_dies_with_its_environment(mgr):
    mgr.register("parent", CHILD_SOURCE, idle_timeout=30)
    inv = mgr.invoke("parent", {})
    env = env_of(mgr, inv)
    child = psutil.Process(host_pid(env, inv.result))

    # The whole sandbox is frozen while idle, the handler's child included.
    assert wait_for(lambda: frozen(env.pid))
    assert wait_for(lambda: frozen(child.pid))

    mgr.advance(30)

    assert env.state == "terminated"
    assert wait_for(lambda: is_dead(child))


@contextmanager
def _kernel(mode: str, busy: str) -> Iterator[tuple[subprocess.Popen, list[psutil.Process]]]:
    """``_run_kernel``, and afterwards nothing of it left running, whatever the test found."""
    kernel, processes = _run_kernel(mode, busy)
    try:
        yield kernel, processes
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
        for p in processes:
            if not is_dead(p):
                p.kill()


@pytest.mark.parametrize("busy", ["idle", "busy"])
def test_environments_die_when_the_kernel_is_killed(busy):
    with _kernel("wait", busy) as (kernel, processes):
        assert len(processes) >= 2
        assert not any(is_dead(p) for p in processes)
        os.kill(kernel.pid, signal.SIGKILL)
        kernel.wait(timeout=10)
        assert wait_for(lambda: all(is_dead(p) for p in processes), timeout=10), \
            {p.pid: status_of(p.pid) for p in processes if not is_dead(p)}


@pytest.mark.parametrize("busy", ["idle", "busy"])
def test_environments_die_when_the_kernel_exits_without_shutdown(busy):
    with _kernel("exit", busy) as (kernel, processes):
        try:
            kernel.wait(timeout=15)  # a running invocation must not hold the interpreter's exit
        except subprocess.TimeoutExpired:
            pytest.fail("the kernel did not exit: something waits for the running invocation")
        assert kernel.returncode == 0
        assert wait_for(lambda: all(is_dead(p) for p in processes), timeout=10)
