"""The discrete-event core: arrivals in, per-environment lifetimes and per-event outcomes out.

No processes and no clock: a heap of running executions ordered by when they finish, a heap of idle
environments ordered by the placement policy's rank, and lists indexed by environment. Reaping is
lazy: an idle environment's reap time is known the moment it goes idle, so it is only looked at when
the policy would choose it, and its lifetime is exact either way.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from heapq import heappop, heappush
from itertools import repeat
from math import nextafter

import numpy as np

from lambda_widget.placement import KeepAlive, Placement, cold_reason
from lambda_widget.traffic.service import ServiceTime

_COLD_BLOCK = 4096
_CHUNK = 1 << 18


@dataclass
class Trace:
    """What one run produced: plain arrays and counts, for :class:`SimulationResult` to summarise."""

    arrivals: np.ndarray
    latency_s: np.ndarray            # per served event
    served_at: np.ndarray            # arrival times of served events
    cold_at: np.ndarray              # arrival times of cold starts
    throttled_at: np.ndarray
    env_created: np.ndarray
    env_ended: np.ndarray            # clipped to the duration
    env_provisioned: int
    cold_reasons: dict[str, int] = field(default_factory=dict)
    provisioned_busy_s: float = 0.0  # execution time served by provisioned environments
    unloaded_s: float = 0.0          # pre-warm gaps (hybrid policy): the environment holds no memory
    keep_alive: dict = field(default_factory=dict)


def run(arrivals: np.ndarray, warm: ServiceTime, cold: ServiceTime, keep: KeepAlive, placement: Placement,
        duration: float, rng: np.random.Generator, *, reserved: int | None = None,
        provisioned: int = 0, function: str = "function") -> Trace:
    """Serve every arrival by the placement policy; see the module docstring."""
    n = int(arrivals.size)
    warm_draws = None if warm.constant is not None else warm.draw(n, rng)
    warm_constant = None if warm.constant is None else warm.constant / 1000.0
    cold_pool: list[float] = []

    inf = math.inf
    prewarm, keep_s = keep.windows()
    window = prewarm + keep_s
    learning = not keep.static

    # Per environment: flat arrays (8 bytes each, as with no keep-alive every event makes one), and
    # lists for the two read on every event (a list hands back its objects without boxing).
    created = array("d")
    reap_at: list[float] = []
    warm_from = array("d")
    idle_since = array("d")
    ended = array("d")
    neg_key: list[int] = []
    key_env: dict[int, int] = {}                # -rank -> environment, while it can still serve
    idle: list[int] = []                        # heap of -rank
    done: list[float] = []                      # heap of the times running executions finish
    finishing: dict[float, int] = {}            # ... and which environment each one runs in
    cold_idx: list[int] = []
    cold_s: list[float] = []
    throttled_idx: list[int] = []
    reasons: dict[str, int] = {}
    last_end: str | None = None
    last_done = -1.0  # when the last execution finished (-1: none has yet)
    prov_busy = 0.0
    unloaded = 0.0

    def new_env(t: float, is_provisioned: bool) -> int:
        k = len(created)
        created.append(t)
        reap_at.append(inf)
        warm_from.append(t)
        idle_since.append(t)
        ended.append(inf)
        key = placement.rank_key(is_provisioned, True, k + 1)  # as the engine's idle sets rank
        key_env[-key] = k
        neg_key.append(-key)
        return k

    for _ in range(provisioned):
        heappush(idle, neg_key[new_env(0.0, True)])

    admit = placement.limits.admit
    scale = placement.scale
    pop, push = heappop, heappush
    for first in range(0, n, _CHUNK):  # a chunk at a time: Python floats cost 32 bytes each
        last = min(n, first + _CHUNK)
        times = arrivals[first:last].tolist()
        warm_s = repeat(warm_constant, last - first) if warm_draws is None else warm_draws[first:last].tolist()
        for i, t, s in zip(range(first, last), times, warm_s, strict=True):
            while done and done[0] <= t:
                e = pop(done)
                k = finishing.pop(e)
                if k >= provisioned:
                    reap_at[k] = e + window
                if learning:
                    warm_from[k] = e + prewarm
                    idle_since[k] = e
                    last_done = e
                push(idle, neg_key[k])
            if learning and not done and last_done >= 0:  # an idle time: from the last finish to now
                keep.observe(t - last_done)
                prewarm, keep_s = keep.windows()
                window = prewarm + keep_s
            k = -1
            while idle:
                nk = pop(idle)
                k = key_env[nk]
                if reap_at[k] > t:
                    break
                del key_env[nk]
                ended[k] = reap_at[k]  # reaped while idle, before this event came
                last_end = "idle-timeout"
                if learning:
                    unloaded += warm_from[k] - idle_since[k]
                k = -1
            if k >= 0:
                if learning:
                    if t < warm_from[k]:  # unloaded by the pre-warm policy and not loaded again yet
                        unloaded += t - idle_since[k]
                        if not cold_pool:
                            cold_pool = cold.draw(_COLD_BLOCK, rng).tolist()
                        s = cold_pool.pop()
                        cold_idx.append(i)
                        cold_s.append(s)
                        reasons["unloaded"] = reasons.get("unloaded", 0) + 1
                    else:
                        unloaded += warm_from[k] - idle_since[k]
                if k < provisioned:
                    prov_busy += s
            else:
                why = admit(len(done), reserved)
                if why is None and not scale(function, t):
                    why = "FunctionInvocationRateLimitExceeded"
                if why is not None:
                    throttled_idx.append(i)
                    continue
                reason = cold_reason(live_same_version=bool(done), last_end=last_end,
                                     had_env=bool(created))
                reasons[reason] = reasons.get(reason, 0) + 1
                k = new_env(t, False)
                if not cold_pool:
                    cold_pool = cold.draw(_COLD_BLOCK, rng).tolist()
                s = cold_pool.pop()
                cold_idx.append(i)
                cold_s.append(s)
            e = t + s
            while e in finishing:  # two executions finishing at the same instant: one a hair later
                e = nextafter(e, inf)
            finishing[e] = k
            push(done, e)

    # Whatever is still live ends when its keep-alive would have ended it (or at the horizon).
    for e, k in finishing.items():
        ended[k] = e + window if k >= provisioned else inf
    for nk in idle:
        k = key_env[nk]
        if learning and k >= provisioned:
            unloaded += min(warm_from[k], duration) - min(idle_since[k], duration)
        ended[k] = reap_at[k]

    env_created = np.frombuffer(created, dtype=float).copy()
    env_ended = np.minimum(np.frombuffer(ended, dtype=float), duration)
    latency = np.full(n, warm_constant) if warm_draws is None else warm_draws
    cold_at_idx = np.asarray(cold_idx, dtype=np.int64)
    latency[cold_at_idx] = cold_s
    if throttled_idx:
        served = np.ones(n, dtype=bool)
        served[np.asarray(throttled_idx, dtype=np.int64)] = False
        latency, served_at, throttled_at = latency[served], arrivals[served], arrivals[~served]
    else:
        served_at, throttled_at = arrivals, arrivals[:0]
    return Trace(arrivals=arrivals, latency_s=latency, served_at=served_at,
                 cold_at=arrivals[cold_at_idx], throttled_at=throttled_at,
                 env_created=env_created, env_ended=env_ended, env_provisioned=provisioned,
                 cold_reasons=reasons, provisioned_busy_s=prov_busy, unloaded_s=unloaded,
                 keep_alive=keep.to_dict())
