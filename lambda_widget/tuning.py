"""Power tuning: run a function at several memory sizes and price each, as AWS Lambda Power Tuning does.

AWS Lambda Power Tuning (github.com/alexcasalboni/aws-lambda-power-tuning) publishes a version of the
function per memory size behind an alias (``RAM128``, ``RAM256``, ...), invokes each ``num`` times, and
from the REPORT lines computes, per size:

* the duration: ``Duration + Init Duration`` of each invocation, averaged after discarding the fastest
  and the slowest 20 % (``int(num × 0.2)`` of each; its ``computeAverageDuration``);
* the cost of one invocation: ``ceil(trimmed mean of Billed Duration) × base cost per ms at 128 MB ×
  memory / 128`` (its ``computePrice``; the request fee is left out);

and then picks the cheapest (``cost``), the fastest (``speed``) or the lowest
``weight × cost / max cost + (1 − weight) × duration / max duration`` (``balanced``).

Here each size runs in a temporary copy of the function (named like Power Tuning's aliases,
``NAME-RAM128``), deleted at the end, so the function itself (its version, its warm environments) is left
as it was. The copies run untraced, so the tracer's cost is not in the durations. Power Tuning runs the
sizes side by side (parallel branches of its state machine); here the invocations run one at a time, in
rounds (one run of every size, then the next round), so a change in the machine's load while tuning
touches every size alike. As on AWS, the first invocation of each copy is a cold start; its init time is
counted, and the trimming is what keeps it out of the average (with ``num`` >= 5 at least the slowest run
is discarded).

Plain data and arithmetic: nothing here imports a widget.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_widget import pricing

DEFAULT_SIZES = (128, 256, 512, 1024, 1769, 3008)
STRATEGIES = ("cost", "speed", "balanced")
DISCARD = 0.2        # Power Tuning's discardTopBottom default
MIN_NUM = 5          # Power Tuning's initializer refuses fewer
MAX_NUM = 1000
MIN_MEMORY, MAX_MEMORY = 128, 10240


class TuningError(ValueError):
    """Power tuning cannot run as asked (bad options)."""


class TuningFailed(RuntimeError):
    """An invocation failed while power tuning ran; the message says which and why."""


# ---------------------------------------------------------------------- Power Tuning's arithmetic
def trimmed_mean(values: Sequence[float], discard: float = DISCARD) -> float:
    """The mean after dropping ``int(n × discard)`` values at each end of the sorted list
    (Power Tuning's ``computeAverageDuration``: fewer than 5 values at 0.2 drop nothing)."""
    if not values:
        return 0.0
    k = int(len(values) * discard)
    kept = sorted(values)[k:len(values) - k]
    return sum(kept) / len(kept)


def score(cost: float, duration: float, max_cost: float, max_duration: float, weight: float) -> float:
    """The balanced strategy's value of one size (lower is better): 1 = cheapest only, 0 = fastest only."""
    return weight * cost / max_cost + (1 - weight) * duration / max_duration


def choose(rows: Sequence[Any], strategy: str = "cost", balanced_weight: float = 0.5) -> Any:
    """The row Power Tuning's analyzer picks; rows have ``cost_usd`` and ``duration_ms``.

    ``cost``: cheapest, ties to the faster. ``speed``: fastest, ties to the cheaper.
    ``balanced``: the lowest :func:`score`. Remaining ties go to the earlier row, as its stable sort does.
    """
    _check_strategy(strategy, balanced_weight)
    if not rows:
        raise TuningError("no measurements to choose from")
    if strategy == "cost":
        key: Callable[[Any], Any] = lambda r: (r.cost_usd, r.duration_ms)  # noqa: E731
    elif strategy == "speed":
        key = lambda r: (r.duration_ms, r.cost_usd)  # noqa: E731
    else:
        max_cost = max(r.cost_usd for r in rows) or 1.0
        max_duration = max(r.duration_ms for r in rows) or 1.0
        key = lambda r: score(r.cost_usd, r.duration_ms, max_cost, max_duration, balanced_weight)  # noqa: E731
    return min(rows, key=key)  # min keeps the first of equals, like a stable sort's head


# ---------------------------------------------------------------------- records
@dataclass
class TuningRow:
    """One memory size: every invocation's numbers, and Power Tuning's statistics of them."""

    memory_mb: int
    durations: list[float]          # Duration + Init Duration, ms, in the order they ran
    billed_durations: list[int]     # Billed Duration, ms (includes init on cold starts)
    cold: list[bool]
    architecture: str = "x86_64"
    discard: float = DISCARD
    request_ids: list[str] = field(default_factory=list)
    cpu_share: float | None = None  # vCPUs the engine gave this size; None: CPU does not scale here

    @property
    def duration_ms(self) -> float:
        """The trimmed mean of ``durations``."""
        return trimmed_mean(self.durations, self.discard)

    @property
    def billed_ms(self) -> float:
        """The trimmed mean of ``billed_durations``."""
        return trimmed_mean(self.billed_durations, self.discard)

    @property
    def cost_usd(self) -> float:
        """$ per invocation: ``ceil(billed_ms) × base cost per ms at 128 MB × memory / 128``."""
        return pricing.power_tuning_cost(self.billed_ms, self.memory_mb, self.architecture)

    @property
    def total_cost_usd(self) -> float:
        """$ of all ``num`` invocations of this size, each priced on its own billed duration."""
        return sum(pricing.power_tuning_cost(b, self.memory_mb, self.architecture)
                   for b in self.billed_durations)

    def to_dict(self) -> dict[str, Any]:
        return {"memory_mb": self.memory_mb, "durations": list(self.durations),
                "billed_durations": list(self.billed_durations), "cold": list(self.cold),
                "duration_ms": self.duration_ms, "billed_ms": self.billed_ms, "cost_usd": self.cost_usd,
                "total_cost_usd": self.total_cost_usd, "architecture": self.architecture,
                "cpu_share": self.cpu_share, "request_ids": list(self.request_ids)}


@dataclass
class PowerTuneResult:
    """What one power-tuning run measured, and the size its strategy picked (``best``)."""

    function_name: str
    version: int
    architecture: str
    strategy: str
    balanced_weight: float
    num: int
    rows: list[TuningRow]
    discard: float = DISCARD
    event: Any = None

    @property
    def best(self) -> TuningRow:
        return choose(self.rows, self.strategy, self.balanced_weight)

    def row(self, memory_mb: int) -> TuningRow:
        """The row of one memory size."""
        for r in self.rows:
            if r.memory_mb == memory_mb:
                return r
        raise KeyError(f"{memory_mb} MB was not tuned (sizes: {', '.join(str(r.memory_mb) for r in self.rows)})")

    def to_dict(self) -> dict[str, Any]:
        return {"function_name": self.function_name, "version": self.version,
                "architecture": self.architecture, "strategy": self.strategy,
                "balanced_weight": self.balanced_weight, "num": self.num, "discard": self.discard,
                "event": self.event, "rows": [r.to_dict() for r in self.rows],
                "best": self.best.memory_mb, "base_cost_per_ms": pricing.POWER_TUNING_BASE_COST_PER_MS[
                    self.architecture], "price_source": pricing.SOURCE}

    def __repr__(self) -> str:
        return (f"<PowerTuneResult {self.function_name}:{self.version} {self.strategy}: "
                f"best {self.best.memory_mb} MB of {len(self.rows)} sizes>")


# ---------------------------------------------------------------------- running it
def check_options(memory_sizes: Any, num: Any, strategy: Any, balanced_weight: Any,
                  discard: Any = DISCARD) -> tuple[int, ...]:
    """Validate power-tuning options with clear messages; returns the memory sizes as a tuple."""
    if isinstance(memory_sizes, (str, bytes)) or not isinstance(memory_sizes, Iterable):
        raise TuningError(f"memory_sizes must be a list of whole numbers of MB, not {memory_sizes!r}")
    sizes = tuple(memory_sizes)
    if not sizes:
        raise TuningError("memory_sizes is empty: give at least one size, e.g. (128, 512, 1769)")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_MEMORY <= size <= MAX_MEMORY:
            raise TuningError(f"Invalid memory size {size!r}: each must be a whole number of MB "
                              f"from {MIN_MEMORY} to {MAX_MEMORY}")
    twice = sorted({s for s in sizes if sizes.count(s) > 1})
    if twice:
        raise TuningError(f"memory size {twice[0]} MB is listed more than once")
    if isinstance(num, bool) or not isinstance(num, int) or not MIN_NUM <= num <= MAX_NUM:
        raise TuningError(f"num must be a whole number from {MIN_NUM} to {MAX_NUM} (Power Tuning needs at "
                          f"least {MIN_NUM} runs per size to trim 20 % at each end), not {num!r}")
    _check_strategy(strategy, balanced_weight)
    if isinstance(discard, bool) or not isinstance(discard, (int, float)) or not 0 <= discard <= 0.4:
        raise TuningError(f"discard must be a fraction from 0 to 0.4, not {discard!r}")
    return sizes


def _check_strategy(strategy: Any, weight: Any) -> None:
    if strategy not in STRATEGIES:
        raise TuningError(f"Unknown strategy {strategy!r}: use 'cost', 'speed' or 'balanced'")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise TuningError(f"balanced_weight must be a number from 0 (fastest) to 1 (cheapest), not {weight!r}")


def power_tune(mgr: Any, name: str, event: Any = None, *, memory_sizes: Iterable[int] = DEFAULT_SIZES,
               num: int = 10, strategy: str = "cost", balanced_weight: float = 0.5,
               architecture: str | None = None, discard: float = DISCARD,
               on_progress: Callable[[int, int], None] | None = None) -> PowerTuneResult:
    """Invoke function ``name`` ``num`` times (one after another) at each of ``memory_sizes``.

    ``architecture`` prices the runs as that architecture (default: the function's own).
    ``on_progress(done, total)`` is called after each invocation. Bad options raise TuningError; a failed
    invocation stops the run with TuningFailed, which says which and why; the temporary copies are deleted whatever happens.
    """
    from lambda_widget.engine.validation import encode_event

    fn = mgr.function(name)  # ResourceNotFoundException lists the registered functions
    sizes = check_options(memory_sizes, num, strategy, balanced_weight, discard)
    arch = pricing._check_arch(fn.architecture if architecture is None else architecture)
    encode_event(event)  # a payload Lambda would refuse stops us before anything runs
    copies: dict[int, str] = {}
    runs: dict[int, list[Any]] = {size: [] for size in sizes}
    try:
        for size in sizes:
            copies[size] = _copy_name(mgr, name, size)
            mgr.register(copies[size], **copy_config(mgr, fn, memory_mb=size))
        for done in range(len(sizes) * num):  # in rounds: one run of every size, then the next round
            size = sizes[done % len(sizes)]
            inv = mgr.invoke(copies[size], event)
            if inv.status != "succeeded":
                raise TuningFailed(_failure(name, size, len(runs[size]) + 1, inv, fn.timeout))
            runs[size].append(inv)
            if on_progress is not None:
                on_progress(done + 1, len(sizes) * num)
        shares = {size: mgr.function(copies[size]).to_dict().get("cpu_share") for size in sizes}
    finally:
        for copy in copies.values():
            mgr.delete_function(copy)
    rows = [TuningRow(
        memory_mb=size,
        durations=[round(i.duration_ms + (i.init_duration_ms or 0.0), 2) for i in runs[size]],
        billed_durations=[int(i.billed_duration_ms) for i in runs[size]],
        cold=[bool(i.cold) for i in runs[size]], architecture=arch, discard=float(discard),
        request_ids=[i.request_id for i in runs[size]], cpu_share=shares[size]) for size in sizes]
    return PowerTuneResult(fn.name, fn.version, arch, strategy, float(balanced_weight), num, rows,
                           float(discard), event)


def _copy_name(mgr: Any, name: str, size: int) -> str:
    """``NAME-RAM<size>`` (Power Tuning's alias name), shortened or numbered if it is taken or too long."""
    suffix = f"-RAM{size}"
    taken = set(mgr.functions)
    candidate = name[:64 - len(suffix)] + suffix
    n = 1
    while candidate in taken:
        n += 1
        tail = f"{suffix}-{n}"
        candidate = name[:64 - len(tail)] + tail
    return candidate


def copy_config(mgr: Any, fn: Any, **overrides: Any) -> dict[str, Any]:
    """``fn``'s configuration for ``mgr.register``: its code (the source, or the code directory of a
    package, which stays as long as the function), untraced, without concurrency settings or
    destinations; ``overrides`` last (``memory_mb=256``)."""
    accepted = inspect.signature(mgr.register).parameters
    config = {f.name: getattr(fn, f.name) for f in dataclasses.fields(fn)
              if f.name in accepted and f.name != "name"}
    config.update(trace=False, track=(), reserved_concurrency=None,
                  provisioned_concurrency=0, on_success=None, on_failure=None)
    if config.get("path") is not None:  # a code directory: the copy runs the same directory
        del config["source"]
        config["handler"] = fn.handler_spec
    config.update(overrides)
    return config


def _failure(name: str, size: int, number: int, inv: Any, timeout: float) -> str:
    error = inv.error or {}
    what = f"{error.get('errorType', inv.status)}: {error.get('errorMessage', '')}".rstrip(": ")
    advice = (f" (a slower, smaller size can need more than the function's {timeout:g} s timeout: "
              f"raise it, or leave {size} MB out)") if inv.status == "timed-out" else ""
    return f"power tuning stopped: run {number} of {name} at {size} MB {inv.status.replace('-', ' ')}: {what}{advice}"
