"""Placement: which environment serves an event, or why it starts cold, or why it is throttled.

Which idle environment serves is part of the model. SimFaaS (Mahmoudi and Khazaei, 2021) reproduced its
AWS measurements by routing every request to the most recently created idle instance; so do we. Older
environments then sit idle longest and are the ones the reaper ends, which keeps the pool small.
Provisioned environments serve before on-demand ones (the rest is "spillover"), and a live process
before one that must re-run init after a reset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from lambda_widget.placement.limits import SCALING, Limits, ScalingBucket

#: Why an invocation starts cold (a reset environment carries its own ``reset-*`` reason).
COLD_REASONS = ("first-invocation", "all-busy", "idle-expired", "new-version", "reset-after-timeout",
                "reset-after-crash", "reset-after-error", "reset-after-init-error", "unloaded")


class EnvView(NamedTuple):
    """What placement needs to know about one live environment."""

    seq: int                  # creation order: larger is newer
    function: str
    version: int
    state: str                # "initializing" | "busy" | "idle"
    provisioned: bool = False
    alive: bool = True        # False: the process is gone and the next event re-runs init
    retiring: bool = False    # a newer version exists: serves nothing new
    reset_reason: str | None = None


@dataclass(frozen=True)
class Decision:
    """``kind`` is "warm", "cold" or "throttle"; ``env`` the chosen environment's seq (None: a new one)."""

    kind: str
    env: int | None = None
    reason: str | None = None  # the cold reason, or the throttle reason


def cold_reason(*, live_same_version: bool, last_end: str | None, had_env: bool, version: int) -> str:
    """Why a new environment is needed when no idle one of the current version is left."""
    if live_same_version:
        return "all-busy"
    if last_end == "idle-timeout":
        return "idle-expired"
    if had_env:
        return "all-busy"
    return "new-version" if version > 1 else "first-invocation"


class Placement:
    """Route events to environments; one object per manager or simulation (it holds the scaling buckets)."""

    def __init__(self, limits: Limits | None = None, *, newest_first: bool = True) -> None:
        self.limits = limits or Limits()
        self.newest_first = newest_first
        self._buckets: dict[str, ScalingBucket] = {}

    def rank(self, provisioned: bool, alive: bool, seq: int) -> tuple[bool, bool, int]:
        """The larger the rank, the sooner an idle environment is chosen."""
        return provisioned, alive, seq if self.newest_first else -seq

    def choose(self, idle: Iterable[EnvView]) -> EnvView | None:
        """The idle environment that serves next, or None."""
        best, best_rank = None, None
        for env in idle:
            r = self.rank(env.provisioned, env.alive, env.seq)
            if best_rank is None or r > best_rank:
                best, best_rank = env, r
        return best

    def scale(self, function: str, now: float) -> bool:
        """May ``function`` add one more environment at ``now`` (the scaling rate)?"""
        bucket = self._buckets.get(function)
        if bucket is None:
            bucket = self._buckets[function] = ScalingBucket(now=now)
        return bucket.take(now)

    def place(self, envs: Iterable[EnvView], function: str, version: int, now: float, *,
              reserved: int | None = None, reserved_by: dict[str, int] | None = None,
              last_end: str | None = None, had_env: bool = False) -> Decision:
        """Where an event for ``function`` (current ``version``) goes, given every live environment.

        ``reserved_by`` maps each function with reserved concurrency to its reservation (for the
        account's unreserved pool); ``last_end`` is how the last environment of this version ended,
        ``had_env`` whether it ever had one.
        """
        envs = list(envs)
        mine = [e for e in envs if e.function == function]
        idle = [e for e in mine if e.version == version and e.state == "idle" and not e.retiring]
        env = self.choose(idle)
        if env is not None:
            return Decision("warm", env.seq) if env.alive else Decision("cold", env.seq, env.reset_reason)
        reserved_by = reserved_by or {}
        running = sum(1 for e in mine if e.state in ("initializing", "busy"))
        running_unreserved = sum(1 for e in envs if e.state in ("initializing", "busy")
                                 and e.function not in reserved_by)
        elsewhere = sum(r for f, r in reserved_by.items() if f != function)
        throttle = self.limits.admit(running, reserved, running_unreserved=running_unreserved,
                                     reserved_elsewhere=elsewhere)
        if throttle is not None:
            return Decision("throttle", None, throttle)
        if not self.scale(function, now):
            return Decision("throttle", None, SCALING)
        reason = cold_reason(live_same_version=any(e.version == version for e in mine),
                             last_end=last_end, had_env=had_env, version=version)
        return Decision("cold", None, reason)
