"""A keep-alive sweep: the same traffic under several keep-alive policies, as a cold-start/memory trade-off."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from lambda_widget.placement import FixedKeepAlive, HybridHistogramKeepAlive, KeepAlive
from lambda_widget.traffic.result import SimulationResult
from lambda_widget.traffic.simulate import simulate
from lambda_widget.traffic.workloads import Workload, parse_duration

DEFAULT_TIMEOUTS = (0, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


def _label(policy: KeepAlive, provisioned: int) -> str:
    if isinstance(policy, HybridHistogramKeepAlive):
        name = "hybrid"
    elif isinstance(policy, FixedKeepAlive):
        t = policy.timeout
        name = "none" if t == 0 else (f"{t / 60:g} min" if t < 3600 else f"{t / 3600:g} h")
    else:
        name = policy.name
    return name + (f" + {provisioned} PC" if provisioned else "")


class KeepAliveSweep:
    """The points of a sweep; ``pareto()`` are those no other point beats on both axes."""

    def __init__(self, results: list[tuple[str, SimulationResult]]) -> None:
        self.results = results
        self.points = [{"label": label, "cold_start_pct": 100.0 * r.cold_start_ratio,
                        "idle_gb_seconds": r.idle_gb_seconds, "mean_idle": r.mean_idle,
                        "mean_environments": r.mean_environments, "cold_starts": r.cold_starts,
                        "invocations": r.invocations, "cost_usd": r.cost_usd,
                        "provisioned": r.config["provisioned_concurrency"], "keep_alive": r.keep_alive}
                       for label, r in results]

    def pareto(self) -> list[dict[str, Any]]:
        """The points on the frontier: lower cold-start % and lower idle memory time, none dominating."""
        front = []
        for p in self.points:
            dominated = any(q is not p and q["cold_start_pct"] <= p["cold_start_pct"]
                            and q["idle_gb_seconds"] <= p["idle_gb_seconds"]
                            and (q["cold_start_pct"], q["idle_gb_seconds"]) !=
                            (p["cold_start_pct"], p["idle_gb_seconds"]) for q in self.points)
            if not dominated:
                front.append(p)
        return sorted(front, key=lambda p: p["idle_gb_seconds"])

    def point(self, label: str) -> dict[str, Any]:
        for p in self.points:
            if p["label"] == label:
                return p
        raise KeyError(f"no point {label!r}; the sweep has {', '.join(p['label'] for p in self.points)}")

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "pareto": [p["label"] for p in self.pareto()],
                "config": self.results[0][1].config if self.results else {}}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def lines(self) -> list[str]:
        front = {p["label"] for p in self.pareto()}
        return [f"{p['label']:>14}  cold {p['cold_start_pct']:6.2f} %  idle {p['idle_gb_seconds']:12,.0f} GB-s  "
                f"${p['cost_usd']:.4f}{'  *' if p['label'] in front else ''}" for p in self.points]

    def __repr__(self) -> str:
        return f"<KeepAliveSweep: {len(self.points)} policies, Pareto front: " \
               f"{', '.join(p['label'] for p in self.pareto())}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("\n".join(self.lines()))

    def _repr_html_(self) -> str:
        from lambda_widget.views.traffic import sweep_html

        return sweep_html(self, static=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from lambda_widget.views.traffic import sweep_html

        return {"text/html": sweep_html(self), "text/plain": "\n".join(self.lines())}


def sweep(workload: Workload, duration: float | str | None = None, *,
          timeouts: Iterable[float | str] = DEFAULT_TIMEOUTS, hybrid: bool = True,
          provisioned: Sequence[int] = (), seed: int = 1, **options: Any) -> KeepAliveSweep:
    """Simulate ``workload`` under fixed keep-alive ``timeouts`` (seconds or ``"10m"``), the hybrid
    histogram policy (``hybrid=True``) and, for each ``provisioned`` count, a 10-minute keep-alive with that
    much provisioned concurrency. ``options`` go to :func:`simulate` (``warm_ms``, ``cold_ms``, ...).
    Every run sees the same arrivals (the same ``seed``)."""
    for key in ("keep_alive", "idle_timeout", "provisioned_concurrency"):
        if key in options:
            raise ValueError(f"sweep sets {key} itself; use timeouts=, hybrid= and provisioned=")
    plans: list[tuple[KeepAlive, int]] = [(FixedKeepAlive(parse_duration(t)), 0) for t in timeouts]
    if hybrid:
        plans.append((HybridHistogramKeepAlive(), 0))
    plans += [(FixedKeepAlive(600.0), int(n)) for n in provisioned]
    if not plans:
        raise ValueError("nothing to sweep: give timeouts, hybrid=True or provisioned counts")
    results = []
    for policy, pc in plans:
        r = simulate(workload, duration, keep_alive=policy, provisioned_concurrency=pc, seed=seed, **options)
        results.append((_label(policy, pc), r))
    return KeepAliveSweep(results)
