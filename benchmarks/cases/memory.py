"""Case 5: memory of an idle environment (USS and PSS), fork server on and off.

USS is what the environment alone holds (freed if it is killed); PSS also charges it its
share of pages it shares with the fork server and its siblings, so it depends on how many
environments are alive at once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack

import psutil

import lambda_widget as lw
from benchmarks.baselines import available
from benchmarks.handlers import TRIVIAL
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult

IDLE_PYTHON = "print('ready', flush=True); import sys; sys.stdin.read()"


def _idle_envs(mgr: lw.ContainerManager, count: int, runtime: str = "bundled") -> list[list[int]]:
    """Pids of ``count`` environments (each: all its processes; in a sandbox, its namespace's
    init and the runtime), each served once and now idle (frozen)."""
    pids = []
    for i in range(count):
        name = f"idle_{runtime}_{i}"
        mgr.register(name, TRIVIAL, runtime=runtime)
        inv = mgr.invoke(name, {})
        if inv.status != "succeeded":
            raise RuntimeError(f"{name}: {inv.status}: {inv.error}")
        env = next(e for e in mgr.containers if e.id == inv.container_id)
        pids.append(sorted(set(env.group_pids()) | {env.pid}))  # a sandbox's init is outside its groups
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(e.frozen for e in mgr.containers):
        time.sleep(0.01)
    return pids


def _memory(envs: list[list[int]]) -> tuple[list[float], list[float], list[float]]:
    """Per environment, the sum over its processes."""
    out: tuple[list[float], list[float], list[float]] = ([], [], [])
    for pids in envs:
        infos = [psutil.Process(pid).memory_full_info() for pid in pids]
        out[0].append(sum(i.uss for i in infos))
        out[1].append(sum(i.pss for i in infos))
        out[2].append(sum(i.rss for i in infos))
    return out


def _record(result: CaseResult, label: str, pids: list[list[int]]) -> None:
    uss, pss, rss = _memory(pids)
    result.add(f"USS, {label}", uss, "B")
    result.add(f"PSS, {label}", pss, "B")
    result.add(f"RSS, {label}", rss, "B")


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("memory", "Memory of an idle environment (trivial handler, traced)")
    count = sizes.memory_envs
    with ExitStack() as stack:
        forked = stack.enter_context(lw.ContainerManager(seed=1))
        spawned = stack.enter_context(lw.ContainerManager(seed=1, fork_server=False))
        fork_pids = _idle_envs(forked, count)
        _record(result, "fork server", fork_pids)
        zygote = psutil.Process(fork_pids[0][0]).ppid()
        _record(result, "the fork server itself", [[zygote]])
        if forked.isolation != "process":  # the sandbox's own cost: its init, a second fork
            fallback = stack.enter_context(lw.ContainerManager(seed=1, isolation="process"))
            _record(result, "fork server, isolation='process'", _idle_envs(fallback, count))
        _record(result, "fork_server=False", _idle_envs(spawned, count))
        if available("awslambdaric"):
            _record(result, "awslambdaric", _idle_envs(spawned, count, "awslambdaric"))
        bare = subprocess.Popen([sys.executable, "-c", IDLE_PYTHON], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        stack.callback(bare.wait)
        stack.callback(bare.stdin.close)
        bare.stdout.readline()
        _record(result, "idle bare interpreter", [[bare.pid]])
        bare.stdout.close()
    result.compare("USS, fork server", "USS, idle bare interpreter")
    result.compare("USS, fork server", "USS, fork_server=False")
    result.compare("USS, fork server", "USS, fork server, isolation='process'")
    result.limit("USS, fork server", 3 * 1024 * 1024)
    result.info["environments_alive_per_mode"] = count
    result.info["isolation"] = forked.isolation
    result.notes.append(f"default isolation here: {forked.isolation}; an environment's memory is the sum "
                        "over its processes (in a sandbox: its PID 1 and the runtime)")
    result.notes.append(f"PSS with {count} forked environments alive at once; one sample per environment")
    return result
