"""``simulate()``: a workload through the placement policy, in simulated time."""

from __future__ import annotations

from typing import Any

import numpy as np

from lambda_widget.placement import KeepAlive, Limits, Placement
from lambda_widget.placement import keep_alive as make_keep_alive
from lambda_widget.traffic import engine
from lambda_widget.traffic.result import SimulationResult
from lambda_widget.traffic.service import ServiceTime, measure, service_time
from lambda_widget.traffic.workloads import Workload, parse_duration

MAX_REQUESTS = 20_000_000  # about 50 bytes each at the peak: 1 GB


def simulate(workload: Workload, duration: float | str | None = None, *,
             warm_ms: ServiceTime | float | list[float] | None = None,
             cold_ms: ServiceTime | float | list[float] | None = None,
             function: str | None = None, event: Any = None,
             idle_timeout: float | str = 600.0, keep_alive: KeepAlive | float | str | None = None,
             memory_mb: int | None = None, reserved_concurrency: int | None = None,
             provisioned_concurrency: int = 0, account_concurrency: int = 1000,
             architecture: str = "x86_64", seed: int | None = None,
             manager: Any = None, snap_start: bool = False,
             restore_ms: ServiceTime | float | list[float] | None = None) -> SimulationResult:
    """Simulate ``workload`` for ``duration`` seconds (or text: ``"1h"``, ``"1d"``) on one function.

    Service times: ``warm_ms`` and ``cold_ms`` (a cold time includes init) as milliseconds, lists of
    measured milliseconds, or distributions (``traffic.exponential(ms)``, ``traffic.lognormal(ms, sd)``);
    or ``function="name"`` measures a registered function's real cold and warm runs.
    Keep-alive: ``idle_timeout`` seconds (AWS-like, fixed), or ``keep_alive`` = a policy, ``"none"`` or
    ``"hybrid"`` (Shahrad et al.'s histogram policy). Limits: ``reserved_concurrency``,
    ``provisioned_concurrency`` (initialised at time 0, never reaped, billed as AWS bills it),
    ``account_concurrency`` and the scaling rate of 1,000 environments every 10 s.
    ``snap_start=True`` with ``restore_ms``: SnapStart, a cold start restores a snapshot (restore
    time plus the warm time, instead of ``cold_ms``) and the price adds the snapshot's cache and
    a restore charge per cold start.
    """
    if not isinstance(workload, Workload):
        raise ValueError(f"workload must be a traffic workload (traffic.poisson(rate), ...), not {workload!r}")
    if duration is None:
        duration = workload.natural_duration()
        if duration is None:
            raise ValueError("say how long to simulate: duration=3600 (seconds) or duration='1h'")
    duration = parse_duration(duration)
    if duration <= 0:
        raise ValueError("duration must be > 0 seconds")
    expected = workload.mean_rate() * duration
    if expected > MAX_REQUESTS:
        raise ValueError(f"about {expected:,.0f} requests: more than {MAX_REQUESTS:,} is too many to "
                         f"simulate in memory; shorten the duration or lower the rate")
    measured = None
    if function is not None:
        if warm_ms is not None or cold_ms is not None:
            raise ValueError("give either function= (measured service times) or warm_ms/cold_ms, not both")
        measured = measure(function, event=event, manager=manager)
        warm_ms, cold_ms = measured["warm_ms"], measured["cold_ms"]
        memory_mb = memory_mb or measured["memory_mb"]
    if snap_start:
        if restore_ms is None:
            raise ValueError("snap_start=True needs restore_ms= (milliseconds a restore takes)")
        if provisioned_concurrency:
            raise ValueError("SnapStart cannot be used with provisioned concurrency (AWS refuses it)")
        if cold_ms is None and warm_ms is not None:
            cold_ms = warm_ms  # not used: a cold start restores
    if warm_ms is None or cold_ms is None:
        raise ValueError("service times are missing: give warm_ms= and cold_ms= (milliseconds; a cold "
                         "start includes init), or function='name' to measure a registered function")
    warm, cold = service_time(warm_ms, "warm_ms"), service_time(cold_ms, "cold_ms")
    if snap_start:
        from lambda_widget.traffic.snapstart import Restored

        cold = Restored(warm, service_time(restore_ms, "restore_ms"))
    memory_mb = 128 if memory_mb is None else memory_mb
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or not 128 <= memory_mb <= 10240:
        raise ValueError(f"memory_mb must be a whole number from 128 to 10240, not {memory_mb!r}")
    policy = _keep_alive(idle_timeout if keep_alive is None else keep_alive)
    limits = Limits(account_concurrency)
    _check_concurrency(reserved_concurrency, provisioned_concurrency, limits)
    placement = Placement(limits)
    rng = np.random.default_rng(seed)
    arrivals = workload.arrivals(duration, rng)
    trace = engine.run(arrivals, warm, cold, policy, placement, duration, rng,
                       reserved=reserved_concurrency, provisioned=provisioned_concurrency)
    config = {"workload": workload.to_dict(), "duration_s": duration, "warm": warm.to_dict(),
              "cold": cold.to_dict(), "keep_alive": policy.to_dict(), "memory_mb": memory_mb,
              "reserved_concurrency": reserved_concurrency,
              "provisioned_concurrency": provisioned_concurrency,
              "account_concurrency": account_concurrency, "architecture": architecture, "seed": seed,
              "placement": "newest idle environment first" if placement.newest_first else "oldest first"}
    if measured is not None:
        config["measured"] = measured
    result = SimulationResult(trace, config, duration, memory_mb, architecture)
    if snap_start:
        from lambda_widget import pricing

        config["snap_start"] = True
        config["snapstart_cost"] = pricing.snapstart_cost(memory_mb, result.cold_starts, duration)
        result.cost_usd += config["snapstart_cost"]["total_usd"]
    return result


def _keep_alive(spec: KeepAlive | float | str | None) -> KeepAlive:
    if isinstance(spec, str) and spec.strip().lower() not in ("none", "hybrid", "hybrid-histogram"):
        try:
            return make_keep_alive(parse_duration(spec))
        except ValueError:
            raise ValueError(f"unknown keep-alive {spec!r}: give seconds (600), a duration ('10m'), "
                             f"'none' or 'hybrid'") from None
    return make_keep_alive(spec.strip().lower() if isinstance(spec, str) else spec)


def _check_concurrency(reserved: int | None, provisioned: int, limits: Limits) -> None:
    if reserved is not None:
        if isinstance(reserved, bool) or not isinstance(reserved, int) or reserved < 0:
            raise ValueError(f"reserved_concurrency must be a whole number >= 0 or None, not {reserved!r}")
        limits.check_reserved(reserved)
    if isinstance(provisioned, bool) or not isinstance(provisioned, int) or provisioned < 0:
        raise ValueError(f"provisioned_concurrency must be a whole number >= 0, not {provisioned!r}")
    ceiling = limits.ceiling(reserved)
    if provisioned > ceiling:
        raise ValueError(f"provisioned_concurrency ({provisioned}) cannot exceed "
                         f"{'reserved' if reserved is not None else 'account'} concurrency ({ceiling})")
