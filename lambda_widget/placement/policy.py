"""Placement: which environment serves an event, or why it starts cold, or why it is throttled.

Which idle environment serves is part of the model. SimFaaS (Mahmoudi and Khazaei, 2021) reproduced its
AWS measurements by routing every request to the most recently created idle instance; so do we. Older
environments then sit idle longest and are the ones the reaper ends, which keeps the pool small.
Provisioned environments serve before on-demand ones (the rest is "spillover"), and a live process
before one that must re-run init after a reset. Each function version ($LATEST and every published
version) has environments of its own, as on Lambda: an event only goes to one of its version's.

The real engine keeps its idle environments per version in an :class:`IdleSet` and running counts as
they change, so a placement costs the same with 1,000 environments alive as with one; ``place``
takes a plain list instead (tests, small pools). Both end in :meth:`Placement.decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import heapify, heappop, heappush, heapreplace
from typing import NamedTuple

from lambda_widget.placement.limits import SCALING, Limits, ScalingBucket

#: Why an invocation starts cold (a reset environment carries its own ``reset-*`` reason).
COLD_REASONS = ("first-invocation", "all-busy", "idle-expired", "new-version", "function-updated",
                "reset-after-timeout", "reset-after-crash", "reset-after-error", "reset-after-init-error",
                "unloaded")


class EnvView(NamedTuple):
    """What placement needs to know about one live environment."""

    seq: int                  # creation order: larger is newer
    function: str
    version: object           # the function version it runs (any hashable: "$LATEST", "1", a key)
    state: str                # "initializing" | "busy" | "idle"
    provisioned: bool = False
    alive: bool = True        # False: the process is gone and the next event re-runs init
    retiring: bool = False    # its version was replaced ($LATEST updated): serves nothing new
    reset_reason: str | None = None


@dataclass(frozen=True)
class Decision:
    """``kind`` is "warm", "cold" or "throttle"; ``env`` the chosen environment's seq (None: a new one)."""

    kind: str
    env: int | None = None
    reason: str | None = None  # the cold reason, or the throttle reason


def cold_reason(*, live_same_version: bool, last_end: str | None, had_env: bool,
                first: str = "first-invocation") -> str:
    """Why a new environment is needed when no idle one of the version is left.

    ``first`` is the reason when this version never had an environment: ``first-invocation``,
    ``new-version`` (a newly published version) or ``function-updated`` ($LATEST after an update).
    """
    if live_same_version:
        return "all-busy"
    if last_end == "idle-timeout":
        return "idle-expired"
    if had_env:
        return "all-busy"
    return first


class IdleSet:
    """The idle environments of one function version, the one placement picks on top.

    A heap by the policy's rank (``Placement.rank_key``) with lazy deletion: adding, removing and
    taking the best cost O(log n) at most, never a scan of the pool. ``take`` re-checks the top
    against the environment's current rank (it only falls: a process may die while idle) and drops
    environments that can no longer serve.
    """

    __slots__ = ("_heap", "_keys")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int]] = []  # (-rank key, seq)
        self._keys: dict[int, int] = {}         # seq -> rank key, for the members

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, seq: int) -> bool:
        return seq in self._keys

    def add(self, seq: int, key: int) -> None:
        self._keys[seq] = key
        heappush(self._heap, (-key, seq))

    def discard(self, seq: int) -> None:
        if self._keys.pop(seq, None) is not None and len(self._heap) > 2 * len(self._keys) + 32:
            self._heap = [(-k, s) for s, k in self._keys.items()]  # drop what lazy deletion left
            heapify(self._heap)

    def take(self, current_key: Callable[[int], int | None] | None = None) -> int | None:
        """Remove and return the best member's seq (None if empty). ``current_key(seq)``: its rank key
        now, or None if it can no longer serve (it is dropped)."""
        heap, keys = self._heap, self._keys
        while heap:
            neg, seq = heap[0]
            if keys.get(seq) != -neg:  # removed, or re-added with another key
                heappop(heap)
                continue
            now = -neg if current_key is None else current_key(seq)
            if now is None:
                heappop(heap)
                del keys[seq]
                continue
            if now != -neg:
                keys[seq] = now
                heapreplace(heap, (-now, seq))
                continue
            heappop(heap)
            del keys[seq]
            return seq
        return None


class Placement:
    """Route events to environments; one object per manager or simulation (it holds the scaling buckets)."""

    def __init__(self, limits: Limits | None = None, *, newest_first: bool = True) -> None:
        self.limits = limits or Limits()
        self.newest_first = newest_first
        self._buckets: dict[str, ScalingBucket] = {}

    def rank(self, provisioned: bool, alive: bool, seq: int) -> tuple[bool, bool, int]:
        """The larger the rank, the sooner an idle environment is chosen."""
        return provisioned, alive, seq if self.newest_first else -seq

    def rank_key(self, provisioned: bool, alive: bool, seq: int) -> int:
        """:meth:`rank` as one integer (larger: chosen sooner), for heaps."""
        prov, live, order = self.rank(provisioned, alive, seq)
        return (int(prov) << 42) | (int(live) << 41) | (order + (1 << 40))

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

    def decide(self, best: EnvView | None, function: str, now: float, *, running: int,
               running_unreserved: int, reserved: int | None = None, reserved_elsewhere: int = 0,
               live_same_version: bool = False, last_end: str | None = None, had_env: bool = False,
               first: str = "first-invocation") -> Decision:
        """Where an event for ``function`` goes, from counts the caller keeps: ``best`` is the idle
        environment of the version that ranks first (or None); ``running`` counts the function's
        initialising or busy environments, ``running_unreserved`` those of every function without
        reserved concurrency; ``reserved_elsewhere`` is what other functions reserve."""
        if best is not None:
            return Decision("warm", best.seq) if best.alive else Decision("cold", best.seq, best.reset_reason)
        throttle = self.limits.admit(running, reserved, running_unreserved=running_unreserved,
                                     reserved_elsewhere=reserved_elsewhere)
        if throttle is not None:
            return Decision("throttle", None, throttle)
        if not self.scale(function, now):
            return Decision("throttle", None, SCALING)
        return Decision("cold", None, cold_reason(live_same_version=live_same_version, last_end=last_end,
                                                  had_env=had_env, first=first))

    def place(self, envs: Iterable[EnvView], function: str, version: object, now: float, *,
              reserved: int | None = None, reserved_by: dict[str, int] | None = None,
              last_end: str | None = None, had_env: bool = False,
              first: str = "first-invocation") -> Decision:
        """:meth:`decide`, given every live environment (a scan: for tests and small pools).

        ``reserved_by`` maps each function with reserved concurrency to its reservation (for the
        account's unreserved pool); ``last_end`` is how the last environment of this version ended,
        ``had_env`` whether it ever had one.
        """
        envs = list(envs)
        mine = [e for e in envs if e.function == function]
        best = self.choose(e for e in mine if e.version == version and e.state == "idle" and not e.retiring)
        reserved_by = reserved_by or {}
        return self.decide(
            best, function, now,
            running=sum(1 for e in mine if e.state in ("initializing", "busy")),
            running_unreserved=sum(1 for e in envs if e.state in ("initializing", "busy")
                                   and e.function not in reserved_by),
            reserved=reserved, reserved_elsewhere=sum(r for f, r in reserved_by.items() if f != function),
            live_same_version=any(e.version == version for e in mine), last_end=last_end,
            had_env=had_env, first=first)
