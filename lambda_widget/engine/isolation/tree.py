"""An environment's process tree, read from ``/proc/<pid>/task/<tid>/children``.

Cheaper than scanning all of ``/proc``: only the environment's own processes are read.
"""

from __future__ import annotations

import os
import signal


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (of every thread of it)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(p) for p in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def members(pid: int, limit: int = 4096) -> list[int]:
    """``pid`` and its descendants, parents before children (at most ``limit``)."""
    out = [pid]
    i = 0
    while i < len(out) and len(out) < limit:
        out.extend(children(out[i]))
        i += 1
    return out[:limit]


def stop_tree(pid: int) -> list[int]:
    """SIGSTOP ``pid`` and every descendant, each before its children are read, so none can
    fork a new one unseen; a second pass catches a fork that was under way. Returns them all."""
    seen: set[int] = set()
    order: list[int] = []
    for _ in range(2):
        queue = [pid]
        while queue:
            p = queue.pop()
            if p not in seen:
                if not _signal(p, signal.SIGSTOP):
                    continue
                seen.add(p)
                order.append(p)
            queue.extend(c for c in children(p) if c not in seen)
    return order


def signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        _signal(p, sig)


def kill_tree(pid: int) -> None:
    """Stop the whole tree (so nothing forks or reparents away meanwhile), then SIGKILL it."""
    signal_all(stop_tree(pid), signal.SIGKILL)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def cpu_seconds(pids: list[int], children: bool = False) -> float:
    """User + system CPU time of these processes (all their threads), in seconds; with
    ``children``, also that of their children already reaped (so an exit loses nothing)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        try:
            total += int(rest[11]) + int(rest[12])
            if children:
                total += int(rest[13]) + int(rest[14])
        except (IndexError, ValueError):
            continue
    return total / _TICKS


def ns_pid(pid: int) -> int | None:
    """The pid ``pid`` has in its innermost PID namespace."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK")
