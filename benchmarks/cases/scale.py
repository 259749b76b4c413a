"""Case 6: many environments at once, started and served, and what the kernel holds meanwhile.

Every invocation waits at a barrier (it opens a FIFO for reading, which blocks until the
benchmark opens it for writing once all environments hold their event), so all of them overlap
however long the starts take on two cores, and waiting costs no CPU: 1,000 handlers polling a
file every 10 ms kept two cores busy on their own.
Each mode runs in a fresh interpreter (``python -m benchmarks.cases.scale N MODE GO``),
which stands for the kernel: its memory is the manager's, not earlier cases' leftovers.

The burst (``sizes.scale_burst``, 1,000: Lambda's default account concurrency) runs with the
fork server only: without it, 1,000 interpreters starting from scratch take minutes on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import lambda_widget as lw
from benchmarks.baselines import REPO
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult

BARRIER = """import os


def lambda_handler(event, context):
    os.close(os.open(event["go"], os.O_RDONLY))  # blocks until the benchmark opens the barrier
    return context.aws_request_id
"""


PROCESS = "fork server, isolation='process'"  # the burst without the sandbox, for its ratio


def _scale(n: int, fork_server: bool, go: Path, isolation: str | None = None) -> dict[str, float]:
    """Start ``n`` environments at once in this process (the kernel) and serve one event each."""
    me = psutil.Process()
    rss_before = me.memory_info().rss
    os.mkfifo(go, 0o644)  # the sandbox's user must be able to open it
    with lw.ContainerManager(seed=1, fork_server=fork_server, max_concurrency=n,
                             isolation=isolation) as mgr:
        mgr.register("barrier", BARRIER, timeout=300.0)
        mgr.register("warmup", "def lambda_handler(event, context):\n    return 1\n")
        mgr.invoke("warmup", {})  # boots the fork server, as a kernel's first cell would
        t0 = time.perf_counter()
        futures = [mgr.submit("barrier", {"go": str(go)}) for _ in range(n)]
        while sum(e.invocations for e in mgr.containers if e.function_name == "barrier") < n:
            ended = next((f.invocation for f in futures if f.done()), None)
            if ended is not None:
                raise RuntimeError(f"an invocation ended before the barrier opened: {ended.status} "
                                   f"{ended.error} {ended.logs[-3:]}")
            time.sleep(0.002 if n <= 100 else 0.02)  # counting 1,000 costs the kernel too
        started = time.perf_counter() - t0
        kernel = me.memory_full_info()
        # Every process of each environment: in a sandbox, its namespace's init and the runtime.
        pool = [psutil.Process(pid).memory_full_info() for e in mgr.containers
                if e.function_name == "barrier" for pid in set(e.group_pids()) | {e.pid}]
        threads = me.num_threads()
        fds = me.num_fds()
        release = os.open(go, os.O_WRONLY)  # every handler's open returns; late ones don't block
        try:
            invocations = [f.result(timeout=300) for f in futures]
        finally:
            os.close(release)
        warm = time.perf_counter() - t0
        bad = [i for i in invocations if i.status != "succeeded"]
        if bad:
            raise RuntimeError(f"{len(bad)} invocations failed: {bad[0].status} {bad[0].error}")
        envs = {i.container_id for i in invocations}
        if len(envs) != n:
            raise RuntimeError(f"expected {n} environments, got {len(envs)}")
        # An init over Lambda's 10 s limit is retried inside the invoke and has no Init Duration.
        inits = [i.init_duration_ms / 1000 for i in invocations if i.init_duration_ms is not None]
        retried = sum(1 for i in invocations if i.init_duration_ms is None)
        t1 = time.perf_counter()
        mgr.advance(600)  # the idle timeout: the reaper ends all of them
        reaped = time.perf_counter() - t1
        if mgr.containers:
            raise RuntimeError(f"{len(mgr.containers)} environments outlived the idle timeout")
    go.unlink()
    return {"isolation": mgr.isolation, "started": started, "warm": warm, "rss": kernel.rss, "uss": kernel.uss,
            "rss_before": rss_before, "pool_uss": sum(m.uss for m in pool),
            "pool_pss": sum(m.pss for m in pool), "threads": threads, "fds": fds, "inits": inits,
            "retried": retried, "reaped": reaped}


def _in_fresh_kernel(n: int, mode: str, go: Path) -> dict:
    """``_scale`` in a new interpreter; the caller's PYTHONPATH stays first (engine overrides)."""
    paths = [p for p in (os.environ.get("PYTHONPATH"), REPO) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cases.scale", str(n), mode, str(go)],
                          env=env, cwd=go.parent, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} scale run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def _report(result: CaseResult, n: int, mode: str, rs: list[dict]) -> None:
    result.add(f"time until all {n} hold their event ({mode})", [r["started"] for r in rs])
    result.add(f"time to all {n} warm ({mode})", [r["warm"] for r in rs])
    result.add(f"init duration per environment, {n} at once ({mode})", [i for r in rs for i in r["inits"]])
    result.add(f"kernel process RSS, {n} environments busy ({mode})", [r["rss"] for r in rs], "B")
    result.add(f"kernel process USS, {n} environments busy ({mode})", [r["uss"] for r in rs], "B")
    result.add(f"kernel process RSS before the manager, {n} ({mode})", [r["rss_before"] for r in rs], "B")
    result.add(f"USS of all {n} environments together ({mode})", [r["pool_uss"] for r in rs], "B")
    result.add(f"PSS of all {n} environments together ({mode})", [r["pool_pss"] for r in rs], "B")
    result.add(f"USS per environment, {n} at once ({mode})", [r["pool_uss"] / n for r in rs], "B")
    result.add(f"reaping all {n} ({mode})", [r["reaped"] for r in rs])
    result.info[f"kernel_threads_{n}_{mode}"] = [r["threads"] for r in rs]
    result.info[f"kernel_fds_{n}_{mode}"] = [r["fds"] for r in rs]
    retried = sum(r["retried"] for r in rs)
    result.info[f"inits_retried_{n}_{mode}"] = retried
    if retried:
        result.notes.append(f"{mode}, {n} at once: {retried} of {n * len(rs)} first inits took over "
                            f"Lambda's 10 s init limit and were retried inside the invoke")


