"""Shared fixtures and helpers for the engine tests: real managers, real processes.

Helpers are plain functions (``from conftest import wait_for``); fixtures always shut
their managers down so no execution environment outlives its test module.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

import lambda_widget as lw

# The seed lesson's handler, exactly as the lesson shows it.
SEED_SOURCE = """def lambda_handler(event, context):
    print('Start')
    result = event['value'] * 2
    print('End')
    return result
"""

# A module global that counts the invocations one process has served.
COUNTER_SOURCE = """count = 0


def lambda_handler(event, context):
    global count
    count += 1
    return count
"""

# Sleeps for event["sleep"] seconds, then returns its request id.
SLEEPER_SOURCE = """import time


def lambda_handler(event, context):
    time.sleep(event.get('sleep', 0))
    return context.aws_request_id
"""

# Waits at a `Gate` (event["gate"]: its port) until the test opens it, then returns its request id.
GATED_SOURCE = """import socket


def lambda_handler(event, context):
    with socket.create_connection(("127.0.0.1", event["gate"]), timeout=300) as gate:
        assert gate.recv(2) == b"go", "the gate closed"
    return context.aws_request_id
"""


class Gate:
    """A gate on 127.0.0.1 for handlers of ``GATED_SOURCE``: each invocation waits there until the
    gate opens, so invocations overlap (or are still running) for certain, however slow the machine.

    ``Gate(n)`` opens by itself once ``n`` invocations wait at it; ``open()`` opens it now. Once
    open, later arrivals pass straight through. ``wait_for(n)`` blocks until ``n`` have arrived.
    """

    def __init__(self, open_at: int | None = None) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._open_at = open_at
        self._held: list[socket.socket] = []
        self.arrived = 0
        self.is_open = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._accept, name="test-gate", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed
                return
            with self._changed:
                self.arrived += 1
                self._held.append(conn)
                if self.is_open or (self._open_at is not None and self.arrived >= self._open_at):
                    self._release()
                self._changed.notify_all()

    def _release(self) -> None:
        self.is_open = True
        for conn in self._held:
            try:
                conn.sendall(b"go")
            except OSError:  # that invocation ended already (a timeout)
                pass
            conn.close()
        self._held.clear()

    def wait_for(self, n: int, timeout: float = 120) -> None:
        """Block until ``n`` invocations have arrived at the gate (AssertionError after ``timeout``)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.arrived >= n, timeout), \
                f"{self.arrived} of {n} invocations reached the gate in {timeout} s"

    def open(self) -> None:
        """Let every waiting invocation through, and every later one."""
        with self._changed:
            self._release()
            self._changed.notify_all()

    def close(self) -> None:
        self.open()
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=10)


@pytest.fixture
def gate() -> Iterator[Callable[..., Gate]]:
    """Make gates (``gate(n)``, ``gate()``); each is opened and closed after the test."""
    made: list[Gate] = []

    def make(open_at: int | None = None) -> Gate:
        made.append(Gate(open_at))
        return made[-1]

    yield make
    for g in made:
        g.close()


_REPORT_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+): (?P<value>.*)$")


# The modules that take longest (seconds of test time on a 2-CPU machine, most first): pytest-xdist
# (`--dist loadfile`, .ci/run_tests.py) hands modules out in collection order, so these start first
# and the short ones fill in around them, instead of one long module running alone at the end.
LONGEST_MODULES = ("test_fidelity_soak.py", "test_queue_scaling.py", "test_scale_burst.py",
                   "test_front_invoke.py", "test_queue_views.py", "test_sam_careless.py",
                   "test_fidelity_hostile.py", "test_lifecycle_extensions.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest modules first (a stable sort: every other test keeps its order)."""
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(params=["namespaces", "process"])
def isolation(request, monkeypatch) -> str:
    """Run the test in each isolation mode: managers made in it take the mode from
    ``LAMBDA_WIDGET_ISOLATION``. ``namespaces`` is skipped where the machine cannot have it."""
    from lambda_widget.engine.isolation import namespaces_unavailable

    if request.param == "namespaces" and namespaces_unavailable():
        pytest.skip(f"namespaces are not available here: {namespaces_unavailable()}")
    monkeypatch.setenv("LAMBDA_WIDGET_ISOLATION", request.param)
    return request.param


def host_pid(env, pid: int) -> int:
    """A pid the handler reported, as this machine sees it (in a sandbox it is the PID
    namespace's own)."""
    if env.mode != "namespaces":
        return pid
    from lambda_widget.engine.isolation import tree

    for candidate in env.group_pids():
        if tree.ns_pid(candidate) == pid:
            return candidate
    raise LookupError(f"no process {pid} in {env.id}")


def frozen(pid: int) -> bool:
    """Stopped by SIGSTOP, or in a frozen cgroup (the freezer shows no 'stopped' state)."""
    if status_of(pid) == psutil.STATUS_STOPPED:
        return True
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrl, path = line.rstrip("\n").split(":", 2)
                if ctrl in ("freezer", ""):
                    name = "freezer.state" if ctrl else "cgroup.freeze"
                    root = "/sys/fs/cgroup/freezer" if ctrl else "/sys/fs/cgroup"
                    with open(f"{root}{path}/{name}") as state:
                        if state.read().strip() in ("FROZEN", "1"):
                            return True
    except OSError:
        return False
    return False


@pytest.fixture
def mgr() -> Iterator[lw.ContainerManager]:
    """A fresh manager for one test."""
    with lw.ContainerManager(seed=1) as manager:
        yield manager


@pytest.fixture(scope="module")
def module_mgr() -> Iterator[lw.ContainerManager]:
    """One manager shared by a module's tests; each test registers its own function names."""
    with lw.ContainerManager(seed=2) as manager:
        yield manager


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass; returns the last verdict."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


def status_of(pid: int) -> str | None:
    """psutil's status of ``pid`` (``'stopped'``, ``'running'``, ``'zombie'``...), None if gone."""
    try:
        return psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return None


def is_dead(process: psutil.Process) -> bool:
    """True once the process no longer runs: gone, or a zombie its new parent has not reaped yet.

    A process we did not start (a grandchild) is reaped by whoever adopts it, so a zombie
    counts as dead there; our own children are checked with ``is_reaped``.
    """
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def is_reaped(process: psutil.Process) -> bool:
    """True once the process is gone from the process table (no zombie left behind)."""
    return not process.is_running()


def env_of(manager: lw.ContainerManager, inv: lw.Invocation):
    """The execution environment that served ``inv`` (live or terminated)."""
    return next(e for e in manager.all_containers if e.id == inv.container_id)


def report_line(inv: lw.Invocation) -> str:
    """The invocation's REPORT log line."""
    lines = [line for line in inv.logs if line.startswith("REPORT RequestId: ")]
    assert len(lines) == 1, inv.logs
    return lines[0]


def report_fields(inv: lw.Invocation) -> dict[str, str]:
    """The REPORT line's tab-separated fields as ``{name: value}`` (the RequestId included);
    the line ends with a tab after its last field, as AWS writes it."""
    fields: dict[str, str] = {}
    line = report_line(inv)
    assert line.endswith("\t") and not line.endswith("\t\t"), f"REPORT must end with one tab: {line!r}"
    for part in line[:-1].split("\t"):
        match = _REPORT_FIELD.match(part)
        assert match, f"malformed REPORT field {part!r}"
        key = match["key"].removeprefix("REPORT ")
        assert key not in fields, f"duplicate REPORT field {key!r}"
        fields[key] = match["value"]
    return fields
