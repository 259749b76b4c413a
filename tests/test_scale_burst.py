"""Lambda's default account concurrency, for real: 1,000 events at once get 1,000 environments.

Each handler blocks opening a FIFO (it sleeps in the kernel, costing no CPU) until the test
opens the other end, so all 1,000 overlap however long the starts take on two cores. The FIFO
is not under /tmp: a sandboxed environment has a /tmp of its own.
"""

from __future__ import annotations

import os
import resource
import tempfile
import threading
import time
from unittest import mock

import psutil
import pytest

import lambda_widget as lw
from lambda_widget.engine import capacity
from lambda_widget.placement import ACCOUNT_CONCURRENCY

N = 1000
HOLD = """import os


def lambda_handler(event, context):
    os.close(os.open(event["go"], os.O_RDONLY))  # sleeps until the burst is released
    return context.aws_request_id
"""


@pytest.fixture
def go():
    """A FIFO where a sandboxed environment (and its user) can open it."""
    with tempfile.TemporaryDirectory(prefix="lw-burst-", dir="/var/tmp") as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "go")
        os.mkfifo(path, 0o644)
        yield path


def _wait_for(predicate, timeout: float, what: str, futures=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        ended = next((f.invocation for f in futures if f.done()), None)
        if ended is not None:
            raise AssertionError(f"an invocation ended before the release: {ended.status} "
                                 f"{ended.error} {ended.logs[-3:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_burst_of_1000_events_gets_1000_environments_and_all_are_reaped(go: str) -> None:
    me = psutil.Process()
    # One slot over the default account concurrency (a quota increase, as AWS grants on
    # request), so the other function's invoke during the burst is not throttled.
    with lw.ContainerManager(seed=1, max_concurrency=N, account_concurrency=N + 1) as mgr:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert soft == hard or soft >= 8 * N  # raised at the manager's start
        mgr.register("hold", HOLD, timeout=300.0)
        mgr.register("other", "def lambda_handler(event, context):\n    return 'pong'\n")
        assert mgr.invoke("other", {}).status == "succeeded"
        fds_before = me.num_fds()

        futures = [mgr.submit("hold", {"go": go}) for _ in range(N)]
        holding = lambda: sum(e.invocations for e in mgr.containers if e.function_name == "hold")  # noqa: E731
        _wait_for(lambda: holding() == N, 240, f"{N} environments to hold their event", futures)

        # The kernel is still responsive: a warm invoke of another function completes.
        pong = mgr.invoke("other", {})
        assert (pong.status, pong.cold, pong.result) == ("succeeded", False, "pong")

        release = os.open(go, os.O_WRONLY)  # every blocked open returns, and late ones don't block
        try:
            invocations = [f.result(timeout=240) for f in futures]
        finally:
            os.close(release)
        assert [i.status for i in invocations] == ["succeeded"] * N
        assert len({i.container_id for i in invocations}) == N
        assert all(i.result == i.request_id for i in invocations)  # each answered its own event
        assert all(i.cold and i.cold_reason in ("first-invocation", "all-busy") for i in invocations)
        pids = [e.pid for e in mgr.containers if e.function_name == "hold"]
        assert len(pids) == N

        reaped = mgr.advance(600)  # the idle timeout passes
        assert len([e for e in reaped if e.function_name == "hold"]) == N
        assert mgr.containers == []
        assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        # Descriptors held for the environments (connections, pipes, pidfds) are given back.
        _wait_for(lambda: me.num_fds() <= fds_before + 16, 30, "the descriptors to be closed")


def test_the_default_concurrency_is_the_account_limit_or_what_the_machine_affords() -> None:
    default = capacity.default_concurrency()
    assert capacity.MIN_CONCURRENCY <= default <= ACCOUNT_CONCURRENCY
    memory = capacity.available_memory()
    if memory is not None:
        assert default <= max(capacity.MIN_CONCURRENCY, memory // capacity.MEMORY_PER_ENV)
    with lw.ContainerManager() as mgr:
        assert capacity.MIN_CONCURRENCY <= mgr.max_concurrency <= ACCOUNT_CONCURRENCY
        assert mgr.account_concurrency == ACCOUNT_CONCURRENCY
    with pytest.raises(Exception, match="max_concurrency"):
        lw.ContainerManager(max_concurrency=0)


def test_the_descriptor_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard > 64:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        assert capacity.raise_limits()["nofile"] == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_slow_render_spaces_the_next_ones_out() -> None:
    from lambda_widget.views.coalesce import COST_FACTOR, Coalescer

    renders = []
    coalescer = Coalescer(lambda: (renders.append(1), time.sleep(0.05)), interval=0.01)
    assert coalescer.next_delay == 0.01  # nothing rendered yet: the interval
    coalescer.render_now()
    assert renders == [1]
    assert coalescer.next_delay >= COST_FACTOR * 0.05  # a pool of 1,000 renders every ~0.25 s, not 0.15 s
    coalescer.close()


def test_workers_start_a_thread_per_running_job_and_no_more_than_their_size() -> None:
    from lambda_widget.engine.workers import Workers

    gate = threading.Event()
    workers = Workers(200)
    try:
        futures = [workers.submit(gate.wait, 30) for _ in range(250)]
        assert _eventually(lambda: sum(f.running() for f in futures) == 200)
        assert len(workers._threads) == 200  # the other 50 wait their turn
        gate.set()
        assert all(f.result(timeout=30) for f in futures)
    finally:
        gate.set()
        workers.stop()


def test_workers_carry_on_with_the_threads_they_have_when_no_more_can_start() -> None:
    from lambda_widget.engine.workers import Workers

    real_start, started = threading.Thread.start, []

    def start(thread: threading.Thread) -> None:
        if len(started) >= 3:
            raise RuntimeError("can't start new thread")
        started.append(thread)
        real_start(thread)

    workers = Workers(100)
    try:
        with mock.patch.object(threading.Thread, "start", start):
            futures = [workers.submit(time.sleep, 0.01) for _ in range(20)]
            assert [f.result(timeout=30) for f in futures] == [None] * 20
        assert len(workers._threads) == 3
    finally:
        workers.stop()


def _eventually(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_beyond_the_account_concurrency_an_invocation_is_throttled(go: str) -> None:
    with lw.ContainerManager(seed=1, account_concurrency=2, max_concurrency=3) as mgr:
        mgr.register("hold", HOLD, timeout=60.0)
        futures = [mgr.submit("hold", {"go": go}) for _ in range(2)]
        _wait_for(lambda: sum(e.invocations for e in mgr.containers) == 2, 60, "2 to hold", futures)
        third = mgr.invoke("hold", {"go": go})
        assert third.status == "throttled"
        assert third.error["Reason"] == "ConcurrentInvocationLimitExceeded"
        release = os.open(go, os.O_WRONLY)
        try:
            assert [f.result(timeout=60).status for f in futures] == ["succeeded"] * 2
        finally:
            os.close(release)
        assert mgr.simulate(lw.traffic.constant(1.0), duration=10, warm_ms=10, cold_ms=20).to_dict()[
            "config"]["account_concurrency"] == 2  # the simulator follows the same account


def test_on_a_small_machine_the_default_concurrency_fits_its_memory(monkeypatch) -> None:
    monkeypatch.setattr(capacity, "available_memory", lambda: 1536 * 2**20)  # Binder: 2 GB, some used
    assert capacity.default_concurrency() == 96
    monkeypatch.setattr(capacity, "available_memory", lambda: 0)
    assert capacity.default_concurrency() == capacity.MIN_CONCURRENCY
    monkeypatch.setattr(capacity, "available_memory", lambda: None)  # unknown: the limits decide
    assert capacity.default_concurrency(account_concurrency=300) <= 300
