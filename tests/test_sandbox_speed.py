"""What keeps the sandbox as fast as plain processes (issue 17, "Fast"): the compiled init as
PID 1, the frozen latch group that keeps the v1 freezer switched on, and joining groups through
``tasks``. Each mechanism is checked where it runs; the speed itself is in ``benchmarks/``."""

from __future__ import annotations

import os
import shutil
import sys

import psutil
import pytest
from conftest import env_of, wait_for

import lambda_widget as lw
from lambda_widget.engine.isolation import namespaces_unavailable
from lambda_widget.runtime import tinyinit

TRIVIAL = "def lambda_handler(event, context):\n    return event\n"
needs_sandbox = pytest.mark.skipif(namespaces_unavailable() is not None,
                                   reason=f"no sandbox here: {namespaces_unavailable()}")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                              reason="no C compiler")


def _run_init(init: str, exit_code: int) -> int:
    """Exec the compiled init over a forked child whose own child (the 'runtime') exits with
    ``exit_code``; returns the wait status the init reports."""
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the init-to-be
        try:
            runtime = os.fork()
            if runtime == 0:
                os._exit(exit_code)
            os.set_inheritable(status_w, True)
            os.execv(init, ["lambda-init", str(runtime), str(status_w), "-1"])
        finally:
            os._exit(99)
    os.close(status_w)
    data = os.read(status_r, 4)
    os.close(status_r)
    _, code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 0
    assert len(data) == 4
    return int.from_bytes(data, sys.byteorder, signed=True)


@needs_cc
def test_the_compiled_init_reports_how_its_runtime_ended(tmp_path):
    init = tinyinit.build(str(tmp_path))
    assert init is not None and os.access(init, os.X_OK)
    assert tinyinit.build(str(tmp_path)) == init  # built once, then reused
    for code in (0, 7):
        assert os.waitstatus_to_exitcode(_run_init(init, code)) == code


def test_without_a_compiler_the_python_init_stays(monkeypatch, tmp_path):
    monkeypatch.setattr(tinyinit.shutil, "which", lambda name: None)
    assert tinyinit.build(str(tmp_path / "none")) is None
    monkeypatch.setenv("LAMBDA_WIDGET_PYTHON_INIT", "1")
    assert tinyinit.open_init(True) is None
    assert tinyinit.open_init(False) is None


@needs_sandbox
@needs_cc
@pytest.mark.parametrize("python_init", [False, True])
def test_a_sandbox_runs_warm_and_idle_with_either_init(monkeypatch, python_init):
    if python_init:
        monkeypatch.setenv("LAMBDA_WIDGET_PYTHON_INIT", "1")
    monkeypatch.delenv("LAMBDA_WIDGET_ISOLATION", raising=False)
    with lw.ContainerManager(seed=1) as mgr:
        assert mgr.isolation == "namespaces"
        mgr.register("f", TRIVIAL, trace=False)
        first = mgr.invoke("f", {"n": 1})
        env = env_of(mgr, first)
        init = psutil.Process(env.pid)
        compiled = init.name().startswith("lambda-init")
        assert compiled is not python_init
        if compiled:  # an idle init of a few pages, not a forked interpreter
            assert init.memory_full_info().uss < 384 * 1024
        for n in range(2, 5):  # warm: thawed and frozen again each time
            inv = mgr.invoke("f", {"n": n})
            assert (inv.status, inv.cold, inv.result) == ("succeeded", False, {"n": n})
        assert wait_for(lambda: env.frozen, timeout=10)
        runtime = env.runtime_pid
        env.kill()  # the init reports the runtime's end: SIGKILL
        assert wait_for(lambda: not psutil.pid_exists(runtime) or
                        psutil.Process(runtime).status() == psutil.STATUS_ZOMBIE, timeout=10)
        assert env.proc.wait(timeout=10) is not None


@needs_sandbox
def test_a_frozen_latch_keeps_the_v1_freezer_on_and_groups_are_joined_through_tasks(monkeypatch):
    monkeypatch.delenv("LAMBDA_WIDGET_ISOLATION", raising=False)
    with lw.ContainerManager(seed=1) as mgr:
        cgroups = mgr._isolation.cgroups  # noqa: SLF001
        mgr.register("f", TRIVIAL, trace=False)
        env = env_of(mgr, mgr.invoke("f", {}))
        if cgroups.version != 1:
            assert all(f.endswith("cgroup.procs") for f in env.cgroup.join_files)
            return
        latch = os.path.join(cgroups.bases["freezer"], "frozen-latch", "freezer.state")
        with open(latch) as f:
            assert f.read().strip() == "FROZEN"
        assert all(f.endswith("/tasks") for f in env.cgroup.join_files)
        assert {env.pid, env.runtime_pid} <= set(env.group_pids())
        for pid in env.group_pids():  # init and runtime are in every group of the environment
            with open(f"/proc/{pid}/cgroup") as f:
                text = f.read()
            assert text.count(f"/{env.id}\n") == len(env.cgroup.dirs)
    assert not os.path.exists(latch)  # removed with the manager's groups
