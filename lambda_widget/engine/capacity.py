"""What this machine can run at once: the kernel's limits, raised where they stand in the way.

Each running environment costs the kernel process about four descriptors (its Runtime API
connection, its output pipe, a pidfd, its ``/proc`` status file) and two threads (the
invocation's and the connection's), and costs the machine a process of its own. Lambda's
account concurrency is 1,000, so the descriptor soft limit (often 1,024) is raised to the
hard limit when a manager starts, as servers do; the process limit likewise.

How many invocations a manager runs at once by default is the account concurrency if the
machine affords it, and less on a small one (Binder gives 2 GB), judged by the memory left
and the limits that could not be raised.
"""

from __future__ import annotations

import os
import resource

from lambda_widget.placement.limits import ACCOUNT_CONCURRENCY

FDS_PER_ENV = 5          # four held open, and one to spare for a spawn in flight
THREADS_PER_ENV = 3      # the invocation's and the connection's thread, and the process itself
FDS_RESERVED = 256       # the kernel's own: ZMQ sockets, files, the front's connections
MEMORY_PER_ENV = 16 * 2**20  # an idle environment is ~2.7 MB USS; a running handler allocates more
MIN_CONCURRENCY = 8

_raised: dict[int, int] = {}


def raise_limit(which: int) -> int:
    """Raise the soft limit ``which`` (an ``RLIMIT_*``) to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(which)
    targets = [hard]
    if hard == resource.RLIM_INFINITY and which == resource.RLIMIT_NOFILE:
        targets.append(_nr_open())  # descriptors cannot be unlimited: the kernel's ceiling
    for target in targets:
        if soft == target or (soft != resource.RLIM_INFINITY and soft > target):
            break
        try:
            resource.setrlimit(which, (target, hard))
            soft = target
            break
        except (ValueError, OSError):
            continue
    _raised[which] = soft
    return soft


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


def raise_limits() -> dict[str, int]:
    """Descriptors and processes up to their hard limits (once is enough; cheap to repeat)."""
    return {"nofile": raise_limit(resource.RLIMIT_NOFILE), "nproc": raise_limit(resource.RLIMIT_NPROC)}


def available_memory() -> int | None:
    """Bytes this process's cgroup (or else the machine) can still use; None if unknown."""
    left = []
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_path) as f:
                limit = f.read().strip()
            with open(usage_path) as f:
                usage = int(f.read())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max", or v1's "no limit" (a huge number)
            left.append(max(0, int(limit) - usage))
        break
    try:
        import psutil

        left.append(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - memory is one estimate among several
        pass
    return min(left) if left else None


def _tasks_now() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def default_concurrency(account_concurrency: int = ACCOUNT_CONCURRENCY) -> int:
    """How many invocations a manager runs at once by default: the account concurrency, or
    what the memory left and the (raised) descriptor and process limits afford, if less."""
    limits = raise_limits()
    caps = [account_concurrency]
    nofile = limits["nofile"]
    if nofile != resource.RLIM_INFINITY:
        caps.append((nofile - FDS_RESERVED) // FDS_PER_ENV)
    nproc = limits["nproc"]
    if nproc != resource.RLIM_INFINITY:  # counts every task of the user, threads included
        caps.append((nproc - _tasks_now() - FDS_RESERVED) // THREADS_PER_ENV)
    memory = available_memory()
    if memory is not None:
        caps.append(memory // MEMORY_PER_ENV)
    return max(MIN_CONCURRENCY, min(caps))
