"""Shared helpers for the fidelity suites (``test_fidelity_*.py``); this module holds no tests.

``Containment`` wraps a manager and checks, after shutdown, that a hostile handler left
nothing behind: no process of the manager, file descriptors and threads back to where
they were. ``Wire`` records what runtimes post to the Runtime API, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterable
from pathlib import Path

import psutil
from conftest import wait_for

import lambda_widget as lw

FD_SLACK = 4  # descriptors the interpreter may open lazily (e.g. /dev/urandom, selectors)
THREAD_SLACK = 1


class Containment:
    """A manager whose shutdown must leave no process, descriptor or thread behind.

    Use as a context manager; on a clean exit it shuts the manager down and asserts.
    ``pids`` collects extra process ids (children a handler reported) that must be dead.
    """

    def __init__(self, **manager_kwargs) -> None:
        self.me = psutil.Process()
        self.fds = self.me.num_fds()
        self.threads = threading.active_count()
        self.mgr = lw.ContainerManager(**manager_kwargs)
        self.root = str(self.mgr._root)  # noqa: SLF001 - where its environments run
        groups = self.mgr._isolation.cgroups  # noqa: SLF001 - in a sandbox: its groups
        self.group = next(iter(groups.bases.values())).name if groups else None
        self.pids: set[int] = set()

    def __enter__(self) -> Containment:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        env_pids = {e.pid for e in self.mgr.all_containers if e.pid}
        zygote = self.mgr._zygote  # noqa: SLF001
        if zygote is not None and zygote.proc is not None:
            env_pids.add(zygote.proc.pid)
        self.mgr.shutdown()
        if exc_type is not None:
            return
        doomed = env_pids | self.pids
        assert wait_for(lambda: not self.leaked(doomed), timeout=10), \
            f"processes left after shutdown: {self.leaked(doomed)}"
        assert wait_for(lambda: self.me.num_fds() <= self.fds + FD_SLACK, timeout=10), \
            f"file descriptors: {self.me.num_fds()} now, {self.fds} before"
        assert wait_for(lambda: threading.active_count() <= self.threads + THREAD_SLACK, timeout=10), \
            f"threads: {[t.name for t in threading.enumerate()]}, {self.threads} before"

    def leaked(self, pids: Iterable[int]) -> list[str]:
        """Live processes among ``pids``, or running in the manager's directory tree."""
        found = []
        wanted = set(pids)
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                if proc.pid in wanted or proc.cwd().startswith(self.root) or self.in_group(proc.pid):
                    found.append(f"{proc.pid} {' '.join(proc.cmdline())[:80]}")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found


    def in_group(self, pid: int) -> bool:
        if self.group is None:
            return False
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                return f"/{self.group}/" in f.read()
        except OSError:
            return False


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, as psutil sees them (not as the
    watchdog's own ``/proc`` scan does, so the check stays independent of what it checks)."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD) and os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


class Wire:
    """Everything the manager's environments post (``response`` / ``error`` / ``init-error``)."""

    def __init__(self, mgr: lw.ContainerManager) -> None:
        self.items: list[tuple] = []
        server = mgr._server  # noqa: SLF001 - the bytes are only visible on the wire
        forward = server.on_outcome

        def record(env, item: tuple) -> None:
            self.items.append(item)
            forward(env, item)

        server.on_outcome = record

    def body(self, request_id: str) -> tuple[str, bytes, str]:
        """(kind, body, content type or error-type header) posted for ``request_id``."""
        for item in self.items:
            if item[0] in ("response", "error") and item[1] == request_id:
                return item[0], item[2], item[3]
        raise AssertionError(f"nothing posted for {request_id}")


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_MS = re.compile(r"\d+\.\d\d ms")
_BILLED = re.compile(r"Billed Duration: \d+ ms")
_MAX_USED = re.compile(r"Max Memory Used: \d+ MB")


_LANG = f"/var/lang/lib/python{sys.version_info.major}.{sys.version_info.minor}"
_PYTHON_PATHS = [(sysconfig.get_paths()["purelib"], _LANG + "/site-packages"),
                 (os.path.dirname(os.__file__), _LANG)]


def normalise(text: str, inv: lw.Invocation, root: str) -> str:
    """``text`` with what differs between two runs replaced: ids, paths, times, measurements."""
    text = text.replace(inv.request_id, "<request-id>")
    # Where the code is: /var/task in a sandbox, the environment's own copy in the fallback.
    text = re.sub(re.escape(root) + r"/(envs/env-\d+/task\d+|functions/[^/\"]+/v\d+)|/var/task", "<task-root>", text)
    text = text.replace(root, "<root>")
    # Python's own files: where Lambda has them (the bundled runtime says so; awslambdaric,
    # run here, shows this machine's paths).
    for prefix, there in _PYTHON_PATHS:
        text = text.replace(prefix, there)
    text = _TIMESTAMP.sub("<ts>", text)
    text = _MS.sub("<n> ms", text)
    text = _BILLED.sub("Billed Duration: <n> ms", text)
    return _MAX_USED.sub("Max Memory Used: <n> MB", text)


def kill_kernel_and_check(script: str, cwd: str | None = None) -> dict:
    """Run ``script`` as a stand-in kernel until it prints a JSON line with its manager's
    ``root`` and the ``pids`` that must die with it, SIGKILL it, then check that the root
    directory and every one of those processes are gone. Returns what the script printed."""
    env = {**os.environ, "PYTHONPATH": cwd} if cwd else None
    kernel = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=cwd, env=env)
    try:
        facts = json.loads(kernel.stdout.readline())
        root = Path(facts["root"])
        procs = [psutil.Process(pid) for pid in facts["pids"]]
        assert root.exists() and all(p.is_running() for p in procs)
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(timeout=10)
    finally:
        if kernel.poll() is None:
            kernel.kill()

    def gone(p: psutil.Process) -> bool:
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert wait_for(lambda: not root.exists(), timeout=15), f"{root} is still there"
    assert wait_for(lambda: all(gone(p) for p in procs), timeout=15), [p.pid for p in procs if not gone(p)]
    return facts
