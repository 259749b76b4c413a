"""Case: a SnapStart cold start (restore) against an ordinary cold start (init), in one run.

The handler's module takes about 200 ms to import (a fixed amount of CPU work at the top level,
sized on this machine first). An ordinary cold start runs that import in a new environment;
a SnapStart cold start restores the version's snapshot, taken once at publish, and runs none of it.
Each round reaps the idle environment (on the manager's clock, untimed), so every sample is cold.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import lambda_widget as lw
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

IMPORT_MS = 200.0
RESTORE = "SnapStart cold start (restore), 200 ms import"
INIT = "ordinary cold start (init), 200 ms import"
RESTORE_ONLY = "of which Restore Duration (REPORT line)"
INIT_ONLY = "of which Init Duration (REPORT line)"
SOURCE = """N = {n}
TABLE = sum(i * i for i in range(N))  # the module's import: about {ms:.0f} ms of work


def lambda_handler(event, context):
    return TABLE % 1000
"""


def _iterations(ms: float) -> int:
    """How many loop turns take ``ms`` milliseconds here (measured in this process)."""
    n = 200_000
    t0 = time.perf_counter()
    sum(i * i for i in range(n))
    per_turn = (time.perf_counter() - t0) / n
    return max(1, int(ms / 1000 / per_turn))


class _Cold:
    def __init__(self, mgr: lw.ContainerManager, name: str, source: str, snap_start: bool) -> None:
        self.mgr, self.name = mgr, name
        mgr.register(name, source, trace=False, idle_timeout=1, snap_start=snap_start)
        self.qualifier = mgr.publish(name).version if snap_start else None  # SnapStart: published versions
        self.phase: list[float] = []

    def __call__(self) -> float:
        self.mgr.advance(1)  # the last environment is reaped: the next start is cold (untimed)
        t0 = time.perf_counter()
        inv = self.mgr.invoke(self.name, {}, qualifier=self.qualifier)
        elapsed = time.perf_counter() - t0
        if inv.status != "succeeded" or not inv.cold:
            raise RuntimeError(f"{self.name}: expected a cold success, got {inv.status}: {inv.error}")
        self.phase.append((inv.restore_duration_ms or inv.init_duration_ms or 0.0) / 1000)
        return elapsed


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("snapstart", "SnapStart: restore against init, handler module with a 200 ms import")
    source = SOURCE.format(n=_iterations(IMPORT_MS), ms=IMPORT_MS)
    with ExitStack() as stack:
        mgr = stack.enter_context(lw.ContainerManager(seed=1, virtual_clock=True))
        restore = _Cold(mgr, "restored", source, snap_start=True)
        init = _Cold(mgr, "initialised", source, snap_start=False)
        samples = interleave({RESTORE: restore, INIT: init}, max(2, sizes.cold_rounds))
        publish_ms = mgr.function("restored", restore.qualifier).snapshot["init_duration_ms"]
        isolation = mgr.isolation
    result.add(RESTORE, samples[RESTORE])
    result.add(INIT, samples[INIT])
    result.add(RESTORE_ONLY, restore.phase)
    result.add(INIT_ONLY, init.phase)
    result.compare(RESTORE, INIT)
    result.notes.append(f"the snapshot's own Init at publish: {publish_ms:.1f} ms (once, not in the samples)")
    result.notes.append(f"isolation: {isolation}")
    return result
