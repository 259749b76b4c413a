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
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def group_sizes() -> dict[int, int]:
    """Process group id -> number of processes (threads are counted by the memory poll's process)."""
    sizes: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) > 2:
            pgrp = int(rest[2])
            sizes[pgrp] = sizes.get(pgrp, 0) + 1
    return sizes


class Watchdog:
    def __init__(self, busy: Callable[[], list[ExecutionEnvironment]]) -> None:
        self.busy = busy
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="lambda-watchdog", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        polls = 0
        while not self._stop.wait(POLL):
            envs = self.busy()
            if not envs:
                continue
            polls += 1
            sizes = group_sizes() if polls % PROCESS_SCAN_EVERY == 0 else None
            for env in envs:
                pid = env.pid
                if pid is None or env.limit_hit:
                    continue
                rss = rss_bytes(pid)
                if rss is not None:
                    env.peak_rss = max(env.peak_rss, rss)
                    if rss > env.function.memory_mb * 1024 * 1024:
                        env.limit_hit = "memory"
                        env.outcomes.put(("oom",))
                        continue
                if sizes is not None and sizes.get(pid, 0) > MAX_PROCESSES:
                    env.limit_hit = "processes"
                    env.outcomes.put(("exit", None, "too many processes"))
