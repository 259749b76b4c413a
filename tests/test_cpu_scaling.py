"""CPU in proportion to memory (issue 13, item 1): memory_mb / 1769 of a vCPU, capped at
Lambda's vCPU count, for the whole environment; full vCPUs during a new environment's Init.

The machine is shared, so the tests measure CPU time over elapsed time inside the handler
(the share it got), not speed, and compare against an unscaled run in the same test.
"""

from __future__ import annotations

import json
import statistics

import pytest
from conftest import env_of

import lambda_widget as lw
from lambda_widget.engine.errors import InvalidParameterValueException
from lambda_widget.engine.isolation.cpu import cpu_share, machine_cpus, vcpus

# Spins for event["s"] seconds of wall time on event["threads"] threads (hashing releases the
# GIL, so threads can use several CPUs) and returns CPU seconds per second: the share it got.
# Init spins too, for event-free measurement of the Init phase.
SPIN_SOURCE = """
import hashlib
import os
import threading
import time


def spin(seconds, threads=1):
    block = b"x" * (1 << 16)
    stop = time.perf_counter() + seconds

    def work():
        while time.perf_counter() < stop:
            hashlib.sha256(block).digest()

    c0, t0 = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads - 1)]
    for t in pool:
        t.start()
    work()
    for t in pool:
        t.join()
    return (time.process_time() - c0) / (time.perf_counter() - t0)


INIT_SHARE = spin(float(os.environ.get("INIT_SPIN", "0")))


def lambda_handler(event, context):
    if event.get("crash"):
        os._exit(1)
    return {"share": spin(event["s"], event.get("threads", 1)), "init": INIT_SHARE}
"""


def test_share_follows_memory_and_the_vcpu_table():
    assert cpu_share(128) == pytest.approx(128 / 1769, abs=1e-4)
    assert cpu_share(1769) == 1.0
    assert cpu_share(3008) == pytest.approx(1.7004, abs=1e-4)
    assert cpu_share(10240) == pytest.approx(5.7886, abs=1e-4)  # under its 6 vCPUs
    assert [vcpus(m) for m in (128, 3008, 3009, 5307, 5308, 7077, 8846, 10240)] == [2, 2, 3, 3, 4, 5, 6, 6]


def test_the_share_is_recorded(mgr):
    fn = mgr.register("spin", SPIN_SOURCE, memory_mb=256)
    off = mgr.register("spin-off", SPIN_SOURCE, memory_mb=256, cpu_scaling=False)
    inv = mgr.invoke("spin", {"s": 0})
    assert fn.to_dict()["cpu_share"] == cpu_share(256) and fn.cpu_mode in ("cgroup", "throttle")
    assert off.to_dict()["cpu_share"] is None and off.cpu_mode == "off"
    assert inv.to_dict()["cpu"] == env_of(mgr, inv).to_dict()["cpu"] == {
        "mode": fn.cpu_mode, "share": cpu_share(256), "vcpus": 2, "init_boost": True}
    json.dumps(mgr.to_dict())
    assert mgr.invoke("spin-off", {"s": 0}).cpu["mode"] == "off"
    from lambda_widget.views.html import function_html

    assert f"{cpu_share(256):g} vCPU (memory / 1,769 MB)" in function_html(fn.to_dict())
    assert "not scaled" in function_html(off.to_dict())
    with pytest.raises(InvalidParameterValueException, match="cpu_scaling"):
        mgr.register("bad", SPIN_SOURCE, cpu_scaling="yes")


@pytest.mark.usefixtures("isolation")
def test_a_cpu_bound_handler_gets_memory_over_1769_of_a_cpu():
    """13.8x faster at 1,769 MB than at 128 MB, and no faster at 3,008 MB (one thread)."""
    with lw.ContainerManager(seed=1) as mgr:
        for mb in (128, 1769, 3008):
            mgr.register(f"spin-{mb}", SPIN_SOURCE, memory_mb=mb, timeout=30)
        mgr.register("spin-free", SPIN_SOURCE, memory_mb=128, timeout=30, cpu_scaling=False)
        for name in ("spin-128", "spin-1769", "spin-3008", "spin-free"):
            mgr.invoke(name, {"s": 0})  # warm, so no Init below

        def share(name: str, seconds: float) -> float:
            return mgr.invoke(name, {"s": seconds}).result["share"]

        beside = mgr.submit("spin-free", {"s": 2.0})
        small = share("spin-128", 2.0)
        free = beside.result(timeout=60).result["share"]
        if free < 0.5:  # the share is only visible where the machine gives well more than it
            pytest.skip(f"the machine gives a process only {free:.2f} CPU now: too loaded to measure")
        # Each scaled run beside an unscaled one, at the same time: the machine is shared,
        # and what it gives changes from one second to the next, but both see the same load.
        got: dict[int, list[float]] = {1769: [], 3008: []}
        for _ in range(3):
            for mb in got:
                free = mgr.submit("spin-free", {"s": 0.5})
                scaled = share(f"spin-{mb}", 0.5)
                got[mb].append(scaled / min(1.0, free.result(timeout=30).result["share"]))
    one, big = statistics.median(got[1769]), statistics.median(got[3008])
    target = 128 / 1769
    assert 0.6 * target <= small <= 1.35 * target, f"128 MB got {small:.3f} CPU, target {target:.3f}"
    # Time for the same work is inversely proportional to the share: 1769/128 = 13.8 times.
    assert 0.6 * 13.8 <= one / small <= 1.6 * 13.8, (small, got)
    assert big <= one * 1.2 + 0.1, f"a single thread is no faster at 3,008 MB than at 1,769 MB: {got}"


