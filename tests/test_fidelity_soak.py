"""Soak: many warm invocations and cold starts in one manager, with the kernel's resources bounded.

Sizes: ``LW_SOAK=full`` runs the issue's 10,000 warm invocations and 1,000 cold starts;
otherwise ``LW_SOAK_WARM`` / ``LW_SOAK_COLD`` (default 2,000 / 200, about 20 s on two
cores). Bounds, checked every ``CHECK_EVERY`` invocations against the state after the
first invocation: open descriptors +8, threads +4, resident memory +150 MB.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import wait

import psutil
from test_fidelity_helpers import Containment

FULL = os.environ.get("LW_SOAK") == "full"
WARM = 10_000 if FULL else int(os.environ.get("LW_SOAK_WARM", "2000"))
COLD = 1_000 if FULL else int(os.environ.get("LW_SOAK_COLD", "200"))
CONCURRENT = int(os.environ.get("LW_SOAK_CONCURRENT", "300"))
CHECK_EVERY = 250
FD_BOUND, THREAD_BOUND, RSS_BOUND_MB = 8, 4, 150

ECHO_SOURCE = "def lambda_handler(event, context):\n    return event\n"


class Bounds:
    """The kernel's descriptors, threads and memory, against a baseline."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.fds = self.me.num_fds()
        self.threads = threading.active_count()
        self.rss = self.me.memory_info().rss

    def check(self, where: str) -> None:
        fds, threads = self.me.num_fds(), threading.active_count()
        grown_mb = (self.me.memory_info().rss - self.rss) / 2**20
        assert fds <= self.fds + FD_BOUND, f"{where}: {fds} fds (baseline {self.fds})"
        assert threads <= self.threads + THREAD_BOUND, f"{where}: {threads} threads (baseline {self.threads})"
        assert grown_mb <= RSS_BOUND_MB, f"{where}: RSS grew {grown_mb:.0f} MB"


def test_warm_invocations_and_cold_starts_keep_the_kernel_bounded():
    with Containment(seed=5, virtual_clock=True, max_history=WARM + COLD + 10) as box:
        mgr = box.mgr
        mgr.register("warm", ECHO_SOURCE, trace=False)
        assert mgr.invoke("warm", -1).cold is True
        bounds = Bounds()

        for i in range(WARM):
            inv = mgr.invoke("warm", i)
            assert (inv.status, inv.result, inv.cold) == ("succeeded", i, False), inv.error
            if i % CHECK_EVERY == 0:
                bounds.check(f"warm #{i}")
        assert {e.id for e in mgr.containers} == {inv.container_id}

        mgr.register("reaped", ECHO_SOURCE, trace=False, idle_timeout=1)
        for i in range(COLD):
            if i % 2:
                mgr.register("cold", ECHO_SOURCE, trace=False)  # a new version: a new environment
                inv = mgr.invoke("cold", i)
                expected = "first-invocation" if i == 1 else "new-version"
            else:
                inv = mgr.invoke("reaped", i)
                expected = "first-invocation" if i == 0 else "idle-expired"
                assert [e.id for e in mgr.advance(1)] == [inv.container_id]
            assert (inv.status, inv.result, inv.cold, inv.cold_reason) == ("succeeded", i, True, expected)
            if i % CHECK_EVERY == 0:
                bounds.check(f"cold #{i}")
        bounds.check("end")

        history = mgr.history
        assert len(history) == 1 + WARM + COLD
        assert [i.number for i in history] == list(range(1, len(history) + 1))
        assert {i.status for i in history} == {"succeeded"}
        assert len({i.request_id for i in history}) == len(history)
        assert len(mgr.all_containers) == 1 + COLD
        assert len(mgr.containers) <= 2


def test_every_submitted_event_ends_in_exactly_one_record():
    with Containment(seed=6) as box:
        mgr = box.mgr
        mgr.register("burst", ECHO_SOURCE, trace=False)
        futures = [mgr.submit("burst", i) for i in range(CONCURRENT)]
        done, pending = wait(futures, timeout=300)
        assert not pending

        records = [f.result() for f in futures]
        assert [r.result for r in records] == list(range(CONCURRENT))
        assert {r.status for r in records} == {"succeeded"}
        assert len(mgr.history) == CONCURRENT
        assert {id(r) for r in records} == {id(r) for r in mgr.history}
        assert sum(env.invocations for env in mgr.all_containers) == CONCURRENT
        assert sum(1 for r in records if r.cold) == len(mgr.all_containers)
