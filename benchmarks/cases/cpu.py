"""Case: CPU in proportion to memory -- how closely each environment's share is held, and what
holding it costs a warm invoke that is not CPU-bound.

Share: a single-threaded handler spins for a fixed wall time and reports CPU seconds per
second; the target is ``min(memory / 1769, 1)`` (one thread uses at most one CPU), or what
the machine gives an unscaled run measured in the same round, if that is less (a shared
machine may give less than the share). Cost: warm trivial invokes with ``cpu_scaling`` on and off,
interleaved, in each isolation mode this machine has.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import lambda_widget as lw
from benchmarks.handlers import TRIVIAL
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave
from lambda_widget.engine.isolation import namespaces_unavailable
from lambda_widget.engine.isolation.cpu import cpu_share

SPIN = """import time


def lambda_handler(event, context):
    c0, t0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < event["s"]:
        pass
    return (time.process_time() - c0) / (time.perf_counter() - t0)
"""
SIZES_MB = (128, 256, 512, 1024, 1769, 3008)
MODES = {"namespaces": "cgroup quota", "process": "SIGSTOP/SIGCONT throttle"}


def _modes() -> list[str]:
    return [m for m in MODES if m == "process" or namespaces_unavailable() is None]


def _warm(mgr: lw.ContainerManager, name: str) -> float:
    t0 = time.perf_counter()
    inv = mgr.invoke(name, {})
    elapsed = time.perf_counter() - t0
    if inv.status != "succeeded" or inv.cold:
        raise RuntimeError(f"{name}: expected a warm success, got {inv.status}: {inv.error}")
    return elapsed


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("cpu", "CPU share by memory size, and the cost of holding it")
    with ExitStack() as stack:
        for mode in _modes():
            mgr = stack.enter_context(lw.ContainerManager(seed=1, isolation=mode))
            mgr.register("free", SPIN, memory_mb=128, cpu_scaling=False, timeout=60, trace=False)
            for mb in SIZES_MB:
                mgr.register(f"spin-{mb}", SPIN, memory_mb=mb, timeout=60, trace=False)
                mgr.invoke(f"spin-{mb}", {"s": 0})
            mgr.invoke("free", {"s": 0})
            held: dict[int, list[float]] = {mb: [] for mb in SIZES_MB}
            for _ in range(sizes.cpu_rounds):
                free = mgr.invoke("free", {"s": sizes.cpu_spin_s}).result
                for mb in SIZES_MB:
                    got = mgr.invoke(f"spin-{mb}", {"s": sizes.cpu_spin_s}).result
                    # The share it should get: its own, unless the machine gives less right now.
                    held[mb].append(got / min(cpu_share(mb), 1.0, free))
            for mb in SIZES_MB:
                result.add(f"{mode}: measured / target share at {mb} MB (target {min(cpu_share(mb), 1):.4f})",
                           held[mb], unit="", note=MODES[mode])

            mgr.register("on", TRIVIAL, trace=False)
            mgr.register("on-1769", TRIVIAL, trace=False, memory_mb=1769)
            mgr.register("off", TRIVIAL, trace=False, cpu_scaling=False)
            for name in ("on", "on-1769", "off"):
                mgr.invoke(name, {})
            on = f"{mode}: warm invoke, CPU held (128 MB)"
            big = f"{mode}: warm invoke, CPU held (1769 MB)"
            off = f"{mode}: warm invoke, cpu_scaling=False"
            samples = interleave({on: lambda m=mgr: _warm(m, "on"), big: lambda m=mgr: _warm(m, "on-1769"),
                                  off: lambda m=mgr: _warm(m, "off")}, sizes.warm_rounds, sizes.warm_per_round)
            for label in (on, big, off):
                result.add(label, samples[label])
            result.compare(on, off, at_most=1.1)
            result.compare(big, off, at_most=1.1)
    return result