@pytest.mark.usefixtures("isolation")
def test_threads_get_more_than_one_cpu_above_3008_mb_and_not_at_1769():
    if machine_cpus() < 2:
        pytest.skip("one CPU: nothing to scale to")
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("spin-1769", SPIN_SOURCE, memory_mb=1769, timeout=30)
        mgr.register("spin-4096", SPIN_SOURCE, memory_mb=4096, timeout=30)
        mgr.register("spin-free", SPIN_SOURCE, memory_mb=128, timeout=30, cpu_scaling=False)
        for name in ("spin-1769", "spin-4096", "spin-free"):
            mgr.invoke(name, {"s": 0})
        free = mgr.invoke("spin-free", {"s": 0.6, "threads": 4}).result["share"]
        if free < 1.3:
            pytest.skip(f"the machine gives only {free:.2f} CPUs to 4 threads now")
        big = mgr.invoke("spin-4096", {"s": 0.6, "threads": 4}).result["share"]
        one = mgr.invoke("spin-1769", {"s": 1.0, "threads": 4}).result["share"]
    assert big > 1.05, f"4 threads at 4,096 MB got {big:.2f} CPU (the machine gives {free:.2f})"
    assert one <= 1.2, f"4 threads at 1,769 MB got {one:.2f} CPU, more than its one vCPU"


@pytest.mark.usefixtures("isolation")
def test_init_runs_on_full_vcpus_and_a_suppressed_init_on_the_share():
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("boot", SPIN_SOURCE, memory_mb=128, env={"INIT_SPIN": "1.0"}, timeout=30)
        mgr.register("boot-free", SPIN_SOURCE, memory_mb=128, env={"INIT_SPIN": "1.0"}, timeout=30,
                     cpu_scaling=False)
        beside = mgr.submit("boot-free", {"s": 0})  # an unscaled init at the same time
        boosted = mgr.invoke("boot", {"s": 0}).result["init"]
        free = beside.result(timeout=60).result["init"]
        if free < 0.3:
            pytest.skip(f"the machine gives a process only {free:.2f} CPU now: too loaded to measure")
        assert mgr.invoke("boot", {"crash": True}).status == "crashed"
        again = mgr.invoke("boot", {"s": 0})  # init again, inside this invoke: Lambda does not boost it
        assert (again.cold, again.cold_reason) == (True, "reset-after-crash")
    assert boosted > 2.5 * cpu_share(128) and boosted > 0.5 * min(1.0, free), \
        f"Init got {boosted:.3f} CPU (an unscaled one {free:.3f}): not boosted"
    assert again.result["init"] < 1.6 * cpu_share(128), again.result


def test_the_governor_holds_a_tree_to_its_share_and_lets_go_cleanly():
    """The fallback's throttle: the share is held on average, and after ``release`` (before a
    freeze) or a replacement (a new process) nothing it stopped stays stopped."""
    import subprocess
    import sys
    import time

    from conftest import status_of

    from lambda_widget.engine.isolation import tree
    from lambda_widget.engine.isolation.cpu import Governor

    spin = [sys.executable, "-c", "while True: pass"]
    first, second = subprocess.Popen(spin), subprocess.Popen(spin)
    governor = Governor()
    try:
        governor.run("env", first.pid, 0.2)
        c0, f0, t0 = tree.cpu_seconds([first.pid]), tree.cpu_seconds([second.pid]), time.monotonic()
        time.sleep(1.5)
        share = (tree.cpu_seconds([first.pid]) - c0) / (time.monotonic() - t0)
        free = (tree.cpu_seconds([second.pid]) - f0) / (time.monotonic() - t0)  # unthrottled, beside it
        if free < 0.4:
            pytest.skip(f"the machine gives a process only {free:.2f} CPU now: too loaded to measure")
        assert 0.1 <= share <= 0.3, share
        governor.run("env", second.pid, 0.2)  # the environment's new process
        governor.release("env")
        time.sleep(0.05)
        assert status_of(first.pid) != "stopped" and status_of(second.pid) != "stopped"
    finally:
        governor.stop()
        for proc in (first, second):
            proc.kill()
            proc.wait()
