"""Case 2: cold start, a new environment to its first response (trivial handler)."""

from __future__ import annotations

import time
from contextlib import ExitStack

import lambda_widget as lw
from benchmarks.baselines import available, bare_spawn
from benchmarks.handlers import TRIVIAL
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

FORK = "lambda_widget cold start (fork server)"
SPAWN = "lambda_widget cold start (fork_server=False)"
FALLBACK = "lambda_widget cold start (fork server, isolation='process')"
BARE = "python -c pass (subprocess.run)"
RIC = "awslambdaric cold start under the manager"
INIT = "of which init, spawn to first /next (fork server)"
EVENT = {"value": 5}


class _Cold:
    """Cold starts of one function: each one re-registers it (a new version) first, untimed."""

    def __init__(self, mgr: lw.ContainerManager, name: str, runtime: str = "bundled") -> None:
        self.mgr, self.name, self.runtime = mgr, name, runtime
        self.inits: list[float] = []
        self.first = self()  # the first one also boots the fork server: reported apart

    def __call__(self) -> float:
        self.mgr.register(self.name, TRIVIAL, trace=False, runtime=self.runtime)
        t0 = time.perf_counter()
        inv = self.mgr.invoke(self.name, EVENT)
        elapsed = time.perf_counter() - t0
        if inv.status != "succeeded" or not inv.cold:
            raise RuntimeError(f"{self.name}: expected a cold success, got {inv.status} "
                               f"(cold={inv.cold}): {inv.error}")
        self.inits.append((inv.init_duration_ms or 0) / 1000)
        return elapsed


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("cold", "Cold start: new environment to first response, trivial handler")
    with ExitStack() as stack:
        forked = stack.enter_context(lw.ContainerManager(seed=1))
        spawned = stack.enter_context(lw.ContainerManager(seed=1, fork_server=False))
        fork = _Cold(forked, "trivial")
        contenders = {FORK: fork, SPAWN: _Cold(spawned, "trivial"), BARE: bare_spawn}
        if forked.isolation != "process":  # what the sandbox (namespaces, cgroups) adds to a cold start
            fallback = stack.enter_context(lw.ContainerManager(seed=1, isolation="process"))
            contenders[FALLBACK] = _Cold(fallback, "trivial")
        bare_spawn()
        if available("awslambdaric"):
            contenders[RIC] = _Cold(forked, "trivial_ric", runtime="awslambdaric")
        else:
            result.notes.append("awslambdaric is not installed: its baseline was skipped")
        samples = interleave(contenders, sizes.cold_rounds)
    for name in contenders:
        result.add(name, samples[name])
    result.add(INIT, fork.inits[1:], note="the engine's Init Duration (REPORT line)")
    result.info["first_cold_start_with_fork_server_boot_s"] = fork.first
    result.compare(FORK, BARE, at_most=0.5)
    result.compare(FORK, RIC, faster_by=5.0)
    if FALLBACK in contenders:
        result.compare(FORK, FALLBACK, at_most=1.25)
        result.notes.append(f"default isolation here: {forked.isolation}")
    result.compare(SPAWN, BARE)
    result.compare(SPAWN, RIC)
    result.notes.append(f"first cold start, fork server boot included: {fork.first * 1000:.1f} ms "
                        "(not in the samples)")
    return result
