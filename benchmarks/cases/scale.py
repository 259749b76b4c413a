"""Case 6: many environments at once, started and served, and what the kernel holds meanwhile.

Every invocation waits at a barrier (a file the benchmark creates once all environments
hold their event), so all of them overlap however long the starts take on two cores.
Each mode runs in a fresh interpreter (``python -m benchmarks.cases.scale N MODE GO``),
which stands for the kernel: its memory is the manager's, not earlier cases' leftovers.
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
import time


def lambda_handler(event, context):
    while not os.path.exists(event["go"]):
        if context.get_remaining_time_in_millis() < 100:
            raise TimeoutError("the benchmark never opened the barrier")
        time.sleep(0.01)
    return os.getpid()
"""


def _scale(n: int, fork_server: bool, go: Path) -> dict[str, float]:
    """Start ``n`` environments at once in this process (the kernel) and serve one event each."""
    me = psutil.Process()
    rss_before = me.memory_info().rss
    with lw.ContainerManager(seed=1, fork_server=fork_server, max_concurrency=max(64, n)) as mgr:
        mgr.register("barrier", BARRIER, timeout=120.0)
        mgr.register("warmup", BARRIER)
        mgr.invoke("warmup", {"go": "/"})  # boots the fork server, as a kernel's first cell would
        t0 = time.perf_counter()
        futures = [mgr.submit("barrier", {"go": str(go)}) for _ in range(n)]
        while sum(e.invocations for e in mgr.containers if e.function_name == "barrier") < n:
            ended = next((f.invocation for f in futures if f.done()), None)
            if ended is not None:
                raise RuntimeError(f"an invocation ended before the barrier opened: {ended.status} "
                                   f"{ended.error} {ended.logs[-3:]}")
            time.sleep(0.002)
        started = time.perf_counter() - t0
        kernel = me.memory_full_info()
        pool = [psutil.Process(e.pid).memory_full_info() for e in mgr.containers
                if e.function_name == "barrier"]
        threads = me.num_threads()
        go.touch()
        invocations = [f.result(timeout=120) for f in futures]
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
    go.unlink()
    return {"started": started, "warm": warm, "rss": kernel.rss, "uss": kernel.uss,
            "rss_before": rss_before, "pool_uss": sum(m.uss for m in pool),
            "pool_pss": sum(m.pss for m in pool), "threads": threads, "inits": inits, "retried": retried}


def _in_fresh_kernel(n: int, mode: str, go: Path) -> dict:
    """``_scale`` in a new interpreter; the caller's PYTHONPATH stays first (engine overrides)."""
    paths = [p for p in (os.environ.get("PYTHONPATH"), REPO) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cases.scale", str(n), mode, str(go)],
                          env=env, cwd=go.parent, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} scale run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def run(sizes: Sizes) -> CaseResult:
    n = sizes.scale_envs
    result = CaseResult("scale", f"Scale: {n} concurrent environments started and served")
    modes = ("fork server", "fork_server=False")
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    # Not under /tmp: a sandboxed environment has its own /tmp, and sees the machine's only elsewhere.
    with tempfile.TemporaryDirectory(prefix="lw-bench-", dir="/var/tmp") as tmp:
        os.chmod(tmp, 0o755)  # the sandbox's user must see the barrier file
        go = Path(tmp) / "go"
        for r in range(sizes.scale_rounds):  # alternating: one run is a single, noisy sample
            for mode in modes[r % 2:] + modes[:r % 2]:
                runs[mode].append(_in_fresh_kernel(n, mode, go))
    for mode, rs in runs.items():
        result.add(f"time until all {n} hold their event ({mode})", [r["started"] for r in rs])
        result.add(f"time to all {n} warm ({mode})", [r["warm"] for r in rs])
        result.add(f"init duration per environment ({mode})", [i for r in rs for i in r["inits"]])
        result.add(f"kernel process RSS, {n} environments busy ({mode})", [r["rss"] for r in rs], "B")
        result.add(f"kernel process USS ({mode})", [r["uss"] for r in rs], "B")
        result.add(f"kernel process RSS before the manager ({mode})", [r["rss_before"] for r in rs], "B")
        result.add(f"USS of all {n} environments together ({mode})", [r["pool_uss"] for r in rs], "B")
        result.add(f"PSS of all {n} environments together ({mode})", [r["pool_pss"] for r in rs], "B")
        result.info[f"kernel_threads_{mode}"] = [r["threads"] for r in rs]
        retried = sum(r["retried"] for r in rs)
        result.info[f"inits_retried_{mode}"] = retried
        if retried:
            result.notes.append(f"{mode}: {retried} of {n * len(rs)} first inits took over Lambda's 10 s "
                                f"init limit and were retried inside the invoke")
    result.compare(f"time to all {n} warm (fork server)", f"time to all {n} warm (fork_server=False)")
    result.info["cpus"] = os.cpu_count()
    return result


if __name__ == "__main__":
    count, mode, barrier = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    print(json.dumps(_scale(count, mode == "fork server", barrier)))
