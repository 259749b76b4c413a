"""Service times: how long an event keeps its environment busy, warm or cold (cold includes init).

A number is a constant in milliseconds; ``exponential(ms)``, ``lognormal(ms, sd_ms)`` and
``empirical([ms, ...])`` are distributions; :func:`measure` runs a registered function for real,
cold and warm, in a private manager, and gives the two empirical distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


class ServiceTime:
    """A distribution of service times in milliseconds."""

    #: Milliseconds when every draw is the same, else None (the simulator then skips drawing).
    constant: float | None = None

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` service times in seconds."""
        raise NotImplementedError

    def mean_ms(self) -> float:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError


def _ms(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of milliseconds >= 0, not {value!r}")
    return float(value)


class Constant(ServiceTime):
    def __init__(self, ms: float) -> None:
        self.constant = self.ms = _ms("service time", ms)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.full(n, self.ms / 1000.0)

    def mean_ms(self) -> float:
        return self.ms

    def to_dict(self) -> dict:
        return {"kind": "constant", "ms": self.ms}

    def __repr__(self) -> str:
        return f"{self.ms:g} ms"


class Exponential(ServiceTime):
    """Exponentially distributed with mean ``ms`` (SimFaaS's default model)."""

    def __init__(self, ms: float) -> None:
        self.ms = _ms("mean service time", ms)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.exponential(self.ms / 1000.0, n)

    def mean_ms(self) -> float:
        return self.ms

    def to_dict(self) -> dict:
        return {"kind": "exponential", "mean_ms": self.ms}

    def __repr__(self) -> str:
        return f"exponential(mean {self.ms:g} ms)"


class LogNormal(ServiceTime):
    """Log-normal with mean ``ms`` and standard deviation ``sd_ms`` (a long right tail, as latencies have)."""

    def __init__(self, ms: float, sd_ms: float) -> None:
        self.ms, self.sd = _ms("mean service time", ms), _ms("standard deviation", sd_ms)
        if self.ms <= 0:
            raise ValueError("a log-normal service time needs a mean > 0")
        self._sigma = math.sqrt(math.log1p((self.sd / self.ms) ** 2))
        self._mu = math.log(self.ms / 1000.0) - self._sigma ** 2 / 2

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.lognormal(self._mu, self._sigma, n)

    def mean_ms(self) -> float:
        return self.ms

    def to_dict(self) -> dict:
        return {"kind": "lognormal", "mean_ms": self.ms, "sd_ms": self.sd}

    def __repr__(self) -> str:
        return f"lognormal(mean {self.ms:g} ms, sd {self.sd:g} ms)"


class Empirical(ServiceTime):
    """Drawn (with replacement) from measured times."""

    def __init__(self, samples_ms: Sequence[float]) -> None:
        values = [_ms("a measured time", v) for v in samples_ms]
        if not values:
            raise ValueError("an empirical service time needs at least one measurement")
        self.samples = np.asarray(values) / 1000.0
        if np.all(self.samples == self.samples[0]):
            self.constant = values[0]

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.samples, n)

    def mean_ms(self) -> float:
        return float(self.samples.mean() * 1000.0)

    def to_dict(self) -> dict:
        return {"kind": "empirical", "samples_ms": [round(float(v) * 1000.0, 3) for v in self.samples]}

    def __repr__(self) -> str:
        return f"empirical({self.samples.size} samples, mean {self.mean_ms():.1f} ms)"


def exponential(ms: float) -> Exponential:
    return Exponential(ms)


def lognormal(ms: float, sd_ms: float) -> LogNormal:
    return LogNormal(ms, sd_ms)


def empirical(samples_ms: Sequence[float]) -> Empirical:
    return Empirical(samples_ms)


def service_time(spec: ServiceTime | float | Sequence[float], name: str) -> ServiceTime:
    """A ServiceTime from a ServiceTime, a number of milliseconds or a list of measured milliseconds."""
    if isinstance(spec, ServiceTime):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(_ms(name, spec))
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return Empirical(spec)
    raise ValueError(f"{name} must be milliseconds, a list of measured milliseconds or a distribution "
                     f"(traffic.exponential(ms), ...), not {spec!r}")


class MeasurementFailed(ValueError):
    """A run of the function being measured failed: its times are no service times."""


def measure(function: str, *, event: Any = None, cold_runs: int = 3, warm_runs: int = 10,
            manager: Any = None) -> dict[str, Any]:
    """Run registered ``function`` for real, ``cold_runs`` times cold and ``warm_runs`` times warm.

    The runs happen in a private manager on a virtual clock (your pool is left alone), with the
    function's code (a package's whole directory too) and configuration taken from ``manager``
    (``lw.simulate`` passes the kernel's, ``mgr.simulate`` its own). A cold time is init plus the
    handler's duration; a warm one the handler's duration. A failed run stops the measurement with
    MeasurementFailed, which quotes its error.
    """
    from lambda_widget.engine import ContainerManager
    from lambda_widget.tuning import copy_config

    if cold_runs < 1 or warm_runs < 1:
        raise ValueError("measure needs at least one cold and one warm run")
    if manager is None:
        raise ValueError(f"function={function!r} names a registered function: say whose, with manager= "
                         f"(lw.simulate and mgr.simulate do)")
    fn = manager.function(function)
    cold: list[float] = []
    warm: list[float] = []
    total = cold_runs + warm_runs
    payload = {} if event is None else event

    def run(kind: str) -> Any:
        inv = private.invoke(fn.name, payload)
        if inv.status != "succeeded":
            error = inv.error or {}
            what = f"{error.get('errorType', inv.status)}: {error.get('errorMessage', '')}".rstrip(": ")
            raise MeasurementFailed(f"measuring {fn.name} failed: run {len(cold) + len(warm) + 1} of {total} "
                                    f"({kind}) {inv.status.replace('-', ' ')}: {what}")
        return inv

    with ContainerManager(seed=0, virtual_clock=True) as private:
        private.register(fn.name, **copy_config(private, fn))
        for _ in range(cold_runs):
            private.advance(fn.idle_timeout + 1.0)  # the last environment is reaped: the next run is cold
            first = run("cold")
            cold.append((first.init_duration_ms or 0.0) + (first.duration_ms or 0.0))
            for _ in range(math.ceil(warm_runs / cold_runs)):
                if len(warm) < warm_runs:
                    warm.append(run("warm").duration_ms or 0.0)
    return {"function": fn.name, "memory_mb": fn.memory_mb, "cold_ms": cold, "warm_ms": warm,
            "failed": 0}
