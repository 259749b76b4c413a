"""The traffic lab: a day of real-world traffic through the execution model, in seconds.

A discrete-event simulation (no processes) that routes, reaps and throttles by the same placement
policy as the real engine (``lambda_widget.placement``)::

    from lambda_widget import traffic
    r = lw.simulate(traffic.poisson(rate=0.1), duration=86_400, warm_ms=1972.6, cold_ms=2310.1)
    r.cold_start_ratio, r.mean_environments, r.cost_usd
"""

from lambda_widget.traffic.service import (
    Empirical,
    Exponential,
    LogNormal,
    MeasurementFailed,
    ServiceTime,
    empirical,
    exponential,
    lognormal,
    measure,
)
from lambda_widget.traffic.simulate import simulate
from lambda_widget.traffic.sweep import KeepAliveSweep, sweep
from lambda_widget.traffic.workloads import (
    Workload,
    bursts,
    constant,
    diurnal,
    parse_duration,
    parse_rate,
    per_minute,
    poisson,
    replay,
)

__all__ = [
    "Empirical",
    "Exponential",
    "KeepAliveSweep",
    "LogNormal",
    "MeasurementFailed",
    "ServiceTime",
    "Workload",
    "bursts",
    "constant",
    "diurnal",
    "empirical",
    "exponential",
    "lognormal",
    "measure",
    "parse_duration",
    "parse_rate",
    "per_minute",
    "poisson",
    "replay",
    "simulate",
    "sweep",
]
