"""Case 1: a warm invoke of a trivial handler, tracing off, end to end through ``mgr.invoke``.

Measured at 1,769 MB (a full vCPU), in the default isolation (the sandbox, where the machine
allows it) and in the process fallback, interleaved. The 128 MB figures stand beside them:
there the CPU share (0.072 vCPU, 1.45 ms in every 20 ms) throttles back-to-back invokes by
design, as on Lambda, so they measure the share, not the engine.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import lambda_widget as lw
from benchmarks.baselines import HttpRoundTrip, LambdaLocal, available
from benchmarks.handlers import TRIVIAL, load
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

SUBJECT = "lambda_widget mgr.invoke, warm"
PROCESS = "lambda_widget mgr.invoke, warm, isolation='process'"
SMALL = "lambda_widget mgr.invoke, warm, 128 MB"
SMALL_PROCESS = "lambda_widget mgr.invoke, warm, 128 MB, isolation='process'"
MEMORY_MB = 1769  # a full vCPU: the engine's time, not the CPU share's
DIRECT = "direct Python call"
HTTP = "HTTP/1.1 keep-alive round trip to a child"
LOCAL = "python-lambda-local call()"
RIC = "awslambdaric under the manager, warm"
DURATION = "of which delivery to response (inv.duration_ms)"
EVENT = {"value": 5}


def _invoke(mgr: lw.ContainerManager, name: str, durations: list[float] | None = None) -> float:
    t0 = time.perf_counter()
    inv = mgr.invoke(name, EVENT)
    elapsed = time.perf_counter() - t0
    if inv.status != "succeeded" or inv.cold:
        raise RuntimeError(f"{name}: expected a warm success, got {inv.status} (cold={inv.cold}): {inv.error}")
    if durations is not None:
        durations.append(inv.duration_ms / 1000)
    return elapsed


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("warm", "Warm invoke, trivial handler, trace=False")
    handler = load(TRIVIAL)
    with ExitStack() as stack:
        mgr = stack.enter_context(lw.ContainerManager(seed=1))
        mgr.register("trivial", TRIVIAL, trace=False, memory_mb=MEMORY_MB)
        mgr.register("trivial_128", TRIVIAL, trace=False, memory_mb=128)
        fallback = None
        if mgr.isolation != "process":  # what the sandbox adds to a warm invoke, same run
            fallback = stack.enter_context(lw.ContainerManager(seed=1, isolation="process"))
            fallback.register("trivial", TRIVIAL, trace=False, memory_mb=MEMORY_MB)
            fallback.register("trivial_128", TRIVIAL, trace=False, memory_mb=128)
        http = stack.enter_context(HttpRoundTrip())
        durations: list[float] = []

        def direct() -> float:
            t0 = time.perf_counter()
            for _ in range(sizes.direct_batch):
                handler(EVENT, None)
            return (time.perf_counter() - t0) / sizes.direct_batch

        def http_call() -> float:
            t0 = time.perf_counter()
            http.call(EVENT)
            return time.perf_counter() - t0

        contenders: dict[str, Any] = {
            SUBJECT: lambda: _invoke(mgr, "trivial", durations),
            DIRECT: direct,
            HTTP: http_call,
            SMALL: lambda: _invoke(mgr, "trivial_128"),
        }
        if fallback is not None:
            contenders[PROCESS] = lambda: _invoke(fallback, "trivial")
            contenders[SMALL_PROCESS] = lambda: _invoke(fallback, "trivial_128")
            fallback.invoke("trivial", EVENT)
            fallback.invoke("trivial_128", EVENT)
        mgr.invoke("trivial_128", EVENT)
        per_round = {name: sizes.warm_per_round for name in contenders}
        per_round[DIRECT] = 1
        if available("lambda_local"):
            local = LambdaLocal(handler)
            stack.callback(local.close)

            def local_call() -> float:
                t0 = time.perf_counter()
                local.call(EVENT)
                return time.perf_counter() - t0

            contenders[LOCAL] = local_call
            per_round[LOCAL] = sizes.local_per_round
        else:
            result.notes.append("python-lambda-local is not installed: its baseline was skipped")
        if available("awslambdaric"):
            mgr.register("trivial_ric", TRIVIAL, trace=False, runtime="awslambdaric", memory_mb=MEMORY_MB)
            contenders[RIC] = lambda: _invoke(mgr, "trivial_ric")
            per_round[RIC] = sizes.warm_per_round
            mgr.invoke("trivial_ric", EVENT)  # the cold start is not part of this case
        else:
            result.notes.append("awslambdaric is not installed: its baseline was skipped")
        mgr.invoke("trivial", EVENT)
        http.call(EVENT)

        samples = interleave(contenders, sizes.warm_rounds, per_round)
    for name in contenders:
        result.add(name, samples[name])
    result.add(DURATION, durations, note="the engine's own Duration: event put -> response received")
    result.compare(SUBJECT, DIRECT)
    result.compare(SUBJECT, HTTP, at_most=2.0)
    result.compare(SUBJECT, LOCAL, faster_by=15.0)
    result.compare(SUBJECT, RIC)
    result.compare(SUBJECT, PROCESS, at_most=1.1)
    result.compare(SMALL, SMALL_PROCESS)
    result.compare(SMALL, SUBJECT)
    result.info["isolation"] = mgr.isolation
    result.notes.append(f"default isolation here: {mgr.isolation}; the subject runs at {MEMORY_MB} MB")
    result.notes.append("128 MB: the CPU share (0.072 vCPU, 1.45 ms of CPU in every 20 ms) throttles "
                        "back-to-back invokes by design, as on Lambda; it is reported, not held to a target")
    result.notes.append(f"direct call: one sample is the mean of {sizes.direct_batch} calls")
    return result