def run(sizes: Sizes) -> CaseResult:
    n, burst = sizes.scale_envs, sizes.scale_burst
    result = CaseResult("scale", f"Scale: {n} and {burst} concurrent environments started and served")
    modes = ("fork server", "fork_server=False")
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    bursts: list[dict] = []
    process_bursts: list[dict] = []
    sandboxed = _sandboxed()
    # Not under /tmp: a sandboxed environment has its own /tmp, and sees the machine's only elsewhere.
    with tempfile.TemporaryDirectory(prefix="lw-bench-", dir="/var/tmp") as tmp:
        os.chmod(tmp, 0o755)  # the sandbox's user must see the barrier
        go = Path(tmp) / "go"
        for r in range(sizes.scale_rounds):  # alternating: one run is a single, noisy sample
            for mode in modes[r % 2:] + modes[:r % 2]:
                runs[mode].append(_in_fresh_kernel(n, mode, go))
            if r < sizes.scale_burst_rounds:  # sandboxed and process-mode bursts, alternating
                order = ["fork server"] + ([PROCESS] if sandboxed else [])
                for mode in order[r % len(order):] + order[:r % len(order)]:
                    (bursts if mode == "fork server" else process_bursts).append(
                        _in_fresh_kernel(burst, mode, go))
    for mode, rs in runs.items():
        _report(result, n, mode, rs)
    _report(result, burst, "fork server", bursts)
    if process_bursts:
        _report(result, burst, PROCESS, process_bursts)
        result.compare(f"time to all {burst} warm (fork server)", f"time to all {burst} warm ({PROCESS})",
                       at_most=1.25)
        result.notes.append(f"the fork server's default isolation here: {bursts[0]['isolation']}")
    result.compare(f"time to all {n} warm (fork server)", f"time to all {n} warm (fork_server=False)")
    # The burst against the small case: how the time and the memory per environment scale.
    result.compare(f"time to all {burst} warm (fork server)", f"time to all {n} warm (fork server)")
    result.compare(f"USS per environment, {burst} at once (fork server)",
                   f"USS per environment, {n} at once (fork server)")
    result.info["cpus"] = os.cpu_count()
    result.info["burst_over_small"] = burst / n
    return result


def _sandboxed() -> bool:
    """Whether the default isolation here is the sandbox (then its burst is compared with
    the process mode's)."""
    from lambda_widget.engine.isolation import ENV_VAR, namespaces_unavailable

    return os.environ.get(ENV_VAR, "auto") != "process" and namespaces_unavailable() is None


if __name__ == "__main__":
    count, mode, barrier = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    print(json.dumps(_scale(count, mode != "fork_server=False", barrier,
                            "process" if mode == PROCESS else None)))
