"""The benchmark cases, in the order they run; each is ``run(sizes) -> CaseResult``."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.cases import cold, cpu, front, memory, queue, scale, snapstart, tracing, traffic, views, warm
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult

CASES: dict[str, Callable[[Sizes], CaseResult]] = {
    "warm": warm.run,
    "cold": cold.run,
    "tracing": tracing.run,
    "views": views.run,
    "memory": memory.run,
    "scale": scale.run,
    "cpu": cpu.run,
    "front": front.run,
    "traffic": traffic.run,
    "snapstart": snapstart.run,
    "queue": queue.run,
}
