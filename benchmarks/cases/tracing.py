"""Case 3: the cost of one traced line, variable snapshots included, on a 1,000-iteration loop.

(traced - untraced) / traced lines, from invocations interleaved round by round, end to
end through ``mgr.invoke`` (the manager's step building included) and, apart, inside
the environment alone (the engine's Duration).
"""

from __future__ import annotations

import time

import lambda_widget as lw
from benchmarks.handlers import LOOP
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

DEFAULT_CAP = 500  # register()'s default max_steps
MEMORY_MB = 1769  # a full vCPU: the tracer's cost, not the CPU share's (128 MB gets 1/13.8 of a CPU)


class _Loop:
    """Warm invocations of one registration of the loop handler."""

    def __init__(self, mgr: lw.ContainerManager, name: str, iterations: int, **config) -> None:
        self.mgr, self.name, self.event = mgr, name, {"n": iterations}
        mgr.register(name, LOOP, **config)
        self.walls: list[float] = []
        self.durations: list[float] = []
        self.lines = 0
        self()  # cold start, not measured
        self.walls.clear()
        self.durations.clear()

    def __call__(self) -> float:
        t0 = time.perf_counter()
        inv = self.mgr.invoke(self.name, self.event)
        elapsed = time.perf_counter() - t0
        if inv.status != "succeeded":
            raise RuntimeError(f"{self.name}: {inv.status}: {inv.error}")
        self.lines = sum(1 for s in inv.steps if s.line is not None)
        self.walls.append(elapsed)
        self.durations.append(inv.duration_ms / 1000)
        return elapsed


def _per_line(traced: list[float], untraced: list[float], lines: int) -> list[float]:
    return [(t - u) / lines for t, u in zip(traced, untraced, strict=True)]


def run(sizes: Sizes) -> CaseResult:
    n = sizes.loop_iterations
    result = CaseResult("tracing", f"Tracing: cost per traced line, {n}-iteration loop")
    with lw.ContainerManager(seed=1) as mgr:
        plain = _Loop(mgr, "loop_plain", n, trace=False, memory_mb=MEMORY_MB)
        full = _Loop(mgr, "loop_traced", n, trace=True, max_steps=max(5000, 2 * n + 10), memory_mb=MEMORY_MB)
        capped = _Loop(mgr, "loop_capped", n, trace=True, memory_mb=MEMORY_MB)
        interleave({"plain": plain, "full": full, "capped": capped}, sizes.trace_rounds)
    result.add("untraced invoke", plain.walls)
    result.add(f"traced invoke ({full.lines} lines)", full.walls)
    result.add(f"traced invoke, default cap ({capped.lines} lines)", capped.walls)
    full_line = result.add("per traced line, end to end",
                           _per_line(full.walls, plain.walls, full.lines), signed=True)
    result.add("per traced line, in the environment (Duration)",
               _per_line(full.durations, plain.durations, full.lines),
               note="the runtime's share; the rest is the manager reading the trace into steps", signed=True)
    result.add(f"per traced line, default cap ({capped.lines} lines), end to end",
               _per_line(capped.walls, plain.walls, capped.lines),
               note="after the cap the loop runs untraced; that remainder is in the numerator", signed=True)
    result.limit(full_line.label, 20e-6)
    result.info.update(iterations=n, traced_lines=full.lines, capped_lines=capped.lines)
    if capped.lines != min(DEFAULT_CAP, full.lines):
        result.notes.append(f"default-cap run traced {capped.lines} lines (expected {DEFAULT_CAP})")
    return result
