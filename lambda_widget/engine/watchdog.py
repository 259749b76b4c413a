"""Limits Lambda enforces on a running environment: memory and the number of processes.

Polls busy environments every few milliseconds. An environment whose resident memory
goes over its memory size is killed (Runtime.OutOfMemory); one whose process group
grows past Lambda's 1,024 processes/threads quota is killed too (a fork bomb).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_widget.engine.environment import ExecutionEnvironment

POLL = 0.02
PROCESS_SCAN_EVERY = 10  # polls
MAX_PROCESSES = 1024
PSS_SAMPLE = 256  # processes of one group whose memory is summed (a fork bomb is stopped by count)
# Environments read per poll. With 1,000 busy, reading every one every 20 ms is 50,000 /proc reads a
# second (a CPU core); in turns, each is read every 20 ms x busy / 64. The peak at the end (VmHWM)
# still catches what a poll misses.
PER_POLL = 64
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def pss_bytes(pid: int) -> int | None:
    """Proportional set size: shared pages split among their users, so forked children that
    share the parent's pages are not counted twice (as a cgroup would not)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_usage(pids: list[int]) -> tuple[int, int]:
    """(number of processes, memory of them all): the resident size of a lone process, or
    the sum of PSS over several (a forked child shares its parent's pages)."""
    if len(pids) <= 1:
        return len(pids), (rss_bytes(pids[0]) or 0) if pids else 0
    return len(pids), sum(pss_bytes(pid) or 0 for pid in pids[:PSS_SAMPLE])


class Watchdog:
    def __init__(self, busy: Callable[[], list[ExecutionEnvironment]],
                 idle_processes: Callable[[set], int] | None = None, cap: int | None = None) -> None:
        """``busy``: the environments running now. ``cap`` (the fallback, where no cgroup counts
        them): the manager's process cap, over ``idle_processes(running)`` (what the frozen ones but those hold)
        and what the scans count in the busy ones."""
        self.busy = busy
        self.idle_processes = idle_processes
        self.cap = cap
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="lambda-watchdog", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        polls = 0
        turn = 0
        while not self._stop.wait(POLL):
            envs = self.busy()
            if not envs:
                continue
            polls += 1
            rounds = -(-len(envs) // PER_POLL)  # polls to read every environment once
            scan = polls % (PROCESS_SCAN_EVERY * rounds) == 0  # a scan counts every environment's processes
            if rounds > 1 and not scan:
                turn = (turn + 1) % rounds
                envs = envs[turn * PER_POLL:(turn + 1) * PER_POLL]
            counts: dict[ExecutionEnvironment, int] = {}
            for env in envs:
                pid = env.runtime_pid
                if pid is None or env.limit_hit:
                    continue
                rss = rss_bytes(pid) or 0
                count = 1
                if scan:  # the whole environment: its tree (or cgroup), whatever group or session
                    count, group_rss = tree_usage(env.group_pids())
                    rss = max(rss, group_rss)
                    counts[env] = count
                env.peak_rss = max(env.peak_rss, rss)
                if rss > env.function.memory_mb * 1024 * 1024:
                    env.limit_hit = "memory"
                    env.outcomes.put(("oom",))
                elif count > MAX_PROCESSES:
                    env.limit_hit = "processes"
                    env.outcomes.put(("exit", None, "too many processes"))
            if scan and self.cap is not None and counts:
                self._enforce_cap(counts)

    def _enforce_cap(self, counts: dict[ExecutionEnvironment, int]) -> None:
        """Over the manager's cap: end the busiest running environments until it holds again."""
        # The running ones as counted now; the frozen ones as their freeze found them (an
        # environment between the two is counted once, as running).
        total = sum(counts.values()) + (self.idle_processes(set(counts)) if self.idle_processes else 0)
        for env, count in sorted(counts.items(), key=lambda item: -item[1]):
            if total <= self.cap:
                return
            if env.limit_hit:
                continue
            env.limit_hit = "processes"
            env.outcomes.put(("exit", None, f"too many processes: the manager's cap of {self.cap} processes"))
            total -= count
